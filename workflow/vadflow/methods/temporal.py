"""Shared training and inference for window-based, clip-supervised sequence models.

ADNet, the MLP and ED-TCN baselines differ only in the network (:meth:`build`) and,
for ADNet, the loss; windowing, labels, optimisation, checkpoints and the clip->frame
mapping are the same code so that Table 4.6 compares networks, not pipelines.

A network maps ``x`` [B, D, W] and mask ``m`` [B, W] to scores [S, B, W] in [0, 1]
(S = 1 for single-stage nets) and has an int attribute ``width_multiple``: the window
width it needs to be divisible by (pooling layers).
"""
from __future__ import annotations

import logging
import sys
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from vadflow.methods import windows
from vadflow.methods.base import MethodError, Problem, VideoData
from vadflow.methods.losses import stage_sum_loss
from vadflow.methods.neural import NeuralMethod
from vadflow.methods.online import ClipPlan
from vadflow.methods.scaler import FeatureScaler
from vadflow.methods.mapping import clip_to_frames
from vadflow.device import resolve_device

log = logging.getLogger(__name__)

TRAIN_LABELS = ("temporal", "video_level")

#: defaults every window method shares (the schema's first per-kind block mirrors these).
WINDOW_DEFAULTS: dict[str, Any] = {
    "seed": 123,
    "window": 64,
    "batch_size": 4,
    "epochs": 10,
    "clip_label_threshold": 0.5,
    "train_labels": "temporal",
    "standardize": False,
    "device": "auto",
}


def clip_labels(video: VideoData, threshold: float = 0.5, mode: str = "temporal") -> np.ndarray:
    """0/1 label per feature row: 1 if at least ``threshold`` of the clip's frames are anomalous.

    Normal videos need no annotation (all clips are normal). With ``mode == "video_level"``
    every clip takes the video label, whether or not frame labels exist.
    """
    if mode not in TRAIN_LABELS:
        raise MethodError(f"train_labels must be one of {TRAIN_LABELS}, got {mode!r}")
    k = len(video.features)
    if mode == "video_level" or (video.frame_labels is None and not video.anomalous):
        return np.full(k, float(video.anomalous), dtype=np.float32)
    if video.frame_labels is None:
        raise MethodError(
            f"anomalous training video {video.id!r} has no frame labels, but this method is trained "
            "on clip labels and needs temporal annotations of the training videos. UCF-Crime v1 has "
            "only video-level labels for training videos: use the UCF-Crime V2 temporal annotations "
            "or the synthetic dataset; or set train_split: test_folds (train on the annotated test "
            "videos, each scored by a model of the folds that exclude it); or train_labels: "
            "video_level (every clip of an anomalous video = 1; a weak baseline, not a reproduction)."
        )
    frames = np.asarray(video.frame_labels, dtype=np.float64).reshape(-1)
    if len(frames) == 0:
        raise MethodError(f"video {video.id!r}: frame_labels is empty")
    cum = np.concatenate([[0.0], np.cumsum(frames)])
    starts = np.minimum(np.arange(k) * video.stride, len(frames) - 1)
    ends = np.clip(np.arange(k) * video.stride + video.clip_len, starts + 1, len(frames))
    frac = (cum[ends] - cum[starts]) / (ends - starts)
    return (frac >= threshold).astype(np.float32)


def window_width(cfg: dict[str, Any], multiple: int = 2) -> list[Problem]:
    """Half-overlapping windows need an even width; pooling networks a multiple of 2^levels."""
    w = cfg.get("window")
    if not isinstance(w, int) or w <= 0 or w % multiple == 0:
        return []
    if multiple == 2:
        return [("window", "windows overlap by half, so the width must be even; allowed: 0 (whole video) or a positive even number")]
    return [("window", f"windows overlap by half and the pooling levels halve the width, so it must divide by {multiple}; "
                       f"allowed: 0 (whole video) or a positive multiple of {multiple}")]


