"""MIL ranking (Sultani et al. 2018), weakly supervised on video labels (docs/methods/mil.md §1-§6).

Each video is a bag of 32 segments (:mod:`vadflow.methods.mil.segments32`); a 3-layer MLP scores
each segment; the ranking loss (:func:`mil_loss`, exactly the original ``custom_objective``)
pushes the top segment of anomalous bags above the top segment of normal bags. ``fit`` reads
only the video labels (``VideoData.anomalous``), never ``frame_labels``.
"""
from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from vadflow.device import resolve_device
from vadflow.methods.mil import segments32 as seg
from vadflow.methods.base import MethodError, VideoData
from vadflow.methods.neural import NeuralMethod
from vadflow.methods.online import ClipPlan
from vadflow.methods.scaler import FeatureScaler

log = logging.getLogger(__name__)


class MILNet(nn.Module):
    """D→512 ReLU, dropout, 512→32 linear, dropout, 32→1 sigmoid; glorot-normal kernels, zero biases."""

    def __init__(self, in_dim: int, dropout: float = 0.6, hidden: tuple[int, int] = (512, 32)) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.fc3 = nn.Linear(hidden[1], 1)
        self.drop = nn.Dropout(dropout)
        for fc in self.kernels_modules():
            nn.init.xavier_normal_(fc.weight)  # N(0, 2/(fan_in+fan_out)) = Keras glorot_normal
            nn.init.zeros_(fc.bias)

    def kernels_modules(self) -> tuple[nn.Linear, ...]:
        return (self.fc1, self.fc2, self.fc3)

    def kernels(self) -> list[torch.Tensor]:
        return [fc.weight for fc in self.kernels_modules()]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., D]`` -> ``[..., 1]`` in (0, 1)."""
        h = self.drop(torch.relu(self.fc1(x)))
        h = self.drop(self.fc2(h))
        return torch.sigmoid(self.fc3(h))


def mil_loss(
    f_a: torch.Tensor,
    f_n: torch.Tensor,
    kernels: list[torch.Tensor] | tuple[torch.Tensor, ...] = (),
    lambda_sparsity: float = 8e-5,
    lambda_smooth: float = 8e-5,
    lambda_weight: float = 1e-3,
) -> torch.Tensor:
    """docs/methods/mil.md §4 (original ``custom_objective``). ``f_a`` [n_a, T], ``f_n`` [n_n, T] segment scores.

    L = (1/n_n)·Σ_j Σ_i max(0, 1 − M_i + M_j)       (all n_a·n_n pairs of bag maxima)
      + λ_sp·Σ_{i∈A} Σ_t f_{i,t}                     (sum over anomalous bags, not a mean)
      + λ_sm·Σ_{i∈A} Σ_{t<T−1} (f_{i,t} − f_{i,t+1})² (T−1 squared differences per bag)
      + λ_w·Σ_l ‖W_l‖²                               (kernels only, no biases)
    """
    m_a = f_a.max(dim=1).values
    m_n = f_n.max(dim=1).values
    hinge = torch.relu(1.0 - m_a[:, None] + m_n[None, :]).sum() / f_n.shape[0]
    sparsity = f_a.sum()
    smooth = (f_a[:, :-1] - f_a[:, 1:]).pow(2).sum()
    loss = hinge + lambda_sparsity * sparsity + lambda_smooth * smooth
    if kernels:
        loss = loss + lambda_weight * sum(w.pow(2).sum() for w in kernels)
    return loss


def ekosman_loss(
    f_a: torch.Tensor,
    f_n: torch.Tensor,
    layers: list[nn.Linear] | tuple[nn.Linear, ...] = (),
    lambda_sparsity: float = 8e-5,
    lambda_smooth: float = 8e-5,
    lambda_weight: float = 1e-3,
) -> torch.Tensor:
    """The PyTorch port's variant (ekosman, docs/methods/mil.md §4), offered only as ``loss: ekosman``.

    Anomalous bag i is paired with normal bag i only; hinge, sparsity and smoothness are
    averaged over those pairs; the penalty is λ_w·Σ_l ‖[W_l, b_l]‖₂ (not squared, biases in).
    """
    if f_a.shape[0] != f_n.shape[0]:
        raise MethodError("mil loss ekosman pairs bags one to one: batch_anomalous must equal batch_normal")
    hinge = torch.relu(1.0 - f_a.max(dim=1).values + f_n.max(dim=1).values)
    sparsity = f_a.sum(dim=1)
    smooth = (f_a[:, :-1] - f_a[:, 1:]).pow(2).sum(dim=1)
    loss = (hinge + lambda_sparsity * sparsity + lambda_smooth * smooth).mean()
    for fc in layers:
        loss = loss + lambda_weight * torch.cat([fc.weight.reshape(-1), fc.bias.reshape(-1)]).norm(2)
    return loss


def sample_batch(rng: np.random.Generator, idx_a: np.ndarray, idx_n: np.ndarray, ba: int, bn: int) -> np.ndarray:
    """One training batch (docs/methods/mil.md §5): ``ba`` distinct anomalous videos, then ``bn`` distinct normal
    ones, each from a fresh permutation of its class; no epochs."""
    return np.concatenate([idx_a[rng.permutation(len(idx_a))[:ba]], idx_n[rng.permutation(len(idx_n))[:bn]]])


class MIL(NeuralMethod):
    kind = "mil"
    layouts = ("clips", "segments32")
    supervision = "video"
    #: filled-in values for keys the config leaves out (mirrors the JSON schema).
    defaults: ClassVar[dict[str, Any]] = {
        "features": "c3d",
        "seed": 123,
        "segments": "sultani",
        "mapping32": "auto",
        "dropout": 0.6,
        "lr": 0.01,
        "iterations": 20000,
        "batch_anomalous": 30,
        "batch_normal": 30,
        "lambda_sparsity": 8e-5,
        "lambda_smooth": 8e-5,
        "lambda_weight": 1e-3,
        "standardize": False,
        "device": "auto",
        "hidden": [512, 32],  # FC1, FC2 widths; seed 001 proposes [512, 64] (docs/methods/mil.md §3)
        "loss": "sultani",
        "short_videos": "pad",
    }
    LOG_EVERY = 20

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        if self.cfg["segments"] not in seg.RULES:
            raise MethodError(f"mil: segments must be one of {seg.RULES}, got {self.cfg['segments']!r}")
        if self.cfg["mapping32"] not in seg.MAPPINGS:
            raise MethodError(f"mil: mapping32 must be one of {seg.MAPPINGS}, got {self.cfg['mapping32']!r}")
        if self.cfg["short_videos"] not in seg.SHORT_VIDEOS:
            raise MethodError(f"mil: short_videos must be one of {seg.SHORT_VIDEOS}, got {self.cfg['short_videos']!r}")

    def build(self, in_dim: int) -> MILNet:
        return MILNet(in_dim, float(self.cfg["dropout"]), tuple(int(h) for h in self.cfg["hidden"]))

    # -- bags --------------------------------------------------------------------------------
    @staticmethod
    def n_clips(video: VideoData) -> int:
        """Clips behind the video's rows: its row count, or for ``segments32`` rows the
        ``n_clips`` its frame count gives (the boundaries the segments were cut at)."""
        if video.layout == "segments32":
            return seg.n_clips(video.n_frames, video.clip_len, video.stride)
        return len(video.features)

    def skip_reason(self, video: VideoData) -> str | None:
        """Why this video is neither trained on nor scored (``short_videos``), or None."""
        return seg.short_video_reason(self.n_clips(video), self.cfg["short_videos"])

    def bag(self, video: VideoData) -> np.ndarray:
        """``[32, D]`` float32: clip features through the configured segment rule, or a
        ``segments32`` video's rows as they are."""
        x = self.checked_features(video)
        if video.layout == "segments32":
            if len(x) != seg.T:
                raise MethodError(f"video {video.id!r}: layout segments32 needs 32 rows, got {len(x)}")
            return x
        # Standardising applies to clip features only: segments32 files are already segment
        # means with their own normalisation.
        return seg.make_bag(self.scaler(x), self.cfg["segments"])

    def _segment_scores(self, bag: np.ndarray) -> np.ndarray:
        device = next(self.net.parameters()).device
        self.net.eval()
        with torch.inference_mode():
            out = self.net(torch.from_numpy(np.ascontiguousarray(bag)).to(device))
        return out.reshape(-1).double().cpu().numpy()

    # -- Method API --------------------------------------------------------------------------
    def fit(self, train: list[VideoData]) -> None:
        """Sultani training: every iteration draws ``batch_anomalous`` distinct anomalous and
        ``batch_normal`` distinct normal videos from a fresh seeded permutation per class
        (anomalous first). A class with fewer videos than its batch size is used whole.
        Adagrad (eps 1e-8, accumulator 0); no epochs; the last iteration is kept."""
        cfg = self.cfg
        if not train:
            raise MethodError("mil: no training videos")
        self.skipped_train = {v.id: r for v in train if (r := self.skip_reason(v)) is not None}
        if self.skipped_train:
            log.warning("mil: %d of %d training videos skipped: %s", len(self.skipped_train), len(train),
                        next(iter(self.skipped_train.values())))
            train = [v for v in train if v.id not in self.skipped_train]
            if not train:
                raise MethodError("mil: short_videos: skip_like_seed001 left no training video (every one has fewer than 32 clips)")
        self.in_dim = None
        self.scaler = FeatureScaler()
        clip_feats = [np.asarray(v.features, np.float32) for v in train if v.layout == "clips"]
        if cfg.get("standardize", False) and clip_feats:
            self.scaler.fit(clip_feats)
        bags = [self.bag(v) for v in train]
        if len({b.shape[1] for b in bags}) != 1:
            raise MethodError("mil: training videos have different feature dims")
        labels = np.array([bool(v.anomalous) for v in train])
        idx_a, idx_n = np.flatnonzero(labels), np.flatnonzero(~labels)
        if len(idx_a) == 0 or len(idx_n) == 0:
            raise MethodError(
                f"mil: training needs anomalous and normal videos, got {len(idx_a)} anomalous and {len(idx_n)} normal"
            )
        ba, bn = min(int(cfg["batch_anomalous"]), len(idx_a)), min(int(cfg["batch_normal"]), len(idx_n))
        if ba < cfg["batch_anomalous"] or bn < cfg["batch_normal"]:
            log.warning("mil: fewer training videos than the batch size; using batches of %d anomalous + %d normal", ba, bn)
        device = resolve_device(cfg["device"])
        torch.manual_seed(int(cfg["seed"]))
        self.in_dim = bags[0].shape[1]
        self.net = self.build(self.in_dim).to(device)
        x_all = torch.from_numpy(np.stack(bags)).to(device)  # [N, 32, D]
        rng = np.random.default_rng(int(cfg["seed"]))
        ekosman = cfg.get("loss", "sultani") == "ekosman"
        if ekosman:  # the port's optimiser goes with its loss
            opt = torch.optim.Adadelta(self.net.parameters(), lr=float(cfg["lr"]), eps=1e-8)
        else:
            opt = torch.optim.Adagrad(self.net.parameters(), lr=float(cfg["lr"]), eps=1e-8, initial_accumulator_value=0.0)
        self.history = []
        self.net.train()
        n_iter = int(cfg["iterations"])
        for it in range(n_iter):
            sel = torch.from_numpy(sample_batch(rng, idx_a, idx_n, ba, bn)).to(device)
            f = self.net(x_all[sel]).squeeze(-1)  # [ba + bn, 32], dropout on
            lam = (cfg["lambda_sparsity"], cfg["lambda_smooth"], cfg["lambda_weight"])
            if ekosman:
                loss = ekosman_loss(f[:ba], f[ba:], self.net.kernels_modules(), *lam)
            else:
                loss = mil_loss(f[:ba], f[ba:], self.net.kernels(), *lam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if it % self.LOG_EVERY == 0 or it == n_iter - 1:
                self.history.append(float(loss.item()))
                log.info("mil iteration %d/%d: loss %.5f", it + 1, n_iter, self.history[-1])
        self.net.eval()

    def score(self, video: VideoData) -> np.ndarray:
        """Frame scores; a video :meth:`skip_reason` skips gets all zeros, as in seed 001's
        evaluation (the score job records it as skipped)."""
        if self.net is None:
            raise MethodError("mil: score() called before fit() or load()")
        if self.skip_reason(video) is not None:
            return np.zeros(video.n_frames)
        s = self._segment_scores(self.bag(video))
        return seg.segments_to_frames(s, video.n_frames, self.n_clips(video), video.stride, self.cfg["segments"],
                                      self.cfg["mapping32"])

    def state(self) -> dict[str, Any]:
        return {**super().state(), "skipped_train": dict(self.skipped_train)}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.skipped_train = dict(state.get("skipped_train", {}))

    def online(self) -> ClipPlan:
        """Offline, a video's 32 segments span the whole video, which a stream cannot know:
        online each clip is a bag of one clip (the same segment rule applied to it), and the
        difference to ``scores.h5`` is measured and documented (config/README.md), not hidden."""
        if self.net is None:
            raise MethodError("mil: online() called before fit() or load()")
        return ClipPlan(row=lambda feature, objects=None: feature,
                        clip_scores=lambda x: self._segment_scores(seg.make_bag(self.scaler(x), self.cfg["segments"]))[:1],
                        mapping=self.cfg.get("mapping", "average"))
