"""RTFM as plain PyTorch: network, losses, segment rule, one training step, inference.

Tian, Pang, Chen, Singh, Verjans, Carneiro. "Weakly-supervised Video Anomaly Detection with
Robust Temporal Feature Magnitude Learning", ICCV 2021. Reference code: github
tianyu0207/RTFM at commit cf938f4 (file:line citations below are to that commit). This module
is written independently of that code; ``benchmarks/crosscheck_rtfm.py`` compares the two
numerically. docs/methods/rtfm.md describes the method, the options and what differs.

Layouts (``C`` = crops per snippet, 10 for the published I3D features, 5 for XD-Violence, 1
for our flow features):

* training bags ``[B, C, T, D]``: ``T`` = ``DEFAULTS["segments"]`` (32) rows per crop, each
  crop cut with :func:`segment` on its own (dataset.py:67-72);
* one test video ``[C, T, D]`` with all its ``T`` snippet features (16 frames each), unsegmented
  (dataset.py:63-64, test_10crop.py:13).

Imports only torch and numpy.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: The reference code's hyperparameters. Values are the code's (the paper's, where they
#: differ, are in the comment and in docs/methods/rtfm.md). Of the four switches at the end,
#: three default to the paper's intent and ``magnitude_loss`` to the code's form (see its
#: comment); :data:`ORIGINAL` sets all four to the code's behaviour.
DEFAULTS: dict = {
    # --- optimisation --------------------------------------------------------------------
    "optimizer": "adam",  # main.py:40 optim.Adam (torch Adam: L2 added to the gradient, not AdamW)
    "lr": 1e-3,  # option.py:11 --lr '[0.001]*15000', main.py:41 lr=config.lr[0]; paper: 0.001 too
    # main.py:53-55 sets lr per step from that list; all 15000 entries are equal: no schedule
    "lr_schedule": "constant",
    "weight_decay": 5e-3,  # main.py:41 weight_decay=0.005; paper text (as we read it): 0.0005
    "batch_size": 32,  # option.py:12: bags *per class* per step (main.py:20-25 two loaders, train.py:89)
    # option.py:19 --max-epoch 15000, which main.py:48-63 counts as optimiser steps (iterations),
    # not epochs; paper text (as we read it): 50 epochs
    "steps": 15000,
    "shuffle": True,  # main.py:21,24 both training loaders shuffle
    "drop_last": True,  # main.py:22,25: a loader's last partial batch is never used
    "test_every": 5,  # main.py:65 test when step % 5 == 0 ...
    "test_after": 200,  # main.py:65 ... and step > 200 (plus once before training, main.py:46)
    # main.py:71-74 saves the weights with the best *test* AUC seen so far (model selection on test)
    "checkpoint": "best_test_auc",
    # --- data ------------------------------------------------------------------------------
    "segments": 32,  # dataset.py:70 process_feat(feature, 32); model.py:177; train.py:94
    "frames_per_snippet": 16,  # test_10crop.py:27 np.repeat(pred, 16): one score per 16 frames
    # --- network ---------------------------------------------------------------------------
    "branch_channels": 512,  # model.py:116,123,130 dilated convs, 137 1x1 conv, 150 non-local width
    "nonlocal_channels": None,  # None: branch_channels // 2 = 256 (model.py:25-28, at least 1)
    "fc_hidden": (512, 128),  # model.py:182-184 fc1 D->512, fc2 512->128, fc3 128->1
    "dropout": 0.7,  # model.py:186 one Dropout(0.7), applied 5 times per forward
    # --- top-k selection and losses ---------------------------------------------------------
    "k": 3,  # model.py:178-179 k_abn = k_nor = num_segments // 10 = 3 (paper: k = 3)
    "margin": 100.0,  # train.py:102 RTFM_loss(0.0001, 100) (paper: m = 100)
    "alpha": 1e-4,  # train.py:102 weight of the feature-magnitude term
    "lambda_sparsity": 8e-3,  # train.py:103 sparsity(abn_scores, batch_size, 8e-3)
    "lambda_smooth": 8e-4,  # train.py:104 smooth(abn_scores, 8e-4)
    # --- paper intent (default) or the code's behaviour (see ORIGINAL) ----------------------
    # "squared": train.py:71-75, mean((|m - ||mean_k x_a||| + ||mean_k x_n||)^2), which all
    # published numbers used; "hinge": the paper's max(0, m - g_k(X+) + g_k(X-)) with g_k the
    # mean of the k largest magnitudes. Not switched: alpha = 1e-4 is tuned for "squared".
    "magnitude_loss": "squared",
    # "per_video": sum over each abnormal bag of (s_t+1 - s_t)^2 (paper); "across_batch":
    # train.py:15-22 on the batch's abnormal scores flattened, so it also differences the last
    # segment of bag b with the first of bag b+1 (B - 1 spurious terms)
    "smoothness": "per_video",
    # "l1_per_video": lambda * mean over abnormal bags of sum_t s_t (paper: sum of scores; the
    # mean over bags makes it equal to the code's value at B = 32 for constant scores);
    # "l2_batch": train.py:10-12 lambda * ||all abnormal scores of the batch||_2 (an L2 norm of
    # the flattened batch, whose size then scales the term)
    "sparsity": "l1_per_video",
    # model.py:226-229 treats any forward whose normal half has one bag as inference and uses the
    # normal bag in place of the abnormal one; with batch_size 1 that also happens in training,
    # which then never sees an abnormal bag in the BCE and magnitude terms. False: only a
    # forward without an abnormal half (inference) does this.
    "single_pair_alias": False,
}

#: Overrides that reproduce the reference code exactly: ``{**DEFAULTS, **ORIGINAL}``.
ORIGINAL: dict = {
    "magnitude_loss": "squared",
    "smoothness": "across_batch",
    "sparsity": "l2_batch",
    "single_pair_alias": True,
}

_CHOICES = {
    "magnitude_loss": ("squared", "hinge"),
    "smoothness": ("per_video", "across_batch"),
    "sparsity": ("l1_per_video", "l2_batch"),
}


def config(cfg: dict | None = None) -> dict:
    """``DEFAULTS`` updated with ``cfg``; ``cfg["fidelity"] == "original"`` applies :data:`ORIGINAL`
    over everything. Unknown keys are kept (the caller's own settings), unknown choices raise."""
    cfg = dict(cfg or {})
    fidelity = cfg.pop("fidelity", "paper")
    if fidelity not in ("paper", "original"):
        raise ValueError(f"fidelity must be 'paper' or 'original', got {fidelity!r}")
    out = {**DEFAULTS, **cfg, **(ORIGINAL if fidelity == "original" else {})}
    for key, choices in _CHOICES.items():
        if out[key] not in choices:
            raise ValueError(f"{key} must be one of {choices}, got {out[key]!r}")
    return out


# ------------------------------------------------------------------------------------------
# segment rule
# ------------------------------------------------------------------------------------------


def segment(feats: np.ndarray, n: int = 32) -> np.ndarray:
    """``[T, D]`` snippet features -> ``[n, D]`` float32 training segments (utils.py:32-41).

    Boundaries r_i = floor(linspace(0, T, n + 1)[i]) (numpy's float grid, truncated to int as
    the original's ``dtype=np.int`` does; for n = 32 this is exactly floor(i·T/32)). Segment i is
    the mean of rows r_i .. r_{i+1}-1 when r_{i+1} > r_i, else row r_i alone (T < n repeats
    rows). Means are taken in float32 as the original, after the same float32 cast
    (dataset.py:59). Apply per crop: ``np.stack([segment(f[c]) for c in range(C)])``.
    """
    feats = np.asarray(feats, dtype=np.float32)
    if feats.ndim != 2:
        raise ValueError(f"segment expects [T, D] features, got shape {feats.shape}")
    t = feats.shape[0]
    if t < 1:
        raise ValueError("segment needs at least one feature row")
    r = np.floor(np.linspace(0, t, n + 1)).astype(np.int64)
    out = np.zeros((n, feats.shape[1]), dtype=np.float32)
    for i in range(n):
        a, b = int(r[i]), int(r[i + 1])
        out[i] = np.mean(feats[a:b], 0) if b != a else feats[a]
    return out


# ------------------------------------------------------------------------------------------
# network
# ------------------------------------------------------------------------------------------


class Output(NamedTuple):
    """What :meth:`Net.forward` returns (model.py:273 returns these among ten values, the rest
    being repeats). ``N`` bags = ``B`` normal then ``B`` abnormal; ``C`` crops; ``k`` selected."""

    score_abnormal: torch.Tensor  # [B] mean score of each abnormal bag's k selected snippets
    score_normal: torch.Tensor  # [B] the same for the normal bags
    feat_select_abn: torch.Tensor  # [C*B, k, D] selected features, crop-major (row c*B + b)
    feat_select_normal: torch.Tensor  # [C*B, k, D]
    scores: torch.Tensor  # [N, T] snippet scores, crop-averaged (mean of the crops' sigmoids)
    feat_magnitudes: torch.Tensor  # [N, T] L2 norms of the snippet features, crop-averaged
    idx_abn: torch.Tensor  # [B, k] the selected snippet indices of the abnormal bags
    idx_normal: torch.Tensor  # [B, k]


class _NonLocal1d(nn.Module):
    """Dot-product non-local block (model.py:13-98 with sub_sample=False, bn_layer=True):
    z = BN(W·y) + x, y = (θ(x)ᵀφ(x) / T) g(x); BN weight and bias start at zero, so z = x at init."""

    def __init__(self, channels: int, inner: int) -> None:
        super().__init__()
        self.inner = inner
        # registration order g, out, theta, phi = the original's, so one seed gives its weights
        self.g = nn.Conv1d(channels, inner, 1)
        self.out = nn.Conv1d(inner, channels, 1)
        self.out_bn = nn.BatchNorm1d(channels)
        nn.init.zeros_(self.out_bn.weight)
        nn.init.zeros_(self.out_bn.bias)
        self.theta = nn.Conv1d(channels, inner, 1)
        self.phi = nn.Conv1d(channels, inner, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [n, c, T]
        n = x.shape[0]
        g = self.g(x).view(n, self.inner, -1).permute(0, 2, 1)
        th = self.theta(x).view(n, self.inner, -1).permute(0, 2, 1)
        ph = self.phi(x).view(n, self.inner, -1)
        f = torch.matmul(th, ph)
        y = torch.matmul(f / f.shape[-1], g)
        y = y.permute(0, 2, 1).contiguous().view(n, self.inner, *x.shape[2:])
        return self.out_bn(self.out(y)) + x


class Net(nn.Module):
    """RTFM's network (model.py:110-273): the multi-scale temporal network (three dilated convs,
    d = 1, 2, 4, and a 1x1 conv + non-local block, fused by a conv back to ``in_dim`` with a
    residual), dropout, the 3-layer score head, and top-k feature-magnitude selection.

    Any ``in_dim`` (the original hard-codes 2048 in conv_4, conv_5 and Aggregate(2048); for
    ``in_dim`` = 2048 this is the same network) and any number of crops (the original hard-codes
    10 in model.py:214,217; for C = 10 this is the same).
    """

    def __init__(self, in_dim: int, cfg: dict | None = None) -> None:
        super().__init__()
        cfg = config(cfg)
        self.cfg = cfg
        self.in_dim = int(in_dim)
        c = int(cfg["branch_channels"])
        ci = max(1, c // 2) if cfg["nonlocal_channels"] is None else int(cfg["nonlocal_channels"])
        h1, h2 = (int(h) for h in cfg["fc_hidden"])
        self.k = int(cfg["k"])
        self.alias_single_pair = bool(cfg["single_pair_alias"])
        # construction order = the original's (conv_1..conv_5, non-local, fc1..fc3): the default
        # inits draw from the RNG in this order, so build() under a seed gives its initial weights
        self.dilated = nn.ModuleList(nn.Conv1d(in_dim, c, 3, padding=d, dilation=d) for d in (1, 2, 4))
        self.dilated_bn = nn.ModuleList(nn.BatchNorm1d(c) for _ in range(3))
        self.local = nn.Conv1d(in_dim, c, 1, bias=False)
        self.fuse = nn.Conv1d(4 * c, in_dim, 3, padding=1, bias=False)
        self.fuse_bn = nn.BatchNorm1d(in_dim)
        self.attn = _NonLocal1d(c, ci)
        self.fc1 = nn.Linear(in_dim, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, 1)
        self.drop = nn.Dropout(float(cfg["dropout"]))
        # model.py:6-11,189: Xavier-uniform weights and zero biases for every conv and linear
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def temporal(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, T, D]`` -> ``[n, T, D]`` (model.py:153-171; conv -> ReLU -> BN in every branch)."""
        h = x.permute(0, 2, 1)
        pyramid = torch.cat([bn(F.relu(conv(h))) for conv, bn in zip(self.dilated, self.dilated_bn)], dim=1)
        local = self.attn(F.relu(self.local(h)))
        out = self.fuse_bn(F.relu(self.fuse(torch.cat((pyramid, local), dim=1))))
        return (out + h).permute(0, 2, 1)

    def forward(self, x: torch.Tensor, n_normal: int | None = None, alias: bool | None = None) -> Output:
        """``x`` ``[N, C, T, D]``: the first ``n_normal`` bags normal, the rest abnormal (as many).

        ``n_normal`` defaults to N // 2 (N if N == 1). With no abnormal bag (inference, N = 1) the
        normal bags stand in for the abnormal ones, as the original does (model.py:226-229);
        ``alias`` (default: the build cfg's ``single_pair_alias``) also does this whenever
        n_normal == 1 (the original's bug).
        ``k`` is min(k, T) (the original's topk raises for T < 3). In training mode the dropout
        calls come in the original's order and shapes, so one torch seed gives its masks.
        """
        n, c, t, d = x.shape
        if n_normal is None:
            n_normal = n if n == 1 else n // 2
        n_abn = n - n_normal
        if n_normal < 1 or (n_abn and n_abn != n_normal):
            raise ValueError(f"need as many abnormal as normal bags (or none), got {n_normal} normal of {n}")
        feats = self.drop(self.temporal(x.reshape(n * c, t, d)))  # [N*C, T, D], model.py:199-203
        s = self.drop(F.relu(self.fc1(feats)))
        s = self.drop(F.relu(self.fc2(s)))
        scores = torch.sigmoid(self.fc3(s)).view(n, c, t).mean(1)  # model.py:206-212
        mags = torch.norm(feats, p=2, dim=2).view(n, c, t).mean(1)  # model.py:220-221
        feats = feats.view(n, c, t, d)

        f_nor, s_nor, m_nor = feats[:n_normal], scores[:n_normal], mags[:n_normal]
        alias = self.alias_single_pair if alias is None else alias
        if n_abn == 0 or (alias and n_normal == 1):
            f_abn, s_abn, m_abn = f_nor, s_nor, m_nor
        else:
            f_abn, s_abn, m_abn = feats[n_normal:], scores[n_normal:], mags[n_normal:]

        k = min(self.k, t)
        # model.py:231-236 then 253-256: one dropout mask for the abnormal, then one for the normal
        # magnitudes; the kept entries are scaled by 1/(1-p), the dropped ones can't be selected
        idx_abn = torch.topk(m_abn * self.drop(torch.ones_like(m_nor)), k, dim=1)[1]
        idx_nor = torch.topk(m_nor * self.drop(torch.ones_like(m_nor)), k, dim=1)[1]
        return Output(
            score_abnormal=s_abn.gather(1, idx_abn).mean(1),
            score_normal=s_nor.gather(1, idx_nor).mean(1),
            feat_select_abn=_select(f_abn, idx_abn),
            feat_select_normal=_select(f_nor, idx_nor),
            scores=scores,
            feat_magnitudes=mags,
            idx_abn=idx_abn,
            idx_normal=idx_nor,
        )


def _select(f: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``f`` [B, C, T, D], ``idx`` [B, k] -> [C*B, k, D] in the original's crop-major order."""
    b, c, _, d = f.shape
    picked = f.gather(2, idx[:, None, :, None].expand(b, c, idx.shape[1], d))
    return picked.transpose(0, 1).reshape(c * b, idx.shape[1], d)


def build(in_dim: int, cfg: dict | None = None) -> Net:
    """A freshly initialised :class:`Net` (seed with ``torch.manual_seed`` before, as you like)."""
    return Net(in_dim, cfg)


def optimizer(net: nn.Module, cfg: dict | None = None) -> torch.optim.Optimizer:
    """Adam(lr, weight_decay) over all parameters (main.py:40-41). There is no scheduler: the
    original's per-step lr list is constant (option.py:11)."""
    cfg = config(cfg)
    if cfg["optimizer"] != "adam" or cfg["lr_schedule"] != "constant":
        raise ValueError("only the original's constant-lr Adam is implemented")
    return torch.optim.Adam(net.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))


# ------------------------------------------------------------------------------------------
# losses and one training step
# ------------------------------------------------------------------------------------------


def magnitude_loss(feat_abn: torch.Tensor, feat_nor: torch.Tensor, margin: float, kind: str = "squared") -> torch.Tensor:
    """The unweighted feature-magnitude term on ``[C*B, k, D]`` selections (row-wise pairs).

    ``squared`` (train.py:71-75): mean over rows of (|m − ‖mean_k x_a‖| + ‖mean_k x_n‖)², the norm
    of the mean selected feature. ``hinge`` (paper): mean over rows of max(0, m − ḡ_a + ḡ_n),
    ḡ = mean over the k selected snippets of ‖x_t‖.
    """
    if kind == "squared":
        abn = torch.abs(margin - torch.norm(torch.mean(feat_abn, dim=1), p=2, dim=1))
        nor = torch.norm(torch.mean(feat_nor, dim=1), p=2, dim=1)
        return torch.mean((abn + nor) ** 2)
    if kind == "hinge":
        g_a = torch.norm(feat_abn, p=2, dim=2).mean(1)
        g_n = torch.norm(feat_nor, p=2, dim=2).mean(1)
        return torch.mean(F.relu(margin - g_a + g_n))
    raise ValueError(f"unknown magnitude_loss {kind!r}")


def sparsity_loss(abn_scores: torch.Tensor, kind: str = "l1_per_video") -> torch.Tensor:
    """Unweighted sparsity of the abnormal bags' scores ``[B, T]`` (see DEFAULTS["sparsity"])."""
    if kind == "l1_per_video":
        return abn_scores.sum(1).mean()
    if kind == "l2_batch":  # train.py:10-12: torch.norm of the flattened vector (dim=0), mean of a scalar
        return torch.norm(abn_scores.reshape(-1), dim=0)
    raise ValueError(f"unknown sparsity {kind!r}")


def smoothness_loss(abn_scores: torch.Tensor, kind: str = "per_video") -> torch.Tensor:
    """Unweighted sum of squared neighbour differences of ``[B, T]`` abnormal scores."""
    if kind == "per_video":
        return ((abn_scores[:, 1:] - abn_scores[:, :-1]) ** 2).sum()
    if kind == "across_batch":  # train.py:15-22 on the flattened batch (its last difference is 0)
        flat = abn_scores.reshape(-1)
        return ((flat[1:] - flat[:-1]) ** 2).sum()
    raise ValueError(f"unknown smoothness {kind!r}")


def loss(net: Net, normal: torch.Tensor, abnormal: torch.Tensor,
         cfg: dict | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one training iteration (train.py:82-105) on ``[B, C, T, D]`` normal and
    abnormal bags (T = 32 segments of each crop).

    One forward of ``cat(normal, abnormal)`` (normal first, train.py:89) in the net's current mode
    (:func:`train_step` sets train mode, as train.py:84), then
        total = BCE([score_normal, score_abnormal], [0]*B + [1]*B)
              + alpha · magnitude(feat_select_abn, feat_select_normal)
              + λ_smooth · smoothness(abnormal scores) + λ_sparsity · sparsity(abnormal scores)
    in the original's order of summation. ``cfg`` (not the build's) chooses the variants, also
    ``single_pair_alias``. ``parts``: the weighted terms and ``total`` as floats, plus
    ``magnitude_raw`` (unweighted).
    """
    cfg = config(cfg)
    b = normal.shape[0]
    if abnormal.shape[0] != b:
        raise ValueError(f"need as many abnormal as normal bags, got {abnormal.shape[0]} and {b}")
    out = net(torch.cat((normal, abnormal), 0), n_normal=b, alias=bool(cfg["single_pair_alias"]))
    score = torch.cat((out.score_normal, out.score_abnormal), 0)
    label = torch.cat((torch.zeros(b), torch.ones(b))).to(score)
    cls = F.binary_cross_entropy(score, label)
    mag = magnitude_loss(out.feat_select_abn, out.feat_select_normal, float(cfg["margin"]), cfg["magnitude_loss"])
    abn_scores = out.scores[b:]  # the real abnormal bags' scores, also under single_pair_alias (train.py:94-97)
    smooth = float(cfg["lambda_smooth"]) * smoothness_loss(abn_scores, cfg["smoothness"])
    sparse = float(cfg["lambda_sparsity"]) * sparsity_loss(abn_scores, cfg["sparsity"])
    weighted_mag = float(cfg["alpha"]) * mag
    total = cls + weighted_mag + smooth + sparse
    parts = {"cls": cls.item(), "magnitude": weighted_mag.item(), "magnitude_raw": mag.item(),
             "smoothness": smooth.item(), "sparsity": sparse.item(), "total": total.item()}
    return total, parts


def train_step(net: Net, opt: torch.optim.Optimizer, normal: torch.Tensor, abnormal: torch.Tensor,
               cfg: dict | None = None) -> dict[str, float]:
    """One optimiser step as train.py:82-112: train mode, loss, zero_grad, backward, step."""
    net.train()
    total, parts = loss(net, normal, abnormal, cfg)
    opt.zero_grad()
    total.backward()
    opt.step()
    return parts


# ------------------------------------------------------------------------------------------
# inference
# ------------------------------------------------------------------------------------------


@torch.no_grad()
def snippet_scores(net: Net, x: torch.Tensor) -> np.ndarray:
    """Scores ``[T]`` of one whole test video ``[C, T, D]`` (test_10crop.py:7-19): eval mode, one
    forward of the unsegmented video, each snippet's score the mean over crops of the per-crop
    sigmoid outputs. One score per feature row (16 frames: repeat by ``frames_per_snippet`` for
    frame scores, test_10crop.py:27). The net's mode is restored afterwards."""
    if x.ndim != 3:
        raise ValueError(f"snippet_scores expects one video [C, T, D], got shape {tuple(x.shape)}")
    was_training = net.training
    net.eval()
    try:
        out = net(x[None])
    finally:
        net.train(was_training)
    return out.scores[0].detach().cpu().numpy()


# ------------------------------------------------------------------------------------------
# the original's checkpoints
# ------------------------------------------------------------------------------------------

#: state-dict key prefixes, the original's Model -> ours (for its published checkpoints)
ORIGINAL_KEYS: dict[str, str] = {
    "Aggregate.conv_1.0.": "dilated.0.",
    "Aggregate.conv_1.2.": "dilated_bn.0.",
    "Aggregate.conv_2.0.": "dilated.1.",
    "Aggregate.conv_2.2.": "dilated_bn.1.",
    "Aggregate.conv_3.0.": "dilated.2.",
    "Aggregate.conv_3.2.": "dilated_bn.2.",
    "Aggregate.conv_4.0.": "local.",
    "Aggregate.conv_5.0.": "fuse.",
    "Aggregate.conv_5.2.": "fuse_bn.",
    "Aggregate.non_local.g.": "attn.g.",
    "Aggregate.non_local.W.0.": "attn.out.",
    "Aggregate.non_local.W.1.": "attn.out_bn.",
    "Aggregate.non_local.theta.": "attn.theta.",
    "Aggregate.non_local.phi.": "attn.phi.",
    "fc1.": "fc1.",
    "fc2.": "fc2.",
    "fc3.": "fc3.",
}


def from_original_state_dict(state: dict) -> dict:
    """The original Model's state dict (e.g. its published ``.pkl`` checkpoints) with our keys."""
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        prefix = next((p for p in ORIGINAL_KEYS if key.startswith(p)), None)
        if prefix is None:
            raise KeyError(f"unexpected key in the original's state dict: {key}")
        out[ORIGINAL_KEYS[prefix] + key[len(prefix):]] = value
    return out


def to_original_state_dict(state: dict) -> dict:
    """Our state dict with the original Model's keys (the inverse of :func:`from_original_state_dict`)."""
    inverse = {v: k for k, v in ORIGINAL_KEYS.items()}
    out = {}
    for key, value in state.items():
        prefix = next((p for p in inverse if key.startswith(p)), None)
        if prefix is None:
            raise KeyError(f"unexpected key: {key}")
        out[inverse[prefix] + key[len(prefix):]] = value
    return out