class TemporalMethod(NeuralMethod):
    """Base of methods that train a window network on clip labels (see module docstring)."""

    layouts: ClassVar[tuple[str, ...]] = ("clips",)
    supervision: ClassVar[str] = "frame"

    @classmethod
    def problems(cls, cfg: dict[str, Any]) -> list[Problem]:
        return window_width(cfg)

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return stage_sum_loss(outputs, labels, mask)

    # -- helpers ---------------------------------------------------------------------------
    def _width(self, net: nn.Module) -> int:
        w = int(self.cfg["window"])
        if w < 0 or w % 2 or w % net.width_multiple:
            raise MethodError(
                f"{self.kind}: window must be 0 (whole video) or a positive even multiple of "
                f"{max(2, net.width_multiple)}, got {w}"
            )
        return w

    def _check_video(self, video: VideoData) -> np.ndarray:
        return self.scaler(self.checked_features(video))

    # Hooks for networks whose per-clip input is not one feature vector (ADOR: an action map and
    # an object set per clip). The defaults are the feature-vector path every other kind uses.
    def _fit_inputs(self, train: list[VideoData]) -> list:
        """Per training video, the sequence that windows are cut from (``len()`` = clips); sets
        ``self.in_dim`` and fits the optional scaler."""
        feats = [self._check_video(v) for v in train]
        if len({f.shape[1] for f in feats}) != 1:
            raise MethodError(f"{self.kind}: training videos have different feature dims")
        if self.cfg.get("standardize", False):
            feats = [self.scaler.fit(feats)(f) for f in feats]
        self.in_dim = feats[0].shape[1]
        return feats

    def _cut(self, seq, start: int, width: int):
        """Window ``[start, start + width)`` of one sequence, padded as the network expects."""
        return windows.cut(seq, start, width, 0.0)

    def _stack(self, x: list, width: int, device: torch.device):
        """The network input of a batch of cut windows, padded to ``width``."""
        xb = np.stack([windows.cut(f, 0, width, 0.0) for f in x]).transpose(0, 2, 1)
        return torch.from_numpy(np.ascontiguousarray(xb)).to(device)

    def _train_outputs(self, x, m: torch.Tensor) -> torch.Tensor:
        """What :meth:`loss` reads (stage scores; ADOR: stage logits)."""
        return self.net(x, m)

    def _batch(
        self, x: list, m: list[np.ndarray], a: list[np.ndarray], device: torch.device
    ) -> tuple[torch.Tensor, ...]:
        """Stack windows (features [w, D], mask [w], labels [w]), padding to a common legal width.

        Widths differ only without windowing (whole videos); pooling nets need a multiple.
        """
        mult = self.net.width_multiple
        width = -(-max(len(k) for k in m) // mult) * mult
        mb = np.stack([windows.cut(k, 0, width, 0.0) for k in m])
        ab = np.stack([windows.cut(y, 0, width, windows.LABEL_PAD) for y in a])
        return (self._stack(x, width, device), *(torch.from_numpy(np.ascontiguousarray(v)).to(device) for v in (mb, ab)))

    # -- Method API --------------------------------------------------------------------------
    def fit(self, train: list[VideoData]) -> None:
        cfg = self.cfg
        if not train:
            raise MethodError(f"{self.kind}: no training videos")
        self.scaler = FeatureScaler()
        feats = self._fit_inputs(train)
        labels = [clip_labels(v, cfg["clip_label_threshold"], cfg["train_labels"]) for v in train]
        device = resolve_device(cfg["device"])
        torch.manual_seed(cfg["seed"])
        self.net = self.build(self.in_dim).to(device)
        width = self._width(self.net)
        # Windows are (video, start) pairs, cut per batch: stacking all windows up front
        # would copy the features about twice over (half overlap).
        items = [(i, int(s)) for i, f in enumerate(feats) for s in windows.window_starts(len(f), width)]
        masks = [np.ones(len(f), dtype=np.float32) for f in feats]
        gen = torch.Generator().manual_seed(cfg["seed"])
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg["lr"])
        self.history = []
        self.net.train()
        bar = tqdm(range(cfg["epochs"]), desc=f"train {self.kind}", disable=not sys.stderr.isatty())
        for epoch in bar:
            order = torch.randperm(len(items), generator=gen).tolist()
            losses = []
            for b in range(0, len(order), cfg["batch_size"]):
                batch = [items[j] for j in order[b : b + cfg["batch_size"]]]
                cuts = [(width or len(feats[i]), i, s) for i, s in batch]
                x, m, a = self._batch(
                    [self._cut(feats[i], s, w) for w, i, s in cuts],
                    [windows.cut(masks[i], s, w, 0.0) for w, i, s in cuts],
                    [windows.cut(labels[i], s, w, windows.LABEL_PAD) for w, i, s in cuts],
                    device,
                )
                loss = self.loss(self._train_outputs(x, m), a, m)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            self.history.append(float(np.mean(losses)))
            bar.set_postfix(loss=f"{self.history[-1]:.4f}")
            log.info("%s epoch %d/%d: loss %.5f", self.kind, epoch + 1, cfg["epochs"], self.history[-1])
        self.net.eval()

    def score(self, video: VideoData) -> np.ndarray:
        if self.net is None:
            raise MethodError(f"{self.kind}: score() called before fit() or load()")
        x = self._check_video(video)
        width = self._width(self.net)
        n = len(x)
        device = next(self.net.parameters()).device
        ms = windows.split(np.ones(n, dtype=np.float32), width)
        xt, mt, _ = self._batch(list(windows.split(x, width)), list(ms), list(np.zeros_like(ms)), device)
        self.net.eval()
        with torch.inference_mode():
            last = self.net(xt, mt)[-1].cpu().numpy()
        clip_scores = windows.merge(last, n, width)
        return clip_to_frames(clip_scores, video.n_frames, video.clip_len, video.stride, self.cfg.get("mapping", "average"))

    def window_outputs(self, xs: list, ms: list[np.ndarray]) -> np.ndarray:
        """Last-stage scores of cut windows ``xs`` (rows [W, D]) with masks ``ms`` ([W]) -> [len(xs), W]:
        what :meth:`score` runs, batch by batch, for ``vadflow watch``."""
        device = next(self.net.parameters()).device
        xt, mt, _ = self._batch(list(xs), list(ms), [np.zeros_like(k) for k in ms], device)
        self.net.eval()
        with torch.inference_mode():
            return self.net(xt, mt)[-1].cpu().numpy()

    def online(self) -> ClipPlan:
        """Windows of the scaled clip features, W = ``window``, merged as offline."""
        if self.net is None:
            raise MethodError(f"{self.kind}: online() called before fit() or load()")
        return ClipPlan(row=lambda feature, objects=None: self.scaler(feature[None])[0].astype(np.float32),
                        window=self._width(self.net), window_scores=self.window_outputs, mapping=self.cfg.get("mapping", "average"))
