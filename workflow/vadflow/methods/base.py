"""The one interface every detector implements, and what each kind declares about itself.

A method sees videos only through :class:`VideoData`, which the jobs assemble from the
manifest, the frame labels and the stores (:mod:`vadflow.stores`): clip features, a frame
cache, detections. Methods never open videos and never import extractors, detectors, the
decoder, evaluation, streaming, the config resolution or Snakemake (docs/architecture.md,
"Which way imports go"); a frame cache built with ``test: decode`` decodes its test videos
inside its reader (:class:`vadflow.stores.frames.FrameSource`).

Everything the workflow needs to know about a kind is asked of its class, never decided by
comparing kind names: which config keys name its inputs (:meth:`Method.reads`), which extra
result files it writes (:meth:`Method.outputs`), which config combinations it refuses
(:meth:`Method.problems`, :meth:`Method.check_inputs`) and how it scores a live stream
(:meth:`Method.online`). docs/adding_a_detector.md walks through a new kind.
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

    ``crops`` is ``[C, K, D]`` when the features keep every crop (an extractor with ``crops:
    all``) and the kind reads crops itself (:attr:`Method.reads_crops`); ``features`` is then
    their mean. Else None: :meth:`crop_stack` gives ``features`` as one crop.
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
    crops: np.ndarray | None = None

    def crop_stack(self) -> np.ndarray:
        """``[C, K, D]`` float32: every crop, or the features as the one crop."""
        x = self.crops if self.crops is not None else np.asarray(self.features)[None]
        return np.asarray(x, dtype=np.float32)


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


@dataclass(frozen=True)
class Inputs:
    """What one configured method reads, resolved from its config by :meth:`Method.reads`.

    The config resolution turns each name into a file (``features/{name}.h5``,
    ``frames/{name}.h5``, ``detections/{name}.h5``, ``heads/{name}.pt``) and the train and
    score jobs hand the contents over; nothing else about a kind's inputs is known outside it.
    """

    #: extractors, the main one first: its rows are the method's clips (``VideoData.features``);
    #: the others arrive on the same rows in ``VideoData.extras["streams"]``.
    features: tuple[str, ...] = ()
    #: a ``frames:`` entry (pixel methods read a frame cache instead of features).
    frames: str | None = None
    #: a ``detectors:`` entry whose objects arrive in ``VideoData.extras["objects"]``.
    detections: str | None = None
    #: a ``heads:`` entry: a trained head handed over with :meth:`Method.set_head`.
    head: str | None = None
    #: the validation split's videos at train time (:meth:`Method.set_validation`), when the dataset has them.
    validation: bool = False
    #: the test split's features at train time (:meth:`Method.calibrate`): a transductive step
    #: such as LOF's test-set min-max, kept in the model so scoring needs only model.pt.
    test_at_train: bool = False


#: a config problem: (key, message). The message follows "<key path> = <value>: " and ends with what is allowed.
Problem = tuple[str, str]


class Method(abc.ABC):
    """Base class of every detector kind.

    ``cfg`` is the method's config section after schema defaults are filled in (it is also
    the Snakemake ``params`` of the method's jobs, so editing it reruns exactly this method).

    Class attributes declare the kind as data; the class methods below read them, and a kind
    overrides one only where its inputs or outputs depend on its config.
    """

    kind: ClassVar[str]
    #: feature layouts this method accepts ("clips", "segments32", "sampled_frames", or "frames": a frame cache).
    layouts: ClassVar[tuple[str, ...]] = ("clips",)
    #: name of the set of frame scores :meth:`score` returns (the headline row of the metrics).
    main_set: ClassVar[str] = "main"
    #: "frame": needs temporal labels on training videos; "video": video labels suffice.
    supervision: ClassVar[str] = "frame"
    #: True: ``VideoData.features`` arrive as a lazy view read by clip ranges (stores/features.py
    #: LazyRows), for features too large to hold for a whole training set (ADOR's maps).
    lazy_features: ClassVar[bool] = False
    #: True: with ``crops: all`` features the kind gets every crop in ``VideoData.crops`` and
    #: handles them as its paper does; False: the jobs hand over each crop as its own training
    #: video and average the crops' frame scores (docs/datasets.md, crops).
    reads_crops: ClassVar[bool] = False

    #: config keys whose values name extractors, the main one first (an empty value is no input).
    feature_keys: ClassVar[tuple[str, ...]] = ("features",)
    #: config key naming a ``frames:`` entry (pixel methods), or None.
    frames_key: ClassVar[str | None] = None
    #: config key naming a ``detectors:`` entry, or None.
    detections_key: ClassVar[str | None] = None
    #: config key naming a ``heads:`` entry, or None; values in :attr:`builtin_heads` need no file.
    head_key: ClassVar[str | None] = None
    builtin_heads: ClassVar[tuple[str, ...]] = ()
    #: whether the train job hands over the validation split's videos.
    validation: ClassVar[bool] = False
    #: whether ``train_split: test_folds`` (K models cross-fitted on the annotated test videos) applies.
    test_folds: ClassVar[bool] = True
    #: further result files, by name (vadflow.paths.METHOD_OUTPUTS): "thesis", "video_level", "resources".
    extra_outputs: ClassVar[tuple[str, ...]] = ()

    #: feature dimension the trained model expects (set by ``fit``/``load_state``); None before.
    in_dim: int | None = None

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = dict(cfg)
        #: training videos ``fit`` left out, id -> reason (see :meth:`skip_reason`).
        self.skipped_train: dict[str, str] = {}

    # -- what the kind declares (class methods: no model is built) ----------------------------
    @classmethod
    def reads(cls, cfg: dict[str, Any]) -> Inputs:
        """The inputs of a method configured with ``cfg``, from the declared keys (the kind's
        ``defaults`` fill keys the config leaves out)."""
        cfg = {**getattr(cls, "defaults", {}), **cfg}
        head = cfg.get(cls.head_key) if cls.head_key else None
        return Inputs(
            features=tuple(str(cfg[k]) for k in cls.feature_keys if cfg.get(k)),
            frames=cfg.get(cls.frames_key) if cls.frames_key else None,
            detections=cfg.get(cls.detections_key) if cls.detections_key else None,
            head=None if head in cls.builtin_heads else head,
            validation=cls.validation,
        )

    @classmethod
    def outputs(cls, cfg: dict[str, Any]) -> tuple[str, ...]:
        """The further result files (vadflow.paths.METHOD_OUTPUTS names) a method configured with ``cfg`` writes."""
        return cls.extra_outputs

    @classmethod
    def problems(cls, cfg: dict[str, Any]) -> list[Problem]:
        """Config combinations the schema cannot express that this kind cannot run (torch-free,
        checked for every method on every dataset when Snakemake builds the DAG). Default: none."""
        return []

    @classmethod
    def check_inputs(cls, cfg: dict[str, Any], inputs: dict[str, dict[str, Any]]) -> list[str]:
        """Problems with what the inputs are, given their resolved configs: ``inputs`` maps
        ``"features"`` (and the other feature keys), ``"detections"`` and ``"head"`` to the
        named entry's resolved section (extractors also carry ``layout``). Each message names
        the keys involved. Default: none."""
        return []

    # -- hooks the jobs call (defaults: nothing to do) -----------------------------------------
    def set_validation(self, videos: list[VideoData]) -> None:
        """The validation split's videos, before :meth:`fit` (kinds declaring ``validation``)."""
        self.validation_videos = list(videos)

    def set_head(self, head: Any) -> None:
        """A trained head (kinds with a ``head_key``), before :meth:`fit`."""
        raise MethodError(f"{self.kind} reads no trained head")

    def set_test_videos(self, videos: list[VideoData]) -> None:
        """Before :meth:`fit`, for kinds whose :meth:`reads` sets ``test_at_train``: the test
        videos (e.g. for the papers' test-set checkpoint selection, which the scores then record)."""

    def calibrate(self, test: list[VideoData]) -> None:
        """After :meth:`fit`, for kinds whose :meth:`reads` sets ``test_at_train``: the test
        videos' features (never their labels), for a transductive step kept in the model."""

    def skip_reason(self, video: VideoData) -> str | None:
        """Why this method neither trains on nor scores ``video``, or None (the default: never).

        A method that skips (MIL with ``short_videos: skip_like_seed001``) returns all-zero
        frame scores for such a test video; the score job records it, and the video-level
        metrics leave it out (docs/methods/mil.md §2)."""
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

    def score_attrs(self) -> dict[str, Any]:
        """Constants of the model worth recording beside its scores (scores.h5 attrs). Default: none."""
        return {}

    def online(self) -> Any:
        """How the trained model scores a live stream (``vadflow watch``): a plan of
        :mod:`vadflow.methods.online` (per clip, windows of clips, or per sampled frame),
        which streaming runs on the extractors recorded in :attr:`origin`."""
        raise MethodError(f"vadflow watch does not support kind {self.kind!r}: it defines no online plan")

    def protocol_table(self, test: list[VideoData], head: Any = None):
        """The ``thesis`` output's table (kinds that declare it): the kind's own evaluation
        protocol run on the test videos, as a pandas DataFrame."""
        raise MethodError(f"kind {self.kind} has no protocol of its own")

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
    def load(cls, path: str | Path, blob: dict[str, Any] | None = None) -> "Method":
        """The trained model in ``path`` (``blob``: its contents, already read)."""
        blob = load_model_file(path, cls.kind, blob=blob)
        obj = cls(blob["cfg"])
        with state_errors(path, cls.kind):
            obj.load_state(blob["state"])
        obj.origin = blob.get("origin")
        return obj


