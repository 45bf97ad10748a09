"""Real-time two-stream detector (seed document 003, docs/methods/realtime.md): a supervised per-frame
classifier on [RGB GAP ‖ flow GAP ‖ bag of objects] with a 2-layer 4096-wide fusion head.

Inputs come per sampled frame from per-frame extractors (layout ``sampled_frames``,
features/sampled.py): ``features`` is the RGB stream, ``flow_features`` the motion stream (a
ResNet-50 on flow images; null = one stream), ``detections`` the bag of objects (null = no bag).
The variants of the spec's table are switches of this one kind: ``flow_features`` (2S/1S),
``detections`` (bag/no-bag), ``alpha`` (hard mining, 1 = none), ``soft`` (``exclude`` = -ha),
``early_stopping`` (false = no-es).

Training is stage 1 of docs/methods/realtime.md §6 on the cached GAP features: frozen backbones, head only, exact
because nothing is augmented. Stage 2 (fine-tuning the backbones) needs pixels; its model and
freezing rules are :class:`TwoStreamNet` and :func:`set_stage`, tested on tiny inputs but not
run by the workflow (see the module's README entry).

Scores: per frame sigma_t = p(anomaly), computed on the frames of the test grid whose index is
a multiple of ``test_stride`` and held until the next scored frame (docs/methods/realtime.md §7, A9). The SAS alarm
(``vadflow.sas``) is derived from these by the evaluation and by ``vadflow watch``.
"""
from __future__ import annotations

import copy
import json
import logging
import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vadflow.device import resolve_device
from vadflow.methods.base import Method, MethodError, VideoData
from vadflow.methods.online import FramePlan
from vadflow.methods.scaler import FeatureScaler

log = logging.getLogger(__name__)

NORMAL, SOFT, HARD = 0, 1, 2
SOFT_POLICIES = ("normal", "exclude")
EXCLUDED = -1


# ----------------------------------------------------------------------------- labels, sampling
def frame_classes(video: VideoData) -> np.ndarray:
    """int8 per frame: HARD where the frame label is 1, SOFT for the other frames of an anomalous
    video, NORMAL for every frame of a normal video (docs/methods/realtime.md §5; A12 without UCFCrime2Local, where
    the temporal annotation's intervals are the hard frames)."""
    n = int(video.n_frames)
    if not video.anomalous:
        return np.full(n, NORMAL, dtype=np.int8)
    if video.frame_labels is None:
        raise MethodError(
            f"anomalous training video {video.id!r} has no frame labels; the real-time method is trained on "
            "per-frame labels. Give the dataset temporal annotations of its training videos (UCFCrime2Local vatic "
            "files: datasets.<name>.ucfcrime2local.path; or UCF-Crime V2), or set train_split: test_folds")
    lab = np.asarray(video.frame_labels).reshape(-1)[:n] > 0
    return np.where(lab, HARD, SOFT).astype(np.int8)


def policy_labels(classes: np.ndarray, soft: str = "normal", training: bool = True) -> np.ndarray:
    """0/1 labels, or EXCLUDED (-1) for soft frames under ``soft: exclude`` (the -ha variants) in
    training and validation; at test time every policy labels soft frames 0 (docs/methods/realtime.md §5 table)."""
    if soft not in SOFT_POLICIES:
        raise MethodError(f"realtime: soft must be one of {SOFT_POLICIES}, got {soft!r}")
    out = (np.asarray(classes) == HARD).astype(np.int64)
    if training and soft == "exclude":
        out[np.asarray(classes) == SOFT] = EXCLUDED
    return out


def adaptive_keep(frame_index: np.ndarray, hard: np.ndarray, steps: tuple[int, int] = (3, 10)) -> np.ndarray:
    """Adaptive sampling on the global frame grid (docs/methods/realtime.md §5): keep a hard frame when its index is a
    multiple of ``steps[0]``, any other frame when it is a multiple of ``steps[1]``."""
    j = np.asarray(frame_index)
    hard = np.asarray(hard, dtype=bool)
    return np.where(hard, j % int(steps[0]) == 0, j % int(steps[1]) == 0)


