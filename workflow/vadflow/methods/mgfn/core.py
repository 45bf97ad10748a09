"""MGFN (Chen et al., "MGFN: Magnitude-Contrastive Glance-and-Focus Network for Weakly-Supervised
Video Anomaly Detection", AAAI 2023) in plain PyTorch: network, segment rule, one training
iteration's loss and whole-video scoring, written from a reading of the authors' code
(github.com/carolchenyx/MGFN., HEAD 98e9389) and checked against it by
``benchmarks/crosscheck_mgfn.py``. Imports only torch and numpy.

"The original" below means that repository; ``file:line`` refer to it at 98e9389 unless a
commit is named. ab9062c is the first release of train.py (2023-01-03), the authors' own;
a6588e1 (pull request #18, merged 2023-04) changed its sparsity and smoothness terms.

Input layout
------------
A batch of bags is ``[B, C, T, D]``: B videos, C crops (UCF-Crime I3D: 10, XD-Violence: 5,
our flow features: 1), T feature rows (32 segments in training, every 16-frame snippet at
test time), D feature channels. The original's loader appends the L2 norm of each row as
an extra channel D+1 and the model splits it off at a hard-coded 2048 (models/mgfn.py:187-188);
here :class:`Net` takes the D raw channels and computes that norm itself, which is the
same number (the loader takes it after segmentation, dataset.py:77-79, and per snippet at
test time, dataset.py:61-63), for any D.

Crops: each crop's row sequence goes through the network on its own (crops are folded into
the batch axis; FOCUS blocks' BatchNorm pools statistics over all of them). Per bag, the
sigmoid scores and the per-row feature magnitudes are averaged over crops; the top-k rows
by averaged magnitude are chosen once per bag and then taken from every crop.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DEFAULTS: dict[str, Any] = {
    # --- optimisation (main.py) ---
    "optimizer": "adam",  # main.py:62 optim.Adam (L2 weight decay added to the gradient, not AdamW)
    "lr": 1e-3,  # option.py:37 '[0.001]*15000' -> config.py:6 eval -> main.py:63 lr=config.lr[0]
    "lr_schedule": "constant",  # main.py:79-81 reads config.lr[epoch-1] each epoch: all 0.001, so constant
    "weight_decay": 5e-4,  # main.py:63
    "batch_size": 16,  # option.py:40; bags PER CLASS per step: two loaders (main.py:39-44), cat'ed (train.py:84)
    "epochs": 1000,  # option.py:50 --max-epoch; main.py:72-76: one "step" there = one pass over the loaders
    # each epoch runs every batch of zip(normal_loader, abnormal_loader) (train.py:81-82): UCF-Crime
    # 800 normal / 810 abnormal training videos (dataset.py:27-33) -> min(50, 50) = 50 iterations
    "shuffle": False,  # main.py:39-44 shuffle=False: the same bags pair up in the same order every epoch
    "drop_last": True,  # main.py:39-44: UCF abnormal videos 800..809 (list order) are never trained on
    "eval_every_epochs": 1,  # main.py:87 (step % 1 == 0): the whole test set after every epoch
    "checkpoint": "best_test_auc",  # main.py:95-104: kept when the TEST AUC (UCF) / TEST AP (XD) improves
    # --- bags ---
    "segments": 32,  # option.py:19 --seg_length, dataset.py:77 (XD: literal 32, dataset.py:86; train.py:92)
    # --- network (models/mgfn.py, utils/utils.py) ---
    "dims": (64, 128, 1024),  # mgfn.py:135
    "depths": (3, 3, 2),  # option.py:24-26 -> mgfn.py:136
    "block_types": ("gb", "fb", "fb"),  # option.py:28-30 -> mgfn.py:137: glance, then two focus stages
    "dim_head": 64,  # mgfn.py:141; heads = stage dim // dim_head (mgfn.py:156) -> 1, 2, 16
    "ff_repe": 4,  # mgfn.py:140: FFN hidden width = 4 x dim (utils.py:114-121)
    "ff_dropout": 0.0,  # mgfn.py:142 dropout=0. (FFN); attention_dropout=0. (mgfn.py:143) is unused by GLANCE
    "focus_kernel": 5,  # Backbone kernel=5 (mgfn.py:96) -> FOCUS local_aggr_kernel; lokernel=5 (:138) unused
    "ln_eps": 1e-5,  # utils.py:102 channel LayerNorm, eps added to the std (not the variance)
    "mag_ratio": 0.1,  # option.py:14 --mag_ratio; FAM x = conv(X) + 0.1 * conv(||X||) (mgfn.py:189-191)
    # --- magnitude selection (MSNSD, mgfn.py:18-86) ---
    "k": 3,  # mgfn.py:184 (literal)
    "dropout_rate": 0.7,  # option.py:33 -> mgfn.py:180: dropout on an all-ones mask over the magnitudes
    # before top-k (mgfn.py:43-48, 65-68), training only; the network itself has no active dropout
    # --- loss (train.py) ---
    "margin": 200.0,  # train.py:22 ContrastiveLoss(margin=200.0), built with the default at train.py:51
    "w_mc": 1e-3,  # train.py:72 loss_cls + 0.001 * (0.001 * loss_con + loss_con_a + loss_con_n)
    "w_mc_inter": 1e-3,  # train.py:72 the inner 0.001 on the normal-vs-abnormal term (total 1e-6)
    "w_sparse": 8e-3,  # train.py:88 sparsity(..., 8e-3)
    "w_smooth": 8e-4,  # train.py:90 smooth(scores, 8e-4)
    # --- where the original's code is buggy or ambiguous (docs/methods/mgfn.md, "Differences") ---
    # "videos": the intra-class MC terms pair crop c of video b with crop c of video b + B//2 (the
    # stated aim: consistent magnitudes across scenes, i.e. across videos). "original": the first
    # half of the crop-major stack of selected rows against the second half (train.py:62-71 on
    # mgfn.py:51-58); with C = 10 crops that pairs crop c with crop c+5 of the SAME video.
    # Identical when C == 1 and B is even.
    "mc_pairing": "videos",
    # "head": the repository now (a6588e1): sparsity on the normal videos' scores, smoothness
    # within each video over all 2B videos (train.py:88-90). "release": ab9062c, the authors'
    # first train.py: both on the flattened abnormal scores, smoothness running across the
    # boundaries between videos (inherited from RTFM).
    "regularizers": "head",
    # True reproduces mgfn.py:38-41 in training: with one bag per class (batch_size 1) the
    # original takes its "inference" branch and uses the NORMAL bag in place of the abnormal one.
    "single_bag_alias": False,
}

MC_PAIRINGS = ("videos", "original")
REGULARIZERS = ("head", "release")


def _cfg(cfg: dict | None) -> dict:
    c = {**DEFAULTS, **(cfg or {})}
    if c["mc_pairing"] not in MC_PAIRINGS:
        raise ValueError(f"mc_pairing must be one of {MC_PAIRINGS}, got {c['mc_pairing']!r}")
    if c["regularizers"] not in REGULARIZERS:
        raise ValueError(f"regularizers must be one of {REGULARIZERS}, got {c['regularizers']!r}")
    if not (len(c["dims"]) == len(c["depths"]) == len(c["block_types"])):
        raise ValueError("dims, depths and block_types must have one entry per stage")
    return c


# ----------------------------------------------------------------------------------------- segments

def segment(feats: np.ndarray, n: int = 32) -> np.ndarray:
    """``[T, D]`` feature rows -> ``[n, D]`` float32 training segments (utils.py:34-42).

    Boundaries r_i = floor(i·T/n), i = 0..n, from ``np.linspace(0, T, n+1)``; segment i is
    the mean of rows r_i..r_{i+1}-1, or row r_i alone when r_i == r_{i+1} (T < n: rows repeat).
    Every row is used once when T >= n. The original applies it to each crop separately
    (dataset.py:72-77).
    """
    feats = np.asarray(feats)
    if feats.ndim != 2:
        raise ValueError(f"segment() takes [T, D] rows, got shape {feats.shape}")
    t = feats.shape[0]
    if t < 1 or n < 1:
        raise ValueError(f"need T >= 1 rows and n >= 1 segments, got T={t}, n={n}")
    r = np.floor(np.linspace(0, t, n + 1)).astype(np.int64)
    out = np.zeros((n, feats.shape[1]), dtype=np.float32)
    for i in range(n):
        out[i, :] = feats[r[i]:r[i + 1], :].mean(0) if r[i] != r[i + 1] else feats[r[i], :]
    return out


# ------------------------------------------------------------------------------------------ network

class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of ``[N, C, T]``: (x - mean) / (std + eps) * g + b (utils.py:101-111)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1, dim, 1))
        self.b = nn.Parameter(torch.zeros(1, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = torch.var(x, dim=1, unbiased=False, keepdim=True).sqrt()
        mean = torch.mean(x, dim=1, keepdim=True)
        return (x - mean) / (std + self.eps) * self.g + self.b


def feed_forward(dim: int, repe: int, dropout: float, eps: float) -> nn.Sequential:
    """Norm, 1x1 conv to repe·dim, GELU, dropout, 1x1 conv back (utils.py:114-121)."""
    return nn.Sequential(ChannelLayerNorm(dim, eps), nn.Conv1d(dim, dim * repe, 1), nn.GELU(),
                         nn.Dropout(dropout), nn.Conv1d(dim * repe, dim, 1))


class Glance(nn.Module):
    """Glance block's relation aggregator: multi-head self-attention over ALL T rows (utils.py:150-180)."""

    def __init__(self, dim: int, heads: int, dim_head: int, eps: float) -> None:
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        self.scale = dim_head ** -0.5
        inner = heads * dim_head
        self.norm = ChannelLayerNorm(dim, eps)
        self.to_qkv = nn.Conv1d(dim, inner * 3, 1, bias=False)
        self.to_out = nn.Conv1d(inner, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        n, _, t = x.shape
        # channels are (head, d) with the head outer; -> [N, heads, T, d]
        q, k, v = (z.reshape(n, self.heads, self.dim_head, t).transpose(2, 3)
                   for z in self.to_qkv(x).chunk(3, dim=1))
        attn = torch.einsum("bhid,bhjd->bhij", q * self.scale, k).softmax(dim=-1)  # [N, h, T, T]
        out = torch.einsum("bhij,bhjd->bhid", attn, v)  # [N, h, T, d]
        return self.to_out(out.transpose(2, 3).reshape(n, self.heads * self.dim_head, t))


class Focus(nn.Module):
    """Focus block's relation aggregator (utils.py:124-147): BatchNorm, 1x1 conv to heads·dim_head
    channels, then one temporal conv (kernel 5) per head whose weights are shared by all dim_head
    channel groups (channels are (group, head) with the head inner), then a 1x1 conv back."""

    def __init__(self, dim: int, heads: int, dim_head: int, kernel: int) -> None:
        super().__init__()
        self.heads = heads
        inner = heads * dim_head
        self.norm = nn.BatchNorm1d(dim)
        self.to_v = nn.Conv1d(dim, inner, 1, bias=False)
        self.rel_pos = nn.Conv1d(heads, heads, kernel, padding=kernel // 2, groups=heads)
        self.to_out = nn.Conv1d(inner, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        v = self.to_v(x)
        n, inner, t = v.shape
        out = self.rel_pos(v.reshape(n * (inner // self.heads), self.heads, t))
        return self.to_out(out.reshape(n, inner, t))


class Backbone(nn.Module):
    """``depth`` layers of x += conv3(x); x += aggregator(x); x += FFN(x) (mgfn.py:88-126)."""

    def __init__(self, dim: int, depth: int, heads: int, kind: str, c: dict) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(depth):
            if kind == "fb":
                agg: nn.Module = Focus(dim, heads, c["dim_head"], c["focus_kernel"])
            elif kind == "gb":
                agg = Glance(dim, heads, c["dim_head"], c["ln_eps"])
            else:
                raise ValueError(f"unknown block type {kind!r} (expected 'gb' or 'fb')")
            self.layers.append(nn.ModuleList([nn.Conv1d(dim, dim, 3, padding=1), agg,
                                              feed_forward(dim, c["ff_repe"], c["ff_dropout"], c["ln_eps"])]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for scc, agg, ff in self.layers:
            x = scc(x) + x
            x = agg(x) + x
            x = ff(x) + x
        return x


class Out(NamedTuple):
    """The original forward's five outputs (mgfn.py:201-203), in its order and under its names.

    n = bags per class, C = crops, F = last stage width (1024), k = 3.
    """
    score_abnormal: torch.Tensor  # [n, 1] mean crop-averaged score of each abnormal bag's top-k rows
    score_normal: torch.Tensor  # [n, 1] same for the normal bags
    abn_feamagnitude: torch.Tensor  # [C·n, k, F] the abnormal bags' top-k row features, crop-major
    nor_feamagnitude: torch.Tensor  # [C·n, k, F] (row c·n + b = crop c of bag b), despite the name
    scores: torch.Tensor  # [B, T, 1] per-row sigmoid scores averaged over crops, all bags


class Net(nn.Module):
    """MGFN for ``[B, C, T, in_dim]`` inputs (module layout and state_dict keys as mgfn.py:130-182,
    so the authors' checkpoints load into ``Net(2048, {})``).

    Feature amplification (FAM): X -> conv3(X) + mag_ratio·conv3(||X||_2); then a glance stage
    (dim 64), a channel-norm + 1x1 conv to 128, a focus stage, norm + conv to 1024, a focus
    stage; LayerNorm; linear to one logit; sigmoid. Then the magnitude-based top-k selection.
    """

    def __init__(self, in_dim: int, cfg: dict | None = None) -> None:
        super().__init__()
        c = self.cfg = _cfg(cfg)
        dims, eps = tuple(c["dims"]), c["ln_eps"]
        self.in_dim = int(in_dim)
        self.to_tokens = nn.Conv1d(self.in_dim, dims[0], kernel_size=3, stride=1, padding=1)
        self.stages = nn.ModuleList()
        for i, (depth, kind) in enumerate(zip(c["depths"], c["block_types"])):
            last = i == len(dims) - 1
            self.stages.append(nn.ModuleList([
                Backbone(dims[i], depth, dims[i] // c["dim_head"], kind.lower(), c),
                None if last else nn.Sequential(ChannelLayerNorm(dims[i], eps), nn.Conv1d(dims[i], dims[i + 1], 1)),
            ]))
        self.to_logits = nn.Sequential(nn.LayerNorm(dims[-1]))
        self.fc = nn.Linear(dims[-1], 1)
        self.sigmoid = nn.Sigmoid()
        self.drop_out = nn.Dropout(c["dropout_rate"])
        self.to_mag = nn.Conv1d(1, dims[0], kernel_size=3, stride=1, padding=1)

    def embed(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, C, T, D]`` -> (row features ``[B·C, T, F]`` after the final LayerNorm, sigmoid scores ``[B·C, T, 1]``)."""
        if video.dim() != 4 or video.shape[-1] != self.in_dim:
            raise ValueError(f"expected [B, C, T, {self.in_dim}], got {tuple(video.shape)}")
        b, c, t, d = video.shape
        x = video.reshape(b * c, t, d).permute(0, 2, 1)  # [N, D, T]
        mag = torch.linalg.vector_norm(x, dim=1, keepdim=True)  # [N, 1, T]: the loader's extra channel
        x = self.to_tokens(x) + self.cfg["mag_ratio"] * self.to_mag(mag)
        for backbone, conv in self.stages:
            x = backbone(x)
            if conv is not None:
                x = conv(x)
        x = self.to_logits(x.permute(0, 2, 1))
        return x, self.sigmoid(self.fc(x))

    def crop_scores(self, video: torch.Tensor) -> torch.Tensor:
        """Per-row scores averaged over crops, ``[B, T, 1]`` (the ``scores`` output, without the selection)."""
        b, c, t, _ = video.shape
        return self.embed(video)[1].view(b, c, -1).mean(1).unsqueeze(2)

    def forward(self, video: torch.Tensor, n_normal: int | None = None) -> Out:
        """``video``: the n normal bags then the n abnormal bags (train.py:84), or one bag (inference).

        ``n_normal`` defaults to B // 2 (B >= 2) or 1. With no abnormal bags the abnormal outputs
        repeat the normal ones, as the original's inference branch (mgfn.py:38-41).
        """
        b, c, t, _ = video.shape
        features, scores = self.embed(video)
        return self.select(features, scores, b, c, n_normal)

    def select(self, features: torch.Tensor, scores: torch.Tensor, b: int, c: int, n_normal: int | None = None) -> Out:
        """Magnitude-based top-k selection (MSNSD, mgfn.py:18-86)."""
        n = n_normal if n_normal is not None else (b // 2 if b >= 2 else 1)
        if not 1 <= n <= b or b - n not in (0, n):
            raise ValueError(f"need n normal then n abnormal bags (or one set only): B={b}, n_normal={n}")
        _, t, f = features.shape
        k = min(self.cfg["k"], t)
        scores = scores.view(b, c, -1).mean(1).unsqueeze(2)  # [B, T, 1]
        mags = torch.norm(features, p=2, dim=2).view(b, c, -1).mean(1)  # [B, T]
        nor_feat, abn_feat = features[:n * c], features[n * c:]
        nor_scores, abn_scores = scores[:n], scores[n:]
        nor_mag, abn_mag = mags[:n], mags[n:]
        if b == n or (self.cfg["single_bag_alias"] and n == 1):
            abn_feat, abn_scores, abn_mag = nor_feat, nor_scores, nor_mag

        def pick(feat, sc, mag):
            keep = self.drop_out(torch.ones_like(nor_mag))  # training: 0 or 1/(1-p); eval: 1
            idx = torch.topk(mag * keep, k, dim=1)[1]  # [n, k]
            sel = torch.gather(feat.view(n, c, t, f), 2, idx[:, None, :, None].expand(n, c, k, f))
            return sel.permute(1, 0, 2, 3).reshape(c * n, k, f), torch.mean(torch.gather(sc, 1, idx.unsqueeze(2)), dim=1)

        abn_sel, score_abnormal = pick(abn_feat, abn_scores, abn_mag)  # abnormal mask drawn first, as the original
        nor_sel, score_normal = pick(nor_feat, nor_scores, nor_mag)
        return Out(score_abnormal, score_normal, abn_sel, nor_sel, scores)


def build(in_dim: int, cfg: dict | None = None) -> Net:
    """A freshly initialised :class:`Net` (PyTorch default initialisation, as the original)."""
    return Net(in_dim, cfg)


def optimizer(net: nn.Module, cfg: dict | None = None) -> torch.optim.Optimizer:
    """Adam(lr 1e-3, weight_decay 5e-4) over all parameters (main.py:62-63). No scheduler: the
    original's per-epoch lr list (main.py:79-81) is constant by default."""
    c = _cfg(cfg)
    if c["optimizer"] != "adam":
        raise ValueError(f"only the original's optimizer 'adam' is implemented, got {c['optimizer']!r}")
    return torch.optim.Adam(net.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])


# --------------------------------------------------------------------------------------------- loss

def contrastive(o1: torch.Tensor, o2: torch.Tensor, label: int, margin: float) -> torch.Tensor:
    """mean((1-l)·d² + l·max(0, margin - d)²), d = ||o1 - o2 + 1e-6||_2 per row (train.py:21-30)."""
    d = F.pairwise_distance(o1, o2, keepdim=True)
    return torch.mean((1 - label) * torch.pow(d, 2) + label * torch.pow(torch.clamp(margin - d, min=0.0), 2))


def _halves(sel: torch.Tensor, n: int, c: int, pairing: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The two sides of the intra-class MC pairs from crop-major ``[C·n, k]`` magnitudes."""
    if pairing == "original":
        h = int(len(sel) / 2)  # train.py:62 seperate = len(...) / 2
        return sel[h:], sel[:h]
    m = n // 2
    if m == 0:
        return None
    v = sel.view(c, n, -1)
    return v[:, m:2 * m].reshape(c * m, -1), v[:, :m].reshape(c * m, -1)


def loss(net: Net, normal: torch.Tensor, abnormal: torch.Tensor, cfg: dict | None = None
         ) -> tuple[torch.Tensor, dict[str, float]]:
    """One training iteration's loss (train.py:84-100) on n normal and n abnormal bags ``[n, C, T, D]``.

    Puts ``net`` in training mode (train.py:80). total = BCE(top-k scores, video labels)
    + w_mc·(w_mc_inter·MC_inter + MC_abnormal + MC_normal) + w_smooth·smooth + w_sparse·sparse;
    ``parts`` holds the unweighted terms and the total as floats.
    """
    c = _cfg(cfg)
    if normal.shape != abnormal.shape or normal.dim() != 4:
        raise ValueError(f"normal and abnormal must both be [n, C, T, D], got {tuple(normal.shape)}, {tuple(abnormal.shape)}")
    n, crops = normal.shape[0], normal.shape[1]
    dev = next(net.parameters()).device
    net.train()
    out = net(torch.cat((normal, abnormal), 0).to(dev), n_normal=n)
    s = out.scores  # [2n, T, 1]
    if c["regularizers"] == "head":
        sparse = torch.mean(torch.norm(s[:n].reshape(-1), dim=0))  # train.py:8-10, 88: an L2 norm, not L1
        smooth = torch.sum((s[:, 1:, :] - s[:, :-1, :]) ** 2)  # train.py:12-18, 90
    else:  # ab9062c train.py:8-20, 88-98
        a = s[n:].reshape(-1)
        sparse = torch.mean(torch.norm(a, dim=0))
        smooth = torch.sum((a[1:] - a[:-1]) ** 2)  # crosses video boundaries; last difference 0
    score = torch.cat((out.score_normal, out.score_abnormal), 0).squeeze()
    label = torch.cat((torch.zeros(n), torch.ones(n))).to(score)
    bce = F.binary_cross_entropy(score.reshape(-1), label)  # train.py:50, 64 nn.BCELoss on sigmoid scores
    nor_m = torch.norm(out.nor_feamagnitude, p=1, dim=2)  # [C·n, k] L1 norms of the selected rows
    abn_m = torch.norm(out.abn_feamagnitude, p=1, dim=2)
    mc_inter = contrastive(abn_m, nor_m, 1, c["margin"])  # push abnormal from normal (train.py:65)
    zero = bce.new_zeros(())
    pn, pa = _halves(nor_m, n, crops, c["mc_pairing"]), _halves(abn_m, n, crops, c["mc_pairing"])
    mc_normal = contrastive(pn[0], pn[1], 0, c["margin"]) if pn is not None else zero  # train.py:67-69
    mc_abnormal = contrastive(pa[0], pa[1], 0, c["margin"]) if pa is not None else zero  # train.py:70-71
    total = (bce + c["w_mc"] * (c["w_mc_inter"] * mc_inter + mc_abnormal + mc_normal)
             + c["w_smooth"] * smooth + c["w_sparse"] * sparse)
    parts = {"bce": bce, "mc_inter": mc_inter, "mc_normal": mc_normal, "mc_abnormal": mc_abnormal,
             "smooth": smooth, "sparse": sparse, "total": total}
    return total, {key: float(v.detach()) for key, v in parts.items()}


# ---------------------------------------------------------------------------------------- inference

def snippet_scores(net: Net, x: torch.Tensor) -> np.ndarray:
    """Scores ``[T]`` of one whole test video ``x: [C, T, D]`` (test.py:13-28): eval mode, all crops,
    the sigmoid scores averaged over crops. The original then repeats each 16 times for frames
    (test.py:32). The module's train/eval mode is restored afterwards."""
    if x.dim() != 3:
        raise ValueError(f"snippet_scores() takes one video [C, T, D], got {tuple(x.shape)}")
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            s = net.crop_scores(x[None].to(next(net.parameters()).device))
    finally:
        net.train(was_training)
    return s.reshape(-1).cpu().numpy()