REMEDY = "Delete it and rerun its train job (snakemake -R train)"


def read_model_file(path: str | Path) -> dict[str, Any]:
    """A ``model.pt``, read with weights_only (a pickle that could run code is refused)."""
    from vadflow.io import UnsafeFileError, load_torch

    if not Path(path).is_file():
        raise MethodError(f"model file {path} does not exist (train it first: snakemake {path})")
    try:
        blob = load_torch(path, what="model file", remedy=REMEDY)
    except (UnsafeFileError, FileNotFoundError) as exc:
        raise MethodError(str(exc)) from None
    if not isinstance(blob, dict) or "kind" not in blob or "cfg" not in blob:
        raise MethodError(f"{path} is not a vadflow model file (expected a dict with kind and cfg). {REMEDY}")
    _warn_runtime(path, blob.get("meta") or {})
    return blob


def load_model_file(path: str | Path, kind: str, parts: tuple[str, ...] = ("cfg", "state"), blob: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``model.pt`` of ``kind`` holding ``parts`` (``blob``: one already read)."""
    blob = read_model_file(path) if blob is None else blob
    if any(p not in blob for p in parts):
        raise MethodError(f"{path} is not a vadflow model file of this layout (expected {', '.join(parts)}). {REMEDY}")
    if blob.get("kind") != kind:
        raise MethodError(f"{path} holds a model of kind {blob.get('kind')!r}, not {kind!r}. {REMEDY}")
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
