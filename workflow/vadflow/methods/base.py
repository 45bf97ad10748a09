"""The one interface every detector implements.

A method sees videos only through :class:`VideoData`, which the CLI assembles from the
manifest, the frame labels and a feature store (or, for pixel methods, a frame cache).
Methods never open videos, never import extractors, the decoder, Snakemake or evaluation
code (see DESIGN.md, "Which way imports go"); a frame cache built with ``test: decode``
decodes its test videos inside its reader (:class:`vadflow.stores.frames.FrameSource`).
"""
from __future__ import annotations

import abc
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np


@dataclass
class VideoData:
    """One video as a method sees it.

    ``features`` is ``[K, D]`` float32. With ``layout == "clips"`` clip *i* covers frames
    ``[i*stride, i*stride + clip_len)``; with ``"segments32"`` row *i* is a temporal segment.
    ``frame_labels`` is the 0/1 ground truth of length ``n_frames`` where temporal
    annotations exist (always for test videos, for training videos only on datasets that
    annotate them), else ``None``. ``anomalous`` is the video-level label.
    With ``layout == "frames"`` (a frame cache, for methods that read pixels) ``features`` is
    empty and ``frames`` is the video's :class:`~vadflow.stores.frames.FrameSource`: its
    uint8 frames, read or decoded on demand, and the frame numbers they come from.
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
    frames: Any = None


class MethodError(RuntimeError):
    """A method cannot run on the data it was given; the message says why and what to do."""


def layout_error(method: str, kind: str, extractor: str, layout: str, accepted: tuple[str, ...], where: str = "") -> str:
    """The one message for features of a layout a method does not accept (config check and loader)."""
    if "frames" in (layout, *accepted):
        hint = "pixel methods (svdd_cae) read a frame cache named by methods.<m>.frames; clip methods read features"
    else:
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
    #: feature layouts this method accepts ("clips" and/or "segments32", or "frames": a frame cache).
    layouts: ClassVar[tuple[str, ...]] = ("clips",)
    #: name of the set of frame scores :meth:`score` returns (the headline row of the metrics).
    main_set: ClassVar[str] = "main"
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

    def score_sets(self) -> dict[str, dict[str, np.ndarray]]:
        """Further named sets ``{set: {video: frame scores}}`` gathered while scoring (other
        protocols of the same model); the evaluate job reports each beside the headline.
        Default: none."""
        return {}

    def score_logs(self) -> dict[str, dict[str, np.ndarray]]:
        """Per-frame values ``{name: {video: values}}`` kept in scores.h5 for inspection, not
        evaluated. Default: none."""
        return {}

    def finalize_scores(self, scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Called once by the score job with every test video's frame scores; a method that
        normalises over the whole test set (e.g. LOF's min-max) overrides this. Default: as is."""
        return scores

    def save(self, path: str | Path) -> None:
        """Write the model atomically, with ``meta``: the library versions and thread counts
        it was trained with (bit-identical results need the same ones, README "Reproducibility")."""
        from vadflow.device import runtime_info
        from vadflow.io import save_torch

        blob = {"kind": self.kind, "cfg": self.cfg, "state": self.state(), "meta": runtime_info()}
        if self.origin:
            blob["origin"] = self.origin
        save_torch(blob, path)

    #: what produced the method's inputs (``{"features": [stores.features.origin(...), ...],
    #: "detections": {...}}``, set by the train job): ``vadflow watch`` rebuilds the online
    #: extractors from it.
    origin: dict[str, Any] | None = None

    @classmethod
    def load(cls, path: str | Path) -> "Method":
        blob = load_model_file(path, cls.kind)
        obj = cls(blob["cfg"])
        with state_errors(path, cls.kind):
            obj.load_state(blob["state"])
        obj.origin = blob.get("origin")
        return obj


def load_model_file(path: str | Path, kind: str, parts: tuple[str, ...] = ("cfg", "state")) -> dict[str, Any]:
    """A ``model.pt`` of ``kind``, read with weights_only (a pickle that could run code is refused)."""
    from vadflow.io import UnsafeFileError, load_torch

    remedy = "Delete it and rerun its train job (snakemake -R train)"
    try:
        blob = load_torch(path, what="model file", remedy=remedy)
    except (UnsafeFileError, FileNotFoundError) as exc:
        raise MethodError(str(exc)) from None
    if not isinstance(blob, dict) or any(p not in blob for p in parts):
        raise MethodError(f"{path} is not a vadflow model file (expected a dict with {', '.join(parts)}). {remedy}")
    if blob.get("kind") != kind:
        raise MethodError(f"{path} holds a model of kind {blob.get('kind')!r}, not {kind!r}. {remedy}")
    _warn_runtime(path, blob.get("meta") or {})
    return blob


@contextlib.contextmanager
def state_errors(path: str | Path, kind: str) -> Iterator[None]:
    """A saved state that does not fit the model (missing or unexpected keys, wrong shapes)
    becomes a MethodError naming the file; torch's message lists the keys."""
    try:
        yield
    except MethodError as exc:
        raise MethodError(f"{path}: {exc}") from None
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as exc:
        raise MethodError(f"{path} does not fit a model of kind {kind}: {type(exc).__name__}: {exc}; "
                          "delete it and rerun its train job") from None


def _warn_runtime(path: str | Path, meta: dict[str, Any]) -> None:
    if not meta:
        return
    from vadflow.device import runtime_info

    now = runtime_info()
    differ = {k: (meta.get(k), now[k]) for k in ("torch", "numpy", "threads") if k in meta and meta.get(k) != now[k]}
    if differ:
        logging.getLogger(__name__).warning(
            "%s was trained with %s; this job runs %s: scores may differ in the last bits (README, Reproducibility)",
            path, ", ".join(f"{k} {a}" for k, (a, _) in differ.items()), ", ".join(f"{k} {b}" for k, (_, b) in differ.items()))
