"""``backend: background``: moving blobs from OpenCV's MOG2 background subtractor.

Needs no weights, so it is the synthetic default (the synthetic anomalies are moving
shapes). MOG2 must see every frame in order; boxes are taken on each clip's centre frame:
the foreground mask (shadows off) is opened with a small kernel, and each connected component
of at least ``min_area`` (fraction of the frame) becomes a box. A blob has no class (label -1);
its score is its *fill ratio*, foreground pixels / box area, in [0, 1]: a compact moving
object scores high, a sparse noisy component low, so the shared score > 0.2 rule drops noise.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator

import numpy as np

from vadflow.detection.base import BoxDetector, Detections, DetectorError, FrameStream, select

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {"history": 200, "var_threshold": 16.0, "learning_rate": -1.0, "min_area": 0.002, "open_kernel": 3}


class BackgroundDetector(BoxDetector):
    backend = "background"
    needs_every_frame = True
    weights_sha256 = "none (OpenCV MOG2)"

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        self.opts = {**DEFAULTS, **(self.cfg.get("background") or {})}
        self.weights_sha256 = f"none (OpenCV MOG2); roi={self.roi.weights_id if self.roi is not None else 'none'}"

    def _subtractor(self):
        import cv2

        return cv2.createBackgroundSubtractorMOG2(history=int(self.opts["history"]),
                                                  varThreshold=float(self.opts["var_threshold"]), detectShadows=False)

    def stream(self) -> "MOG2Stream":
        return MOG2Stream(self)

    def blobs(self, mask: np.ndarray) -> Detections:
        """Boxes of the foreground components of one 0/255 mask."""
        import cv2

        k = int(self.opts["open_kernel"])
        if k > 1:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
        h, w = mask.shape
        min_px = float(self.opts["min_area"]) * h * w
        boxes, scores = [], []
        for x, y, bw, bh, area in stats[1:]:  # component 0 is the background
            if area < min_px:
                continue
            boxes.append([x, y, x + bw, y + bh])
            scores.append(area / float(bw * bh))
        if not boxes:
            return Detections.empty()
        return Detections(np.asarray(boxes, np.float32), np.asarray(scores, np.float32), np.full(len(boxes), -1, np.int32))

    def propose(self, frames: np.ndarray) -> list[Detections]:
        """Frames taken as one sequence (a fresh background model); boxes on every frame."""
        stream = self.stream()
        out = []
        for f in frames:
            stream.push(f)
            out.append(self.blobs(stream.mask))
        return out

    def detect_video(self, video: str, frames: Iterator[tuple[int, np.ndarray]], centres: np.ndarray) -> list[Detections]:
        stream = self.stream()
        want = set(int(c) for c in centres)
        bs = int(self.cfg["batch_size"])
        out: dict[int, Detections] = {}
        pending: list[tuple[int, np.ndarray, Detections]] = []  # centre frames awaiting RoI features

        def flush() -> None:
            # In batches as the video streams by: a long video's centre frames never pile up in memory.
            if pending:
                dets = self.with_features(np.stack([f for _, f, _ in pending]), [d for _, _, d in pending])
                out.update(zip([c for c, _, _ in pending], dets))
                pending.clear()

        for idx, frame in frames:
            stream.push(frame)
            if idx in want:
                pending.append((idx, frame, stream.detect()))
                if len(pending) >= bs:
                    flush()
        missing = sorted(want - set(out) - {c for c, _, _ in pending})
        if missing:
            if stream.frame is None:
                raise DetectorError(f"video {video}: no frame could be decoded")
            log.warning("video %s: centre frames %s were not decoded; using the last decoded frame", video, missing[:5])
            last = stream.detect()
            pending.extend((c, stream.frame, last) for c in missing)
        flush()
        return [out[int(c)] for c in centres]


class MOG2Stream(FrameStream):
    """MOG2 fed every frame in order; :meth:`detect` reads the blobs of the last frame's mask."""

    def __init__(self, det: BackgroundDetector) -> None:
        super().__init__(det)
        self.sub = det._subtractor()
        self.rate = float(det.opts["learning_rate"])
        self.mask: np.ndarray | None = None

    def push(self, frame: np.ndarray) -> None:
        self.frame = frame
        self.mask = self.sub.apply(np.ascontiguousarray(frame[..., ::-1]), learningRate=self.rate)  # OpenCV wants BGR

    def detect(self) -> Detections:
        return select(self.det.blobs(self.mask), self.thresh, self.kmax)
