"""The detector contract (docs/methods/ador.md §3) and the post-processing every backend shares.

A detector sees RGB uint8 frames ``[B, H, W, 3]`` and returns one :class:`Detections` per
frame: pixel boxes ``(x1, y1, x2, y2)``, scores in [0, 1] (after its own NMS), class ids
(-1 if unknown) and one feature vector per box. The pipeline then keeps score > 0.2, sorts
by score and keeps at most 36 (:func:`select`), identically for every backend.

Backends that only find boxes (``onnx``, ``hog_person``, ``background``) get their per-box
features from :class:`vadflow.detection.roi_features.RoIFeatures` (ResNet-50 layer4 +
RoIAlign). Post-processing runs *before* the features are pooled, so only the kept boxes
cost a RoIAlign; a box's feature does not depend on the other boxes, so the result is the
same as pooling every box first.
"""
from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Iterator

import numpy as np

log = logging.getLogger(__name__)

#: defaults of every ``detectors.<name>`` section (the schema's `detector` block mirrors these).
DEFAULTS: dict[str, Any] = {
    "score_thresh": 0.2,
    "max_objects": 36,
    "resize": None,
    "batch_size": 16,
    "device": "auto",
    "decoder": "auto",
    "roi": {"weights": "random", "seed": 0, "preprocess": "imagenet", "output_size": 7, "sampling_ratio": 2, "features": True},
}


class DetectorError(ValueError):
    """A detector cannot run as configured (missing model file, bad format); says what to set."""


