"""The one interface every detector implements.

A method sees videos only through :class:`VideoData`, which the CLI assembles from the
manifest, the frame labels and a feature store. Methods never open videos, never import
extractors, Snakemake or evaluation code (see DESIGN.md, "Which way imports go").
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


@dataclass
class VideoData:
    """One video as a method sees it.

    ``features`` is ``[K, D]`` float32. With ``layout == "clips"`` clip *i* covers frames
    ``[i*stride, i*stride + clip_len)``; with ``"segments32"`` row *i* is a temporal segment.
    ``frame_labels`` is the 0/1 ground truth of length ``n_frames`` where temporal
    annotations exist (always for test videos, for training videos only on datasets that
    annotate them), else ``None``. ``anomalous`` is the video-level label.
    """

    id: str
    features: np.ndarray
    n_frames: int
    clip_len: int
    stride: int
    anomalous: bool
    cls: str = "Normal"
    frame_labels: np.ndarray | None = None
    layout: str = "clips"
    extras: dict[str, Any] = field(default_factory=dict)


class MethodError(RuntimeError):
    """A method cannot run on the data it was given; the message says why and what to do."""


def layout_error(method: str, kind: str, extractor: str, layout: str, accepted: tuple[str, ...], where: str = "") -> str:
    """The one message for features of a layout a method does not accept (config check and loader)."""
    hint = ("32-segment features (e.g. imported Sultani txt) suit only kinds that declare segments32, such as mil"
            if layout == "segments32" else "this kind reads 32-segment bags only")
    return (f"method {method!r} (kind {kind}) accepts feature layouts {list(accepted)}, but extractor {extractor!r}"
            f"{' (' + where + ')' if where else ''} has layout {layout!r}: {hint}; point methods.{method}.features "
            f"at an extractor with a matching layout")


class Method(abc.ABC):
    """Base class of every detector kind.

    ``cfg`` is the method's config section after schema defaults are filled in (it is also
    the Snakemake ``params`` of the method's jobs, so editing it reruns exactly this method).
    """

    kind: ClassVar[str]
    #: feature layouts this method accepts ("clips" and/or "segments32").
    layouts: ClassVar[tuple[str, ...]] = ("clips",)
    #: "frame": needs temporal labels on training videos; "video": video labels suffice.
    supervision: ClassVar[str] = "frame"

    #: True: ``VideoData.features`` arrive as a lazy view read by clip ranges (features/store.py
    #: LazyRows), for features too large to hold for a whole training set (ADOR's maps).
    lazy_features: ClassVar[bool] = False

    #: feature dimension the trained model expects (set by ``fit``/``load_state``); None before.
    in_dim: int | None = None

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = dict(cfg)
        #: training videos ``fit`` left out, id -> reason (see :meth:`skip_reason`).
        self.skipped_train: dict[str, str] = {}

    def skip_reason(self, video: VideoData) -> str | None:
        """Why this method neither trains on nor scores ``video``, or None (the default: never).

        A method that skips (MIL with ``short_videos: skip_like_seed001``) returns all-zero
        frame scores for such a test video; the score job records it, and the video-level
        metrics leave it out (specs/mil.md §2)."""
        return None

    def checked_features(self, video: VideoData) -> np.ndarray:
        """The video's features as float32 ``[K>0, D]``, after checking its layout is one this
        method accepts and, once trained, that D is the model's; the error names the video."""
        if video.layout not in self.layouts:
            raise MethodError(f"{self.kind} needs feature layout {self.layouts}, video {video.id!r} has {video.layout!r}")
        x = np.asarray(video.features, dtype=np.float32)
        if x.ndim != 2 or len(x) == 0:
            raise MethodError(f"video {video.id!r}: expected features [K>0, D], got shape {list(x.shape)}")
        if self.in_dim is not None and x.shape[1] != self.in_dim:
            raise MethodError(f"video {video.id!r}: feature dim {x.shape[1]}, model was trained on {self.in_dim}")
        return x

    @abc.abstractmethod
    def fit(self, train: list[VideoData]) -> None:
        """Train on the training videos (status ok, features loaded)."""

    @abc.abstractmethod
    def score(self, video: VideoData) -> np.ndarray:
        """Frame scores, float array of length ``video.n_frames``; higher = more anomalous."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the trained model (tensors, arrays, plain values)."""

    @abc.abstractmethod
    def load_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state`."""

    def finalize_scores(self, scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Called once by the score job with every test video's frame scores; a method that
        normalises over the whole test set (e.g. LOF's min-max) overrides this. Default: as is."""
        return scores

    def save(self, path: str | Path) -> None:
        import torch

        from vadflow.io import atomic_path

        blob = {"kind": self.kind, "cfg": self.cfg, "state": self.state()}
        if self.origin:
            blob["origin"] = self.origin
        with atomic_path(path) as tmp:
            torch.save(blob, tmp)

    #: what produced the method's inputs (``{"features": [features.store.origin(...), ...],
    #: "detections": {...}}``, set by the train job): ``vadflow watch`` rebuilds the online
    #: extractors from it.
    origin: dict[str, Any] | None = None

    @classmethod
    def load(cls, path: str | Path) -> "Method":
        import torch

        blob = torch.load(path, map_location="cpu", weights_only=True)
        obj = cls(blob["cfg"])
        obj.load_state(blob["state"])
        obj.origin = blob.get("origin")
        return obj