# ----------------------------------------------------------------------------- loss, mining
def keras_weighted_ce(logits: torch.Tensor, y: torch.Tensor, class_weight: torch.Tensor) -> torch.Tensor:
    """(1/K)·Σ_b w_{y_b}·CE_b: Keras ``class_weight`` semantics, divided by the batch size K,
    not by Σw as ``F.cross_entropy(weight=)`` does (docs/methods/realtime.md §4)."""
    ce = F.cross_entropy(logits, y, reduction="none")
    return (class_weight.to(ce.dtype)[y] * ce).sum() / len(y)


def mining_steps(n: int, alpha: int, k: int) -> int:
    """Steps per epoch: ⌊N / (αK)⌋, the remainder dropped (docs/methods/realtime.md §5)."""
    return n // (int(alpha) * int(k))


def hardest(losses: torch.Tensor | np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest losses (ties: the earlier candidate first)."""
    loss = np.asarray(losses.detach().cpu() if isinstance(losses, torch.Tensor) else losses, dtype=np.float64)
    order = np.argsort(-loss, kind="stable")
    return np.sort(order[:k])


def mined_batch(net: nn.Module, x: torch.Tensor, y: torch.Tensor, cand: torch.Tensor, k: int,
                gen: torch.Generator) -> torch.Tensor:
    """The training batch from ``cand`` (alpha·K candidate rows): their unweighted CE in inference
    mode (dropout off), the K largest kept and shuffled (docs/methods/realtime.md §5). With K candidates (alpha = 1)
    they are the batch as they are, without an inference pass."""
    if len(cand) <= k:
        return cand
    was_training = net.training
    net.eval()
    with torch.no_grad():
        losses = F.cross_entropy(net(x[cand]), y[cand], reduction="none")
    net.train(was_training)
    keep = torch.from_numpy(hardest(losses, k)).to(cand.device)
    return cand[keep][torch.randperm(k, generator=gen).to(cand.device)]


# ----------------------------------------------------------------------------- networks
class FusionHead(nn.Module):
    """[RGB ‖ flow ‖ BoO] -> FC 4096 ReLU Dropout -> FC 4096 ReLU Dropout -> 2 logits (docs/methods/realtime.md §3);
    Keras Dense init (glorot-uniform kernels, zero biases)."""

    def __init__(self, in_dim: int, hidden: int = 4096, dropout: float = 0.5) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 2)
        self.drop = nn.Dropout(dropout)
        for fc in (self.fc1, self.fc2, self.out):
            nn.init.xavier_uniform_(fc.weight)
            nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(F.relu(self.fc1(x)))
        h = self.drop(F.relu(self.fc2(h)))
        return self.out(h)


class TwoStreamNet(nn.Module):
    """The whole model of docs/methods/realtime.md §3 for stage 2 and the -scratch variants: frame trunks (modules
    with ``frame_features``: ``[N, 3, H, W] -> [N, 2048]``) + the fusion head. The trunks are
    passed in, so this module does not depend on the feature extractors."""

    def __init__(self, rgb: nn.Module, flow: nn.Module | None, head: FusionHead) -> None:
        super().__init__()
        self.rgb = rgb
        self.flow = flow
        self.head = head

    def forward(self, rgb: torch.Tensor, flow: torch.Tensor | None = None, boo: torch.Tensor | None = None) -> torch.Tensor:
        parts = [self.rgb.frame_features(rgb)]
        if self.flow is not None:
            parts.append(self.flow.frame_features(flow))
        if boo is not None:
            parts.append(boo)
        return self.head(torch.cat(parts, dim=1))

    def trunks(self) -> list[nn.Module]:
        return [m for m in (self.rgb, self.flow) if m is not None]


def set_stage(net: TwoStreamNet, stage: int) -> list[nn.Parameter]:
    """Freeze per docs/methods/realtime.md §6 and return the parameters to optimise.

    Stage 1: the trunks are frozen, head only. Stage 2: everything trains except batch norm,
    whose affine parameters are frozen and whose running statistics stay fixed (call
    :func:`train_mode` before each step: it keeps BN layers in eval mode).
    """
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage}")
    for trunk in net.trunks():
        for m in trunk.modules():
            bn = isinstance(m, nn.modules.batchnorm._BatchNorm)
            for p in m.parameters(recurse=False):
                p.requires_grad_(stage == 2 and not bn)
    for p in net.head.parameters():
        p.requires_grad_(True)
    return [p for p in net.parameters() if p.requires_grad]


def train_mode(net: TwoStreamNet, stage: int) -> None:
    """Training mode for the head (dropout on); trunks in eval (stage 1) or with BN in eval (stage 2)."""
    net.train()
    for trunk in net.trunks():
        if stage == 1:
            trunk.eval()
        else:
            for m in trunk.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()


# ----------------------------------------------------------------------------- the method
class Realtime(Method):
    kind = "realtime"
    layouts = ("sampled_frames",)
    supervision = "frame"
    #: the RGB stream first, the motion stream on the same sampled frames (null = one stream).
    feature_keys = ("features", "flow_features")
    #: the bag of objects: a detector on the RGB stream's sampled frames (null = no bag).
    detections_key = "detections"
    #: early stopping reads the dataset's validation videos (split val) when it has them.
    validation = True
    extra_outputs = ("video_level", "resources")
    defaults: ClassVar[dict[str, Any]] = {
        "features": "rt_rgb",
        "flow_features": "rt_flow",
        "detections": None,
        "bag_conf": 0.5,
        "hidden": 4096,
        "dropout": 0.5,
        "class_weight": [1.0, 2.0],
        "batch_size": 16,
        "alpha": 3,
        "soft": "normal",
        "sampling": [3, 10],
        "lr": 1e-5,
        "epochs": 100,
        "early_stopping": True,
        "patience": 5,
        "val_fraction": 0.1,
        "standardize": False,
        "test_stride": 1,
        "sas": {},
        "seed": 123,
        "device": "auto",
    }

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__({**self.defaults, **cfg})
        self.net: FusionHead | None = None
        self.in_dim: int | None = None
        self.dims: dict[str, int] = {}
        self.scaler = FeatureScaler()
        self.history: list[dict[str, float]] = []
        self.validation: list[VideoData] = []
        if self.cfg["soft"] not in SOFT_POLICIES:
            raise MethodError(f"realtime: soft must be one of {SOFT_POLICIES}, got {self.cfg['soft']!r}")
        if int(self.cfg["alpha"]) < 1:
            raise MethodError(f"realtime: alpha must be >= 1 (1 = no hard mining), got {self.cfg['alpha']}")

    @classmethod
    def check_inputs(cls, cfg: dict[str, Any], inputs: dict[str, dict[str, Any]]) -> list[str]:
        """The streams are per-sampled-frame extractors (frame_steps) of the right input, sampling
        the same frames, so their rows line up (docs/methods/realtime.md §2)."""
        where = f"methods.{cfg.get('name')}"
        want = {"features": "rgb", "flow_features": "flow_image"}
        out, grids = [], {}
        for key, need in want.items():
            ep = inputs.get(key)
            if ep is None:
                continue
            if not ep.get("frame_steps") or ep.get("source", "extract") != "extract":
                out.append(f"{where}.{key}: features.{ep['name']} must extract per-sampled-frame features (frame_steps)")
                continue
            if ep.get("input", "rgb") != need:
                out.append(f"{where}.{key}: features.{ep['name']} has input {ep.get('input', 'rgb')!r}, the {key} stream needs {need!r}")
            grids[ep["name"]] = ep["frame_steps"]
        if len({json.dumps(g, sort_keys=True) for g in grids.values()}) > 1:
            out.append(f"{where}: the streams {sorted(grids)} sample different frames ({grids}); give them the same frame_steps")
        return out

    # -- inputs ------------------------------------------------------------------------
    def set_validation(self, videos: list[VideoData]) -> None:
        self.validation = list(videos)

    def inputs(self, video: VideoData) -> np.ndarray:
        """``[K, D]`` float32: the video's rows as [RGB ‖ flow ‖ BoO], standardised if configured."""
        if video.layout not in self.layouts:
            raise MethodError(f"realtime needs per-frame features (layout sampled_frames, an extractor with frame_steps); video {video.id!r} "
                              f"has layout {video.layout!r}")
        parts = [np.asarray(video.features, np.float32)]
        flow = self.cfg.get("flow_features")
        if flow:
            streams = video.extras.get("streams") or {}
            if flow not in streams:
                raise MethodError(f"realtime: video {video.id!r} has no {flow!r} stream (have {sorted(streams)}); the train/score "
                                  "jobs pass it with --extra-features")
            parts.append(np.asarray(streams[flow], np.float32))
        if self.cfg.get("detections"):
            parts.append(self.bag(video))
        if len({len(p) for p in parts}) != 1:
            raise MethodError(f"realtime: video {video.id!r}: the streams have different row counts {[len(p) for p in parts]}")
        return self.assemble(*parts, what=f"video {video.id!r}")

    def bag(self, video: VideoData) -> np.ndarray:
        """``[K, C]`` per-class object counts on the video's rows (score >= ``bag_conf``), from the
        detections the train/score jobs pass (``extras["objects"]``, or an array in ``extras["bag"]``)."""
        if "bag" in video.extras:
            return np.asarray(video.extras["bag"], np.float32)
        objs = video.extras.get("objects")
        if objs is None:
            raise MethodError(f"realtime: video {video.id!r} has no objects from detector {self.cfg['detections']!r}; "
                              "the train/score jobs pass them with --detections")
        idx = video.extras.get("frame_index")
        if idx is not None and not np.array_equal(objs.centres(), idx):
            raise MethodError(f"realtime: video {video.id!r}: detections {self.cfg['detections']!r} are not on the sampled frames of "
                              f"{self.cfg['features']!r}; set detectors.{self.cfg['detections']}.features: {self.cfg['features']}")
        return objs.bag(float(self.cfg["bag_conf"]))

    def assemble(self, *parts: np.ndarray, what: str = "input") -> np.ndarray:
        """[RGB ‖ flow ‖ BoO] rows (or one row) concatenated and standardised as in training."""
        x = np.concatenate([np.asarray(p, np.float32) for p in parts], axis=-1)
        if self.in_dim is not None and x.shape[-1] != self.in_dim:
            raise MethodError(f"realtime: {what}: input dim {x.shape[-1]}, the model was trained on {self.in_dim}")
        return np.asarray(self.scaler(x), dtype=np.float32)

    def _sampled(self, video: VideoData, training: bool) -> tuple[np.ndarray, np.ndarray]:
        """Rows kept by adaptive sampling and their policy labels (EXCLUDED rows removed)."""
        idx = np.asarray(video.extras["frame_index"])
        cls = frame_classes(video)[idx]
        keep = adaptive_keep(idx, cls == HARD, tuple(self.cfg["sampling"]))
        y = policy_labels(cls, self.cfg["soft"], training=training)
        keep &= y != EXCLUDED
        grid = set(idx.tolist())
        lost = [s for s in self.cfg["sampling"] if not set(range(0, video.n_frames, int(s))) <= grid]
        if lost:
            raise MethodError(f"realtime: sampling steps {lost} need frames that the {self.cfg['features']!r} extractor did not sample "
                              f"for video {video.id!r}; add them to its frame_steps")
        return np.flatnonzero(keep), y[keep]

    def _arrays(self, videos: list[VideoData], training: bool = True) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for v in videos:
            rows, y = self._sampled(v, training)
            xs.append(self.inputs(v)[rows])
            ys.append(y)
        return np.concatenate(xs), np.concatenate(ys)

    # -- training ------------------------------------------------------------------------
    def _split_validation(self, train: list[VideoData]) -> tuple[list[VideoData], list[VideoData]]:
        """The validation videos: the dataset's val split, else a seeded ``val_fraction`` of the
        training videos (stratified by video label); none without early stopping (no-es)."""
        if not self.cfg["early_stopping"]:
            return train, []
        if self.validation:
            return train, self.validation
        rng = np.random.default_rng(int(self.cfg["seed"]))
        held: set[str] = set()
        for flag in (True, False):
            group = [v.id for v in train if bool(v.anomalous) == flag]
            n = int(round(float(self.cfg["val_fraction"]) * len(group)))
            held |= set(rng.permutation(group)[: max(1, n) if len(group) > 1 else 0].tolist())
        if not held:
            raise MethodError("realtime: early stopping needs validation videos; the dataset has no val split and too few training videos")
        log.info("realtime: no val split; holding out %d of %d training videos for early stopping", len(held), len(train))
        return [v for v in train if v.id not in held], [v for v in train if v.id in held]

    def fit(self, train: list[VideoData]) -> None:
        cfg = self.cfg
        if not train:
            raise MethodError("realtime: no training videos")
        unlabelled = [v.id for v in train if v.anomalous and v.frame_labels is None]
        if unlabelled and len(unlabelled) < sum(v.anomalous for v in train):
            # UCFCrime2Local's vatic files label 6 classes: the other anomalous training videos
            # have no frame labels, and no frame of theirs can be called hard or soft.
            log.warning("realtime: %d anomalous training videos have no frame labels and are left out (%s...)",
                        len(unlabelled), ", ".join(unlabelled[:3]))
            train = [v for v in train if v.id not in set(unlabelled)]
            self.validation = [v for v in self.validation if not (v.anomalous and v.frame_labels is None)]
        fit_videos, val_videos = self._split_validation(train)
        self.scaler = FeatureScaler()
        self.in_dim = None
        if cfg["standardize"]:
            self.scaler.fit([self.inputs(v) for v in fit_videos])
            # Random-init ReLU trunks leave some dimensions constant (often 0) on every training
            # frame: z-scoring them by their ~0 std would blow up any other value seen later.
            # The head never saw them vary, so they are dropped (scale infinite -> 0).
            sd = self.scaler.sd
            self.scaler.sd = np.where(sd < 1e-3 * np.median(sd) + 1e-5, np.inf, sd)
        x, y = self._arrays(fit_videos)
        n_pos = int(y.sum())
        log.info("realtime: %d training frames after adaptive sampling (%d hard, %d other) from %d videos; soft frames %s",
                 len(y), n_pos, len(y) - n_pos, len(fit_videos), "labelled normal" if cfg["soft"] == "normal" else "excluded (-ha)")
        k, alpha = int(cfg["batch_size"]), int(cfg["alpha"])
        steps = mining_steps(len(y), alpha, k)
        if steps == 0:
            raise MethodError(f"realtime: {len(y)} training frames are fewer than one mined batch (alpha·batch_size = {alpha * k}); "
                              "lower batch_size or alpha, or sample more frames")
        self.in_dim = int(x.shape[1])
        self._record_dims(train[0])
        device = resolve_device(cfg["device"])
        torch.manual_seed(int(cfg["seed"]))
        net = FusionHead(self.in_dim, int(cfg["hidden"]), float(cfg["dropout"])).to(device)
        self.net = net
        xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
        val = None
        if val_videos:
            xv, yv = self._arrays(val_videos, training=True)
            xv_test, yv_test = self._arrays(val_videos, training=False)
            val = (torch.from_numpy(xv).to(device), torch.from_numpy(yv).to(device),
                   torch.from_numpy(xv_test).to(device), torch.from_numpy(yv_test).to(device))
            log.info("realtime: %d validation frames from %d videos", len(yv), len(val_videos))
        weight = torch.tensor(cfg["class_weight"], dtype=torch.float32, device=device)
        opt = torch.optim.Adam(net.parameters(), lr=float(cfg["lr"]), betas=(0.9, 0.999), eps=1e-7)
        gen = torch.Generator().manual_seed(int(cfg["seed"]))
        best, best_state, waited = math.inf, None, 0
        self.history = []
        for epoch in range(int(cfg["epochs"])):
            perm = torch.randperm(len(yt), generator=gen)
            losses = []
            for s in range(steps):
                cand = mined_batch(net, xt, yt, perm[s * alpha * k : (s + 1) * alpha * k].to(device), k, gen)
                net.train()
                loss = keras_weighted_ce(net(xt[cand]), yt[cand], weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.item()))
            rec = {"epoch": epoch + 1, "loss": float(np.mean(losses))}
            if val is not None:
                rec["val_loss"] = self._mean_ce(val[0], val[1])
                rec["val_loss_test_policy"] = self._mean_ce(val[2], val[3])
            self.history.append(rec)
            log.info("realtime epoch %d: %s", epoch + 1, {k_: round(v, 5) for k_, v in rec.items() if k_ != "epoch"})
            if val is None:
                continue
            if rec["val_loss"] < best:
                best, best_state, waited = rec["val_loss"], copy.deepcopy(net.state_dict()), 0
            else:
                waited += 1
                if waited >= int(cfg["patience"]):
                    log.info("realtime: early stop after epoch %d (best validation loss %.5f)", epoch + 1, best)
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
            log.info("realtime: restored the weights of the best validation epoch (loss %.5f)", best)
        net.eval()

    def _mean_ce(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.net.eval()
        with torch.no_grad():
            return float(F.cross_entropy(self.net(x), y).item())

    def _record_dims(self, video: VideoData) -> None:
        self.dims = {"rgb": int(np.asarray(video.features).shape[1])}
        if self.cfg.get("flow_features"):
            self.dims["flow"] = int(np.asarray(video.extras["streams"][self.cfg["flow_features"]]).shape[1])
        if self.cfg.get("detections"):
            self.dims["bag"] = int(self.bag(video).shape[1])

    # -- scoring ------------------------------------------------------------------------
    def sigma(self, x: np.ndarray) -> np.ndarray:
        """p(anomaly) of input rows ``[K, in_dim]`` (already assembled by :meth:`inputs`)."""
        if self.net is None:
            raise MethodError("realtime: score() called before fit() or load()")
        device = next(self.net.parameters()).device
        self.net.eval()
        with torch.inference_mode():
            p = torch.softmax(self.net(torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(device)), dim=1)[:, 1]
        return p.double().cpu().numpy()

    def scored_rows(self, frame_index: np.ndarray, n_frames: int) -> np.ndarray:
        """Rows of the test grid scored at ``test_stride`` (every multiple of it must be sampled)."""
        stride = int(self.cfg["test_stride"])
        idx = np.asarray(frame_index)
        rows = np.flatnonzero(idx % stride == 0)
        if len(rows) != -(-int(n_frames) // stride):
            raise MethodError(f"realtime: test_stride {stride} needs every {stride}-th frame, but the test features sample "
                              f"{len(rows)} of them; set the extractor's frame_steps.test to [{stride}] (or a divisor)")
        return rows

    def score(self, video: VideoData) -> np.ndarray:
        idx = np.asarray(video.extras["frame_index"])
        rows = self.scored_rows(idx, video.n_frames)
        s = self.sigma(self.inputs(video)[rows])
        return hold(idx[rows], s, video.n_frames)

    def online(self) -> FramePlan:
        """sigma on every ``test_stride``-th frame of the stream from [RGB ‖ flow ‖ bag], held in
        between, and the SAS beside it: the offline :meth:`score` frame by frame."""
        if self.net is None:
            raise MethodError("realtime: online() called before fit() or load()")
        return FramePlan(score=lambda parts: float(self.sigma(self.assemble(*parts)[None])[0]), stride=int(self.cfg["test_stride"]),
                         bag_conf=float(self.cfg["bag_conf"]) if self.cfg.get("detections") else None, sas=self.cfg.get("sas") or {})

    # -- state ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        if self.net is None:
            raise MethodError("realtime: nothing to save before fit()")
        return {"in_dim": self.in_dim, "dims": dict(self.dims), "net": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
                "history": [dict(h) for h in self.history], **self.scaler.state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.in_dim = int(state["in_dim"])
        self.dims = {k: int(v) for k, v in state["dims"].items()}
        self.net = FusionHead(self.in_dim, int(self.cfg["hidden"]), float(self.cfg["dropout"]))
        self.net.load_state_dict(state["net"])
        self.net.to(resolve_device(self.cfg["device"])).eval()
        self.history = list(state["history"])
        self.scaler.load_state(state)


def hold(frames: np.ndarray, values: np.ndarray, n_frames: int) -> np.ndarray:
    """Per-frame values: each frame takes the value of the latest scored frame at or before it."""
    frames = np.asarray(frames)
    if len(frames) == 0 or frames[0] != 0:
        raise MethodError("realtime: frame 0 must be scored (every frame grid starts at 0)")
    pos = np.searchsorted(frames, np.arange(int(n_frames)), side="right") - 1
    return np.asarray(values, dtype=np.float64)[pos]
