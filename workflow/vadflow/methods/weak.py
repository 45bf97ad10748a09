"""Shared training and scoring of the weakly supervised bag detectors (RTFM, UR-DMU, MGFN).

Each of them trains on video labels only: every step takes as many normal as abnormal training
videos (bags), cut into a fixed number of segments per crop by the paper's own rule, and the
network's loss ranks the abnormal bags' top snippets above the normal ones'. What differs per
paper (network, loss, segment rule, optimiser) lives in its kind's ``core`` module; this module
holds what they share, so the three are compared on the same features, schedule machinery,
checkpoint selection and frame mapping (docs/methods/rtfm.md, urdmu.md, mgfn.md).

* **Bags.** A bag is one video with all its crops ``[C, S, D]`` (RTFM, MGFN: the network
  averages over crops inside), or one (video, crop) pair ``[1, S, D]`` (UR-DMU: every crop file
  is its own training item). ``S`` is the kind's segment count; features are z-scored first
  when ``standardize`` is set (training statistics, kept in the model).
* **Schedule.** ``steps``: each class cycles through its own passes (shuffled or not, last
  partial batch dropped) for ``steps`` iterations, as RTFM's and UR-DMU's re-created loaders do;
  ``epochs``: every epoch zips one pass of each class (MGFN), stopping at the shorter.
* **Checkpoint selection** (``select``). ``last``; ``val_best``: the best frame AUC (or AP) on
  the validation videos every ``eval_every`` steps (epochs), the last step when the dataset has
  none; ``test_best``: the same on the **test** videos, the original papers' protocol. A
  test-selected model says so in its scores' provenance (``selection``), and the evaluation,
  the summary and the report mark every number it produces.
* **Scoring.** The whole test video through the network, crops averaged as the paper does, one
  score per snippet mapped to frames (methods/mapping.py); with ``test_window`` the video is cut
  into half-overlapping windows of that many snippets and merged as ADNet's, which is also how
  ``vadflow watch`` scores a stream (its windows: ``test_window`` or ``online_window``).
"""
from __future__ import annotations

import copy
import logging
import sys
from types import ModuleType
from typing import Any, ClassVar, Iterator

import numpy as np
import torch
from tqdm import tqdm

from vadflow.device import resolve_device
from vadflow.methods import windows
from vadflow.methods.base import Inputs, MethodError, Problem, VideoData
from vadflow.methods.mapping import clip_to_frames
from vadflow.methods.neural import NeuralMethod
from vadflow.methods.online import ClipPlan
from vadflow.methods.scaler import FeatureScaler

log = logging.getLogger(__name__)

SELECT = ("last", "val_best", "test_best")
SELECT_METRICS = ("auc", "ap")

#: vadflow's keys around a kind's own (its core's DEFAULTS): the method config of every weak kind.
WRAPPER: dict[str, Any] = {
    "features": "i3d",
    "fidelity": "paper",
    "seed": 123,
    "device": "auto",
    "standardize": False,
    "select": "val_best",
    "select_metric": "auc",
    "eval_every": 10,
    "test_window": None,
    "online_window": 32,
    "mapping": "average",
}

#: keys of the cores' DEFAULTS that record the original's protocol rather than configure ours:
#: ``select``/``eval_every`` above reproduce it (docs/methods/rtfm.md, "Training protocol").
PROTOCOL_KEYS = ("checkpoint", "test_every", "test_after", "eval_every_epochs", "frames_per_snippet", "lr_schedule",
                 "optimizer", "shuffle", "drop_last", "test_interval")