@dataclass
class Detections:
    """One frame's detections: ``boxes`` [K, 4] pixels, ``scores`` [K], ``labels`` [K], ``feats`` [K, D]."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    feats: np.ndarray | None = None

    @classmethod
    def empty(cls, dim: int = 0) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32),
                   np.zeros((0, dim), np.float32))

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, idx: np.ndarray) -> "Detections":
        return Detections(self.boxes[idx], self.scores[idx], self.labels[idx], None if self.feats is None else self.feats[idx])


def select(det: Detections, score_thresh: float = 0.2, max_objects: int = 36) -> Detections:
    """Keep score > ``score_thresh`` (strictly), sorted by score descending, at most ``max_objects``.

    Ties keep the detector's order (stable sort), so the result is deterministic.
    """
    scores = np.asarray(det.scores, dtype=np.float32).reshape(-1)
    keep = np.flatnonzero(scores > score_thresh)
    order = keep[np.argsort(-scores[keep], kind="stable")][:max_objects]
    return Detections(np.asarray(det.boxes, np.float32).reshape(-1, 4)[order], scores[order],
                      np.asarray(det.labels, np.int32).reshape(-1)[order],
                      None if det.feats is None else np.asarray(det.feats, np.float32)[order])


def pack(dets: list[Detections], max_objects: int, dim: int, frame_hw: tuple[int, int]) -> dict[str, np.ndarray]:
    """Selected detections of T frames -> the stored arrays, padded to ``max_objects`` with zeros.

    Boxes are normalised to the frame (x / W, y / H), clipped to [0, 1].
    """
    t = len(dets)
    out = {
        "boxes": np.zeros((t, max_objects, 4), np.float32),
        "scores": np.zeros((t, max_objects), np.float32),
        "labels": np.full((t, max_objects), -1, np.int32),
        "feats": np.zeros((t, max_objects, dim), np.float32),
        "valid": np.zeros((t, max_objects), bool),
    }
    h, w = frame_hw
    scale = np.array([w, h, w, h], np.float32)
    for i, d in enumerate(dets):
        k = len(d)
        if k > max_objects:
            raise ValueError(f"pack: {k} detections in frame {i}, more than max_objects={max_objects}; select() first")
        if k == 0:
            continue
        if d.feats is None or d.feats.shape != (k, dim):
            raise ValueError(f"pack: frame {i} has features {None if d.feats is None else d.feats.shape}, expected ({k}, {dim})")
        out["boxes"][i, :k] = np.clip(d.boxes / scale, 0.0, 1.0)
        out["scores"][i, :k] = d.scores
        out["labels"][i, :k] = d.labels
        out["feats"][i, :k] = d.feats
        out["valid"][i, :k] = True
    return out


def centre_frames(n_clips: int, n_frames: int, clip_len: int, stride: int) -> np.ndarray:
    """Centre frame of every clip, ``i * stride + clip_len // 2`` (docs/methods/ador.md §2: 16i + 8),
    clamped to the last frame (a video shorter than one clip is one padded clip)."""
    return np.minimum(np.arange(n_clips, dtype=np.int64) * stride + clip_len // 2, n_frames - 1)


class Detector(abc.ABC):
    """Base of every backend. ``cfg`` is one ``detectors.<name>`` section (schema defaults in)."""

    backend: ClassVar[str]
    #: False for backends that never look at pixels (``precomputed``, ``none``): no decoding.
    needs_frames: ClassVar[bool] = True
    #: True when the detector must see every frame in order (background subtraction).
    needs_every_frame: ClassVar[bool] = False

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = {**DEFAULTS, **cfg, "roi": {**DEFAULTS["roi"], **(cfg.get("roi") or {})}}
        self.name = str(self.cfg.get("name", self.backend))

    #: per-box feature size D_o.
    feature_dim: int = 0
    #: what identifies the detector's weights in the file attrs ("random-init", a sha256, ...).
    weights_sha256: str = "none"
    #: class names by label id, when the backend knows them.
    class_names: list[str] = []

    @abc.abstractmethod
    def detect(self, frames: np.ndarray) -> list[Detections]:
        """uint8 RGB ``[B, H, W, 3]`` -> one :class:`Detections` per frame, boxes in pixels."""

    def detect_selected(self, frames: np.ndarray) -> list[Detections]:
        """:meth:`detect` followed by :func:`select` (a backend may fuse the two)."""
        thresh, k = float(self.cfg["score_thresh"]), int(self.cfg["max_objects"])
        return [select(d, thresh, k) for d in self.detect(frames)]

    def detect_video(self, video: str, frames: Iterator[tuple[int, np.ndarray]], centres: np.ndarray) -> list[Detections]:
        """Selected detections on the ``centres`` frames of one video.

        ``frames`` yields ``(index, frame)`` in order: every frame when :attr:`needs_every_frame`,
        else only the centre frames. Centre frames go through :meth:`detect_selected` in batches.
        """
        want = {int(c): [] for c in centres}
        for j, c in enumerate(centres.tolist()):
            want[c].append(j)
        out: list[Detections | None] = [None] * len(centres)
        batch: list[tuple[int, np.ndarray]] = []

        def flush() -> None:
            if not batch:
                return
            dets = self.detect_selected(np.stack([f for _, f in batch]))
            for (c, _), d in zip(batch, dets):
                for j in want[c]:
                    out[j] = d
            batch.clear()

        last = None
        for idx, frame in frames:
            last = frame
            if idx in want:
                batch.append((idx, frame))
                if len(batch) >= int(self.cfg["batch_size"]):
                    flush()
        missing = sorted({int(centres[j]) for j, d in enumerate(out) if d is None})
        if missing:
            if last is None:
                raise DetectorError(f"video {video}: no frame could be decoded")
            # As extraction pads a short clip with the last frame, a centre past the decoded
            # end (the probe over-counted) is detected on the last decoded frame.
            log.warning("video %s: centre frames %s were not decoded; using the last decoded frame", video, missing[:5])
            batch.extend((c, last) for c in missing)
        flush()
        return out  # type: ignore[return-value]

    def frame_size(self, video: str) -> tuple[int, int] | None:
        """(H, W) of the frames boxes refer to, for backends that do not decode (else None)."""
        return None

    @classmethod
    def live_error(cls, name: str) -> str | None:
        """Why this backend cannot detect on a live stream (``vadflow watch``), or None if it can."""
        if cls.needs_frames or cls.backend == "none":
            return None
        return (f"detector {name!r} (backend {cls.backend}) imports detections made elsewhere; it cannot detect on a live "
                "stream. Score such a model offline (snakemake), or train it on a detector that reads frames "
                "(background, hog_person, onnx)")

    def stream(self) -> "FrameStream":
        """A fresh per-video :class:`FrameStream` (``vadflow watch``; background detection offline)."""
        raise DetectorError(self.live_error(self.name) or f"backend {self.backend} has no per-frame stream")

    def with_features(self, frames: np.ndarray, dets: list[Detections]) -> list[Detections]:
        """``dets`` of ``frames`` with their per-box features (backends that find their own features: as given)."""
        return dets


class FrameStream:
    """One video's frames, pushed in order, through a detector: :meth:`detect` gives the selected
    detections (no per-box features) of the last frame pushed. Offline detection of a detector
    that must see every frame and ``vadflow watch`` both go through it, so the two see the same
    frames in the same order and apply the same post-processing."""

    def __init__(self, det: "BoxDetector") -> None:
        self.det = det
        self.thresh, self.kmax = float(det.cfg["score_thresh"]), int(det.cfg["max_objects"])
        self.frame: np.ndarray | None = None

    def push(self, frame: np.ndarray) -> None:
        self.frame = frame

    def detect(self) -> Detections:
        return select(self.det.propose(self.frame[None])[0], self.thresh, self.kmax)


class _EmptyStream(FrameStream):
    """``backend: none``: nothing is ever found, so no frame is kept."""

    def __init__(self, det: "NoDetector") -> None:
        self.det, self.frame = det, None

    def push(self, frame: np.ndarray) -> None:
        pass

    def detect(self) -> Detections:
        return Detections.empty(self.det.feature_dim)


class NoDetector(Detector):
    """``backend: none``: zero objects in every frame (docs/methods/ador.md §3 (b)); the object stream
    then holds only [CLS_o]."""

    backend = "none"
    needs_frames = False
    weights_sha256 = "none"

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        self.feature_dim = int(self.cfg.get("feature_dim", 2048))

    def detect(self, frames: np.ndarray) -> list[Detections]:
        return [Detections.empty(self.feature_dim) for _ in range(len(frames))]

    def detect_video(self, video: str, frames: Iterable, centres: np.ndarray) -> list[Detections]:
        return [Detections.empty(self.feature_dim) for _ in range(len(centres))]

    def frame_size(self, video: str) -> tuple[int, int] | None:
        return (1, 1)  # boxes are never read; normalised coordinates need no real size

    def stream(self) -> FrameStream:
        return _EmptyStream(self)


class BoxDetector(Detector):
    """A backend that finds boxes; per-box features come from ResNet-50 layer4 + RoIAlign."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        from vadflow.detection.roi_features import RoIFeatures

        # roi.features: false skips the CNN: a bag of objects (realtime) needs classes, not features.
        self.roi = RoIFeatures(self.cfg["roi"], device=self.cfg["device"], name=self.name) if self.cfg["roi"].get("features", True) else None
        self.feature_dim = self.roi.dim if self.roi is not None else 0

    @abc.abstractmethod
    def propose(self, frames: np.ndarray) -> list[Detections]:
        """Boxes, scores and labels per frame (no features)."""

    def detect(self, frames: np.ndarray) -> list[Detections]:
        return self.with_features(frames, self.propose(frames))

    def detect_selected(self, frames: np.ndarray) -> list[Detections]:
        thresh, k = float(self.cfg["score_thresh"]), int(self.cfg["max_objects"])
        return self.with_features(frames, [select(d, thresh, k) for d in self.propose(frames)])

    def stream(self) -> FrameStream:
        return FrameStream(self)

    def with_features(self, frames: np.ndarray, dets: list[Detections]) -> list[Detections]:
        if self.roi is None:
            return [Detections(d.boxes, d.scores, d.labels, np.zeros((len(d), 0), np.float32)) for d in dets]
        feats = self.roi(frames, [d.boxes for d in dets])
        return [Detections(d.boxes, d.scores, d.labels, f) for d, f in zip(dets, feats)]