def core_defaults(core: ModuleType, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A core's DEFAULTS as method config defaults: tuples as lists (JSON), protocol keys left out."""
    out = {}
    for k, v in core.DEFAULTS.items():
        if k in PROTOCOL_KEYS or k in drop:
            continue
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


def passes(n: int, batch: int, shuffle: bool, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Batches of one class, pass after pass: each pass a (shuffled) order cut into full batches."""
    while True:
        order = rng.permutation(n) if shuffle else np.arange(n)
        for a in range(0, n - batch + 1, batch):
            yield order[a : a + batch]


def frame_metric(videos: list[tuple[np.ndarray, np.ndarray]], metric: str) -> float:
    """Pooled frame AUC or AP of ``(labels, scores)`` pairs (the selection metric; the evaluation
    computes the reported metrics with its own code)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    gt = np.concatenate([g for g, _ in videos]).astype(np.int8)
    sc = np.concatenate([s for _, s in videos])
    if gt.min() == gt.max():
        return float("nan")
    return float(roc_auc_score(gt, sc) if metric == "auc" else average_precision_score(gt, sc))


class WeakMethod(NeuralMethod):
    """Base of the weakly supervised bag detectors; a kind sets :attr:`core` and its schedule."""

    layouts: ClassVar[tuple[str, ...]] = ("clips",)
    supervision: ClassVar[str] = "video"
    reads_crops = True
    validation = True
    test_folds = False  # trained on video labels: the training videos' labels suffice
    #: the kind's network, losses, segment rule and optimiser (methods/<kind>/core.py)
    core: ClassVar[ModuleType]
    #: "videos": a bag is a video with all its crops; "crops": every (video, crop) is a bag
    bag_unit: ClassVar[str] = "videos"
    #: "steps" (cycling per-class passes for ``steps`` iterations) or "epochs" (zipped passes)
    schedule: ClassVar[str] = "steps"
    #: the config key of the segments per training bag
    segments_key: ClassVar[str] = "segments"
    #: whether the batches of one class are shuffled between passes
    shuffle: ClassVar[bool] = True
    #: ``fidelity: original``: the settings that reproduce the original code where it departs
    #: from its paper (each kind's docs page lists them)
    original: ClassVar[dict[str, Any]] = {}

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        if self.cfg["select"] not in SELECT:
            raise MethodError(f"{self.kind}: select must be one of {SELECT}, got {self.cfg['select']!r}")
        if self.cfg["fidelity"] not in ("paper", "original"):
            raise MethodError(f"{self.kind}: fidelity must be 'paper' or 'original', got {self.cfg['fidelity']!r}")
        #: what the core functions receive: the config, with the original code's behaviour over it
        #: for ``fidelity: original``
        self.core_cfg = {k: v for k, v in self.cfg.items() if k != "fidelity"}
        if self.cfg["fidelity"] == "original":
            self.core_cfg.update(self.original)
        self.test_videos: list[VideoData] | None = None
        self.validation_videos: list[VideoData] = []
        self.selected: dict[str, Any] = {"selection": self.cfg["select"]}

    # -- what the kind declares ---------------------------------------------------------------
    @classmethod
    def reads(cls, cfg: dict[str, Any]) -> Inputs:
        """``select: test_best`` reads the test videos (and their labels) while training."""
        base = super().reads(cfg)
        if {**cls.defaults, **cfg}["select"] == "test_best":
            return Inputs(features=base.features, validation=base.validation, test_at_train=True)
        return base

    @classmethod
    def problems(cls, cfg: dict[str, Any]) -> list[Problem]:
        c = {**cls.defaults, **cfg}
        out = []
        for key in ("test_window", "online_window"):
            w = c.get(key)
            if isinstance(w, int) and (w < 2 or w % 2):
                out.append((key, "windows overlap by half, so the width must be even; allowed: an even number >= 2"
                                 + (" or null (the whole video)" if key == "test_window" else "")))
        return out

    def set_test_videos(self, videos: list[VideoData]) -> None:
        self.test_videos = list(videos)

    # -- network --------------------------------------------------------------------------------
    def build(self, in_dim: int) -> torch.nn.Module:
        return self.core.build(in_dim, self.core_cfg)

    def _crops(self, video: VideoData) -> np.ndarray:
        """``[C, K, D]`` float32, z-scored when configured, checked against the model's D."""
        if video.layout not in self.layouts:
            raise MethodError(f"{self.kind} needs feature layout {self.layouts}, video {video.id!r} has {video.layout!r}")
        x = video.crop_stack()
        if x.ndim != 3 or x.shape[1] == 0:
            raise MethodError(f"video {video.id!r}: expected crops [C, K>0, D], got shape {list(x.shape)}")
        if self.in_dim is not None and x.shape[2] != self.in_dim:
            raise MethodError(f"video {video.id!r}: feature dim {x.shape[2]}, the model was trained on {self.in_dim}")
        return np.asarray(self.scaler(x), np.float32)

    def bags(self, video: VideoData) -> list[np.ndarray]:
        """The video's training bags: one ``[C, S, D]``, or C of ``[1, S, D]`` (``bag_unit: crops``)."""
        x = self._crops(video)
        n = int(self.cfg[self.segments_key])
        seg = np.stack([self.core.segment(c, n) for c in x])
        return [seg] if self.bag_unit == "videos" else [s[None] for s in seg]

    # -- training -------------------------------------------------------------------------------
    def _batches(self, n_normal: int, n_abnormal: int, batch: int, rng: np.random.Generator) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        if self.schedule == "steps":
            pn, pa = passes(n_normal, batch, self.shuffle, rng), passes(n_abnormal, batch, self.shuffle, rng)
            for step in range(1, int(self.cfg["steps"]) + 1):
                yield step, next(pn), next(pa)
            return
        per_epoch = min(n_normal, n_abnormal) // batch
        step = 0
        for _ in range(int(self.cfg["epochs"])):
            pn, pa = passes(n_normal, batch, self.shuffle, rng), passes(n_abnormal, batch, self.shuffle, rng)
            for _ in range(per_epoch):
                step += 1
                yield step, next(pn), next(pa)

    def _eval_due(self, step: int, n_steps: int) -> bool:
        every = int(self.cfg["eval_every"])
        if self.schedule == "epochs":
            per_epoch = max(1, n_steps // max(1, int(self.cfg["epochs"])))
            every *= per_epoch
        return step % every == 0 or step == n_steps

    def _selection_videos(self) -> list[VideoData]:
        sel = self.cfg["select"]
        if sel == "test_best":
            if not self.test_videos:
                raise MethodError(f"{self.kind} {self.cfg.get('name')!r}: select: test_best needs the test videos at train time")
            return [v for v in self.test_videos if v.frame_labels is not None]
        if sel == "val_best":
            vids = [v for v in self.validation_videos if v.frame_labels is not None]
            if not vids:
                log.warning("%s: select: val_best but the dataset has no validation videos with frame labels; "
                            "the last step is kept", self.kind)
                self.selected["selection"] = "last (no validation videos)"
            return vids
        return []

    def _metric(self, videos: list[VideoData]) -> float:
        return frame_metric([(np.asarray(v.frame_labels).reshape(-1), self.score(v)) for v in videos], self.cfg["select_metric"])

    def train_step(self, opt: torch.optim.Optimizer, normal: torch.Tensor, abnormal: torch.Tensor, step: int) -> dict[str, float]:
        """One optimiser step on ``normal`` and ``abnormal`` bags ``[B, C, S, D]`` (kinds with a
        schedule of their own, such as a per-step learning rate, override this)."""
        total, parts = self.core.loss(self.net, normal, abnormal, self.core_cfg)
        opt.zero_grad()
        total.backward()
        opt.step()
        return parts

    def fit(self, train: list[VideoData]) -> None:
        cfg = self.cfg
        if not train:
            raise MethodError(f"{self.kind}: no training videos")
        self.scaler = FeatureScaler()
        if cfg.get("standardize", False):
            self.scaler.fit([x.reshape(-1, x.shape[-1]) for x in (v.crop_stack() for v in train)])
        self.in_dim = None
        normal = [b for v in train if not v.anomalous for b in self.bags(v)]
        abnormal = [b for v in train if v.anomalous for b in self.bags(v)]
        if not normal or not abnormal:
            raise MethodError(f"{self.kind}: training needs normal and anomalous videos, got {len(normal)} normal and "
                              f"{len(abnormal)} anomalous bags")
        shapes = sorted({str(list(b.shape)) for b in normal + abnormal})
        if len(shapes) != 1:
            raise MethodError(f"{self.kind}: training bags differ in shape {shapes} (crop counts or feature dimensions "
                              "differ between videos)")
        batch = min(int(cfg["batch_size"]), len(normal), len(abnormal))
        if batch < int(cfg["batch_size"]):
            log.warning("%s: %d normal and %d abnormal bags, fewer than batch_size %d: batches of %d per class", self.kind,
                        len(normal), len(abnormal), cfg["batch_size"], batch)
        device = resolve_device(cfg["device"])
        torch.manual_seed(int(cfg["seed"]))
        rng = np.random.default_rng(int(cfg["seed"]))
        self.in_dim = int(normal[0].shape[-1])
        self.net = self.build(self.in_dim).to(device)
        opt = self.core.optimizer(self.net, self.core_cfg)
        xn = torch.from_numpy(np.stack(normal)).to(device)
        xa = torch.from_numpy(np.stack(abnormal)).to(device)
        select_on = self._selection_videos()
        schedule = list(self._batches(len(normal), len(abnormal), batch, rng))
        n_steps = len(schedule)
        best: tuple[float, int, dict] | None = None
        self.history = []
        bar = tqdm(schedule, desc=f"train {self.kind}", disable=not sys.stderr.isatty())
        for step, bn, ba in bar:
            self.net.train()
            parts = self.train_step(opt, xn[torch.from_numpy(bn).to(device)], xa[torch.from_numpy(ba).to(device)], step)
            self.history.append(float(parts.get("total", next(iter(parts.values())))))
            if select_on and self._eval_due(step, n_steps):
                value = self._metric(select_on)
                log.info("%s step %d/%d: loss %.5f, %s %s %.4f", self.kind, step, n_steps, self.history[-1], cfg["select"],
                         cfg["select_metric"], value)
                if best is None or value > best[0]:
                    best = (value, step, copy.deepcopy(self.net.state_dict()))
        if best is not None:
            self.net.load_state_dict(best[2])
            self.selected.update(selected_step=best[1], selection_metric=cfg["select_metric"], selection_value=round(best[0], 6))
            log.info("%s: kept step %d of %d (%s %s %.4f)", self.kind, best[1], n_steps, cfg["select"], cfg["select_metric"], best[0])
        else:
            self.selected.update(selected_step=n_steps)
        self.net.eval()

    # -- scoring ----------------------------------------------------------------------------------
    def snippet_scores(self, x: np.ndarray) -> np.ndarray:
        """Scores ``[K]`` of crops ``[C, K, D]`` (already z-scored): the whole video, or windows
        of ``test_window`` snippets merged as ADNet's."""
        if self.net is None:
            raise MethodError(f"{self.kind}: score() called before fit() or load()")
        width = self.cfg.get("test_window")
        if not width:
            return np.asarray(self.core.snippet_scores(self.net, torch.from_numpy(np.ascontiguousarray(x))), np.float64)
        k = x.shape[1]
        cut = windows.split(np.ascontiguousarray(x.transpose(1, 0, 2)), int(width))  # [n_windows, W, C, D]
        rows = [self.window_rows(w.transpose(1, 0, 2)) for w in cut]
        return windows.merge(np.stack(rows), k, int(width))

    def window_rows(self, x: np.ndarray) -> np.ndarray:
        """Scores ``[W]`` of one window of crops ``[C, W, D]`` (zero rows past the end, as offline)."""
        return np.asarray(self.core.snippet_scores(self.net, torch.from_numpy(np.ascontiguousarray(x, np.float32))), np.float64)

    def score(self, video: VideoData) -> np.ndarray:
        s = self.snippet_scores(self._crops(video))
        return clip_to_frames(s, video.n_frames, video.clip_len, video.stride, self.cfg.get("mapping", "average"))

    def score_attrs(self) -> dict[str, Any]:
        """How the checkpoint was chosen (``selection``: test_best marks every number as test-selected)."""
        return dict(self.selected)

    def online(self) -> ClipPlan:
        """Windows of ``test_window`` (else ``online_window``) snippets over the stream's one crop."""
        if self.net is None:
            raise MethodError(f"{self.kind}: online() called before fit() or load()")
        width = int(self.cfg.get("test_window") or self.cfg["online_window"])
        return ClipPlan(row=lambda feature, objects=None: np.asarray(self.scaler(feature[None])[0], np.float32),
                        window=width, window_scores=lambda xs, ms: np.stack([self.window_rows(x[None]) for x in xs]),
                        mapping=self.cfg.get("mapping", "average"))

    # -- state ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {**super().state(), "selected": {k: (str(v) if isinstance(v, str) else v) for k, v in self.selected.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.selected = dict(state.get("selected", {"selection": self.cfg["select"]}))
