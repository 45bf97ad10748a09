"""UR-DMU (Zhou, Yu & Yang, AAAI 2023) in plain PyTorch: network, losses, training bags, one step.

Written from the original code (github henrryzh1/UR-DMU; file:line citations below refer to it)
and checked against it by benchmarks/crosscheck_urdmu.py. Imports only torch and numpy.

Input layout. Features are rows of 16-frame snippets. :class:`Net` takes ``[B, T, D]`` (each row
of the batch one bag, i.e. one crop of one video) or ``[B, C, T, D]`` (C crops of each of B
videos; crops are run as separate sequences and their outputs averaged, model.py:55-60, 99).
In the training branch the first half of the batch must be normal and the second half abnormal
(model.py:64-65). :func:`loss` and :func:`snippet_scores` take ``[B, C, T, D]`` / ``[C, T, D]``.

How the original scripts feed crops (ucf_main.py / xd_main.py with dataset_loader.py): every crop
file of a training video is its own list entry, so a training batch is 64 random *crops* of
normal videos and 64 random crops of abnormal videos, each cut into 200 segments
(:func:`segment`), run as ``[128, 200, D]``. :func:`loss` reproduces this with
``train_crops="bags"`` (each of the C crops of the B videos becomes its own bag: pass C = 1 and
random (video, crop) pairs for the original's batch composition). At test time the whole video is
scored crop by crop and the C crop score curves are averaged (ucf_test.py:35-40, xd_test.py:30-32).

Two options select between the paper's evident intent (default) and the code as released:
``local_attn_norm`` ("row" | original "column") and ``kl_sum`` ("feature" | original "time");
``ORIGINAL`` has both set to the released behaviour. docs/methods/urdmu.md explains them.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DEFAULTS: dict[str, Any] = {
    # --- optimisation (identical in ucf_main.py and xd_main.py) ---
    "optimizer": "adam",         # ucf_main.py:54 / xd_main.py:53 torch.optim.Adam
    "lr": 1e-4,                  # options.py:13 '[0.0001]*3000' (a per-step list; a list here too)
    "betas": (0.9, 0.999),       # ucf_main.py:55 / xd_main.py:54
    "weight_decay": 5e-5,        # ucf_main.py:55 / xd_main.py:54 (Adam's L2 form, not AdamW)
    "steps": 3000,               # config.py:7 num_iters = len(lr) = 3000 iterations (not epochs)
    "batch_size": 64,            # ucf_main.py:34,39 / xd_main.py:33,38: 64 normal + 64 abnormal bags
                                 # per step (hard-coded; options.py:14 --batch_size is never read)
    "num_segments": 200,         # ucf_main.py:33,38 / xd_main.py:32,37 training bag length
                                 # (options.py:16 num_segments=32 only reaches the test loader,
                                 # which ignores it: test videos are scored whole)
    "test_interval": 10,         # ucf_main.py:73 test when step % 10 == 0 and step > 10 (+ step 0)
    "select_metric": "auc",      # ucf_main.py:75 best test AUC; XD: "ap" (xd_main.py:74), DATASETS
    "seed": 2022,                # options.py:17, utils.set_seed (torch, numpy, random)
    # --- network (model.py WSAD, translayer.py Transformer, memory.py Memory_Unit) ---
    "embed_dim": 512,            # model.py:36 Temporal(input_size, 512)
    "conv_kernel": 3,            # model.py:12-13 Conv1d kernel_size=3, padding=1, then ReLU
    "depth": 2,                  # model.py:41 Transformer(512, depth=2, ...)
    "heads": 4,                  # model.py:41 heads=4
    "dim_head": 128,             # model.py:41 dim_head=128 (inner 512; q, k, v, t projections)
    "mlp_dim": 512,              # model.py:41 mlp_dim=512 (FeedForward hidden, GELU)
    "dropout": 0.5,              # model.py:41 dropout=0.5 (attention output and both FF layers)
    "a_nums": 60,                # ucf_main.py:29 / xd_main.py:28 abnormal memory slots
    "n_nums": 60,                # ucf_main.py:29 / xd_main.py:28 normal memory slots
    "mem_topk_div": 16,          # memory.py:24 memory top-k = nums // 16 + 1 (= 4 slots)
    "time_topk_div": 16,         # model.py:72,75,78 and train.py:29,32,35: k = T // 16 + 1 snippets
    "head_hidden": 128,          # model.py:25 Linear(1024, 128), ReLU, Linear(128, 1), Sigmoid
    # --- losses (train.py AD_Loss, model.py WSAD.forward) ---
    "triplet_margin": 1.0,       # model.py:37 nn.TripletMarginLoss(margin=1) (p=2, eps=1e-6)
    "distance_margin": 100.0,    # model.py:97 relu(100 - |f_a| + |f_n|)
    "w_cls": 1.0,                # train.py:41 video-level top-k BCE on the scores
    "w_memory": 0.1,             # train.py:41 0.1 * (A_loss + panomaly + N_loss + A_Nloss)
    "w_triplet": 0.1,            # train.py:41 0.1 * triplet
    "w_kl": 0.001,               # train.py:41 0.001 * kl_loss
    "w_distance": 0.0001,        # train.py:41 0.0001 * distance
    # --- paper intent (default) vs released code (option), docs/methods/urdmu.md §Differences ---
    "local_attn_norm": "row",    # "column": translayer.py:60 attn2 / attn2.sum(-1) (no keepdim)
    "kl_sum": "feature",         # "time": model.py:51 torch.sum(..., dim=1) on [B, T, 512]
    # --- how crops enter training (loss()) ---
    "train_crops": "bags",       # every crop its own bag (the original scripts); "mean": the
                                 # model's own 4-D path, crops of a video averaged (model.py:55-57)
}

ORIGINAL: dict[str, Any] = {**DEFAULTS, "local_attn_norm": "column", "kl_sum": "time"}
"""DEFAULTS with the released code's behaviour where it departs from the paper's intent."""

DATASETS: dict[str, dict[str, Any]] = {
    # where the UCF-Crime and XD-Violence scripts differ (training code is shared); combine as
    # {**ORIGINAL, **DATASETS["xd"]}. n_crops: README (10-crop / 5-crop I3D RGB), core ignores it.
    "ucf": {"select_metric": "auc", "n_crops": 10},   # ucf_main.py:75 best test AUC
    "xd": {"select_metric": "ap", "n_crops": 5},      # xd_main.py:74 best test AP
}


def _cfg(cfg: dict | None) -> dict:
    out = {**DEFAULTS, **(cfg or {})}
    if out["local_attn_norm"] not in ("row", "column"):
        raise ValueError(f"local_attn_norm must be 'row' or 'column', not {out['local_attn_norm']!r}")
    if out["kl_sum"] not in ("feature", "time"):
        raise ValueError(f"kl_sum must be 'feature' or 'time', not {out['kl_sum']!r}")
    if out["train_crops"] not in ("bags", "mean"):
        raise ValueError(f"train_crops must be 'bags' or 'mean', not {out['train_crops']!r}")
    return out


# ----------------------------------------------------------------------------- training bags

def segment(feats: np.ndarray, n: int) -> np.ndarray:
    """The original's training bag: ``[T, D]`` (or ``[C, T, D]``, per crop) -> ``[n, D]`` float32.

    Boundaries ``r = floor(linspace(0, T, n + 1))`` (numpy float64 products i·T/n, so e.g. T = 58,
    n = 200 gives r[100] = 28, not 29); segment i is the mean of rows ``r[i]:r[i+1]``, or row r[i]
    itself where ``r[i] == r[i+1]`` (T < n repeats rows). Deterministic: no randomness, the same
    for UCF-Crime (dataset_loader.py:53-59) and XD-Violence (dataset_loader.py:116-122 with
    utils.random_perturb, which despite its name is the same linspace, in uint16: it wraps past
    T = 65535, which this version does not).
    """
    x = np.asarray(feats, dtype=np.float32)
    if x.ndim not in (2, 3):
        raise ValueError(f"segment takes [T, D] or [C, T, D], got shape {x.shape}")
    T = x.shape[-2]
    if T < 1 or n < 1:
        raise ValueError(f"segment needs T >= 1 and n >= 1 (T={T}, n={n})")
    r = np.floor(np.linspace(0, T, n + 1)).astype(np.int64)
    out = np.empty(x.shape[:-2] + (n, x.shape[-1]), np.float32)
    for i in range(n):
        a, b = r[i], r[i + 1]
        out[..., i, :] = x[..., a, :] if a == b else x[..., a:b, :].mean(-2)
    return out


def batch_indices(n_items: int, batch_size: int, steps: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The original's batches of one class: which of ``n_items`` bags each of ``steps`` steps gets.

    DataLoader(shuffle=True, drop_last=True) re-created when ``(step - 1) % (n_items // batch_size)
    == 0`` (ucf_main.py:32-41, 67-70): each pass is a fresh permutation cut into
    ``n_items // batch_size`` full batches; the remainder is dropped. Normal and abnormal classes
    run their own passes (their lengths differ). The permutation comes from ``rng`` (the
    original's came from torch's global generator).
    """
    per_pass = n_items // batch_size
    if per_pass == 0:
        raise ValueError(f"{n_items} bags cannot fill one batch of {batch_size} (drop_last)")
    perm = np.empty(0, np.int64)
    for step in range(1, steps + 1):
        j = (step - 1) % per_pass
        if j == 0:
            perm = rng.permutation(n_items)
        yield perm[j * batch_size:(j + 1) * batch_size]


# ----------------------------------------------------------------------------- network

def local_weights(T: int, norm: str = "row", device=None, dtype=torch.float32) -> torch.Tensor:
    """GL-MHSA local branch weights ``[T, T]``: w_ij = exp(-|i - j| / e), normalised.

    ``"row"``: each query's weights sum to 1. ``"column"`` (translayer.py:56-60): w_ij is divided
    by sum_k w_jk, which by symmetry is the sum of column j, so columns sum to 1 and the rows of
    the first and last few snippets sum to less than 1.
    """
    pos = torch.arange(1, T + 1, device=device, dtype=dtype)
    w = torch.exp(-(pos[None, :] - pos[:, None]).abs() / math.e)
    if norm == "row":
        return w / w.sum(-1, keepdim=True)
    return w / w.sum(-1)  # broadcast over the last axis: w[i, j] / sum_k w[j, k]


class GLAttention(nn.Module):
    """Global (softmax q·k) and local (distance kernel on t) attention per head, concatenated."""

    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float, local_norm: str) -> None:
        super().__init__()
        self.heads, self.dim_head, self.local_norm = heads, dim_head, local_norm
        self.scale = dim_head ** -0.5
        self.qkvt = nn.Linear(dim, 4 * heads * dim_head, bias=False)   # q, k, v, t in that order
        self.proj = nn.Linear(2 * heads * dim_head, dim)               # per head [global | local]
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v, t = self.qkvt(x).view(B, T, 4, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)
        glob = torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * self.scale, dim=-1), v)
        loc = torch.matmul(local_weights(T, self.local_norm, x.device, x.dtype), t)
        out = torch.cat([glob, loc], dim=-1).permute(0, 2, 1, 3).reshape(B, T, 2 * self.heads * self.dim_head)
        return self.drop(self.proj(out))


class Block(nn.Module):
    """Pre-norm residual block: x + GLAttention(LN(x)), then x + FF(LN(x)), FF = Linear-GELU-Linear."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int, dropout: float, local_norm: str) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = GLAttention(dim, heads, dim_head, dropout, local_norm)
        self.norm2 = nn.LayerNorm(dim)
        self.ff1 = nn.Linear(dim, mlp_dim)
        self.ff2 = nn.Linear(mlp_dim, dim)
        self.drop1 = nn.Dropout(dropout)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.drop2(self.ff2(self.drop1(F.gelu(self.ff1(self.norm2(x))))))


def memory_read(x: torch.Tensor, memory: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Memory unit (memory.py:22-26): ``x [B, T, D]``, ``memory [M, D]``.

    a = sigmoid(x·Mᵀ / sqrt(D)) ``[B, T, M]``; score = mean of a's top-k over the M slots ``[B, T]``;
    read = a·M ``[B, T, D]`` (not normalised over slots). Returns ``(score, read, a)``.
    """
    a = torch.sigmoid(torch.matmul(x, memory.t()) / (memory.shape[1] ** 0.5))
    return a.topk(k, dim=-1).values.mean(-1), torch.matmul(a, memory), a


def _l2n(x: torch.Tensor) -> torch.Tensor:
    return x / torch.norm(x, p=2, dim=-1, keepdim=True)  # utils.norm: no epsilon


def kl_term(mu: torch.Tensor, logvar: torch.Tensor, kl_sum: str = "feature") -> torch.Tensor:
    """-1/2 (1 + logvar - mu² - e^logvar) of ``[B, T, D]``, summed over features (``"feature"``:
    the KL of each snippet's Gaussian to N(0, I), averaged over snippets) or over time (``"time"``,
    model.py:51, averaged over bags and features)."""
    inner = 1 + logvar - mu ** 2 - logvar.exp()
    return torch.mean(-0.5 * torch.sum(inner, dim=-1 if kl_sum == "feature" else 1))


class Net(nn.Module):
    """UR-DMU (model.py WSAD): Conv1d embedding, 2 GL-MHSA blocks, dual memory units, the normal
    uncertainty encoders (mu, logvar) and the score head.

    ``forward(x, branch=None, noise=None)``: ``x`` ``[B, T, D]`` or ``[B, C, T, D]``; ``branch``
    "train" | "test" (default: "train" in train mode, "test" in eval mode, as the original scripts
    pair ``net.train()`` with flag "Train"); ``noise`` the reparameterisation's standard normal
    draw (default ``torch.randn_like``, drawn after the dropout masks as in the original).

    Test branch returns ``{"frame": [B, T]}`` (C crops averaged). Train branch (first half of the
    B videos normal, second half abnormal; B even) returns, as model.py:101-110:
    ``frame`` [B, T] scores; ``triplet_margin``, ``kl_loss``, ``distance`` scalars; ``A_att``,
    ``N_Aatt`` [B/2, T]: abnormal, normal memory scores of the abnormal videos; ``N_att``,
    ``A_Natt`` [B/2, T]: normal, abnormal memory scores of the normal videos (crops averaged).
    """

    def __init__(self, in_dim: int, cfg: dict | None = None) -> None:
        super().__init__()
        self.cfg = c = _cfg(cfg)
        d = c["embed_dim"]
        self.embed = nn.Conv1d(in_dim, d, c["conv_kernel"], padding=c["conv_kernel"] // 2)
        self.blocks = nn.ModuleList(
            Block(d, c["heads"], c["dim_head"], c["mlp_dim"], c["dropout"], c["local_attn_norm"])
            for _ in range(c["depth"]))
        bound = 1.0 / math.sqrt(d)  # memory.py:15-19 uniform(-1/sqrt(D), 1/sqrt(D))
        self.memory_a = nn.Parameter(torch.empty(c["a_nums"], d).uniform_(-bound, bound))
        self.memory_n = nn.Parameter(torch.empty(c["n_nums"], d).uniform_(-bound, bound))
        self.enc_mu = nn.Linear(d, d)
        self.enc_logvar = nn.Linear(d, d)
        self.head1 = nn.Linear(2 * d, c["head_hidden"])
        self.head2 = nn.Linear(c["head_hidden"], 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, T, D]`` -> ``[N, T, embed_dim]``: ReLU(Conv1d) then the GL-MHSA blocks."""
        h = torch.relu(self.embed(x.transpose(1, 2))).transpose(1, 2)
        for blk in self.blocks:
            h = blk(h)
        return h

    def score(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head2(torch.relu(self.head1(h))))

    def forward(self, x: torch.Tensor, branch: str | None = None, noise: torch.Tensor | None = None) -> dict:
        if x.dim() == 4:
            b, n, t, d = x.shape
            x = x.reshape(b * n, t, d)
        elif x.dim() == 3:
            (b, t, d), n = x.shape, 1
        else:
            raise ValueError(f"Net takes [B, T, D] or [B, C, T, D], got shape {tuple(x.shape)}")
        branch = branch or ("train" if self.training else "test")
        c = self.cfg
        h = self.encode(x)
        ka, kn = c["a_nums"] // c["mem_topk_div"] + 1, c["n_nums"] // c["mem_topk_div"] + 1

        def crops(v: torch.Tensor, videos: int) -> torch.Tensor:  # [videos*n, ...] -> [videos, ...]
            return v.reshape(videos, n, -1).mean(1)

        if branch == "test":
            _, a_read, _ = memory_read(h, self.memory_a, ka)
            _, n_read, _ = memory_read(h, self.memory_n, kn)
            frame = self.score(torch.cat([h, self.enc_mu(a_read) + self.enc_mu(n_read)], dim=-1))
            return {"frame": crops(frame, b)}
        if branch != "train":
            raise ValueError(f"branch must be 'train' or 'test', not {branch!r}")
        if b % 2:
            raise ValueError(f"the training branch needs as many normal as abnormal videos (B={b})")
        half = b * n // 2
        hn, ha = h[:half], h[half:]
        A_att, a_read, _ = memory_read(ha, self.memory_a, ka)     # abnormal video, abnormal memory
        N_Aatt, na_read, _ = memory_read(ha, self.memory_n, kn)   # abnormal video, normal memory
        A_Natt, an_read, _ = memory_read(hn, self.memory_a, ka)   # normal video, abnormal memory
        N_att, n_read, _ = memory_read(hn, self.memory_n, kn)     # normal video, normal memory

        k = t // c["time_topk_div"] + 1

        def pool(feat: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:  # top-k snippets, mean
            got = torch.gather(feat, 1, idx.unsqueeze(2).expand(-1, -1, feat.shape[-1])).mean(1)
            return crops(got, b // 2)

        a_idx = A_att.topk(k, dim=-1).indices
        n_idx = N_att.topk(k, dim=-1).indices
        p_idx = N_Aatt.topk(k, dim=-1).indices
        negative, anchor, positive = pool(ha, a_idx), pool(hn, n_idx), pool(ha, p_idx)
        triplet = F.triplet_margin_loss(_l2n(anchor), _l2n(positive), _l2n(negative), margin=c["triplet_margin"])

        mu, logvar = self.enc_mu(n_read), self.enc_logvar(n_read)
        std = torch.exp(logvar).sqrt()
        n_new = mu + (torch.randn_like(std) if noise is None else noise) * std
        a_new = self.enc_mu(a_read)
        anchor_new, negative_new = pool(n_new, n_idx), pool(a_new, a_idx)
        kl = kl_term(mu, logvar, c["kl_sum"])
        distance = torch.relu(c["distance_margin"] - torch.norm(negative_new, p=2, dim=-1)
                              + torch.norm(anchor_new, p=2, dim=-1)).mean()
        aug = torch.cat([n_new + self.enc_mu(an_read), a_new + self.enc_mu(na_read)], dim=0)
        frame = self.score(torch.cat([h, aug], dim=-1))
        return {
            "frame": crops(frame, b), "triplet_margin": triplet, "kl_loss": kl, "distance": distance,
            "A_att": crops(A_att, b // 2), "N_att": crops(N_att, b // 2),
            "A_Natt": crops(A_Natt, b // 2), "N_Aatt": crops(N_Aatt, b // 2),
        }


def build(in_dim: int, cfg: dict | None = None) -> Net:
    return Net(in_dim, cfg)


# ----------------------------------------------------------------------------- training

def optimizer(net: nn.Module, cfg: dict | None = None) -> torch.optim.Optimizer:
    """Adam(lr, betas (0.9, 0.999), weight_decay 5e-5) over all parameters (ucf_main.py:54-55)."""
    c = _cfg(cfg)
    return torch.optim.Adam(net.parameters(), lr=lr_at(1, c), betas=tuple(c["betas"]), weight_decay=c["weight_decay"])


def lr_at(step: int, cfg: dict | None = None) -> float:
    """Learning rate of 1-based ``step``: ``cfg["lr"]`` if a number, else its per-step list's
    entry (the original's ``--lr '[...]'`` list, ucf_main.py:64-66; default constant 1e-4)."""
    lr = _cfg(cfg)["lr"]
    return float(lr[min(step, len(lr)) - 1]) if isinstance(lr, (list, tuple)) else float(lr)


def loss_terms(out: dict, cfg: dict | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """train.py AD_Loss on the training branch's outputs (labels: first half 0, second half 1)."""
    c = _cfg(cfg)
    frame = out["frame"]
    b, t = frame.shape[0] // 2, frame.shape[1]
    k = t // c["time_topk_div"] + 1
    labels = torch.cat([frame.new_zeros(b), frame.new_ones(b)])

    def topk_mean(v: torch.Tensor) -> torch.Tensor:
        return v.topk(k, dim=-1).values.mean(-1)

    bce = F.binary_cross_entropy
    parts = {
        "att_loss": bce(topk_mean(frame), labels),                               # train.py:29-30
        "N_Aatt": bce(topk_mean(1 - out["N_Aatt"]), frame.new_ones(b)),          # train.py:32-33
        "A_loss": bce(topk_mean(out["A_att"]), frame.new_ones(b)),               # train.py:35-36
        "N_loss": bce(out["N_att"], torch.ones_like(out["N_att"])),              # train.py:38
        "A_Nloss": bce(out["A_Natt"], torch.zeros_like(out["A_Natt"])),          # train.py:39
        "triplet": out["triplet_margin"], "kl_loss": out["kl_loss"], "distance": out["distance"],
    }
    total = (c["w_cls"] * parts["att_loss"]
             + c["w_memory"] * (parts["A_loss"] + parts["N_Aatt"] + parts["N_loss"] + parts["A_Nloss"])
             + c["w_triplet"] * parts["triplet"] + c["w_kl"] * parts["kl_loss"] + c["w_distance"] * parts["distance"])
    return total, {"total_loss": total, **parts}


def training_batch(normal: torch.Tensor, abnormal: torch.Tensor, cfg: dict | None = None) -> torch.Tensor:
    """The network input of one step: normal bags first, then abnormal (train.py:60).

    ``normal``, ``abnormal`` ``[B, C, T, D]`` (or ``[B, T, D]``, C = 1), the same shape.
    ``train_crops="bags"``: ``[2·B·C, T, D]``, every crop its own bag (the original scripts);
    ``"mean"``: ``[2B, C, T, D]``, the model's 4-D path (crop outputs averaged per video)."""
    c = _cfg(cfg)
    if normal.dim() == 3:
        normal, abnormal = normal[:, None], abnormal[:, None]
    if normal.dim() != 4 or normal.shape != abnormal.shape:
        raise ValueError(f"normal and abnormal must both be [B, C, T, D] of one shape, "
                         f"got {tuple(normal.shape)} and {tuple(abnormal.shape)}")
    if c["train_crops"] == "bags":
        return torch.cat([normal.flatten(0, 1), abnormal.flatten(0, 1)], dim=0)
    return torch.cat([normal, abnormal], dim=0)


def loss(net: Net, normal: torch.Tensor, abnormal: torch.Tensor, cfg: dict | None = None,
         noise: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """One training iteration's loss (train.py:55-65 without the update): the training branch on
    :func:`training_batch`, then :func:`loss_terms`. Dropout follows ``net.training`` (call
    ``net.train()`` first, as the original's ``train()`` does). ``cfg`` gives the loss weights,
    ``time_topk_div`` and ``train_crops``; the terms computed inside the forward (triplet and
    distance margins, ``kl_sum``, ``local_attn_norm``) follow the cfg the net was built with.
    Returns ``(total, parts)``: the total as a tensor, every term as a float."""
    dev = next(net.parameters()).device
    out = net(training_batch(normal, abnormal, cfg).to(dev), branch="train", noise=noise)
    total, parts = loss_terms(out, cfg)
    return total, {k: float(v.detach()) for k, v in parts.items()}


def train_step(net: Net, opt: torch.optim.Optimizer, normal: torch.Tensor, abnormal: torch.Tensor,
               cfg: dict | None = None, step: int | None = None) -> dict[str, float]:
    """train.py:55-68: ``net.train()``, loss, zero_grad, backward, Adam step. With ``step``
    (1-based) the learning rate is first set to :func:`lr_at` (ucf_main.py:64-66)."""
    if step is not None:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
    net.train()
    total, parts = loss(net, normal, abnormal, cfg)
    opt.zero_grad()
    total.backward()
    opt.step()
    return parts


# ----------------------------------------------------------------------------- inference

@torch.no_grad()
def snippet_scores(net: Net, x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Scores of one whole test video ``[C, T, D]`` (or ``[T, D]``): ``[T]`` float32, one per
    feature row. Eval mode, test branch, each crop its own sequence, the C score curves averaged
    (ucf_test.py:35-40 one crop at a time; xd_test.py:30-32 five at once: the same numbers). The
    original then repeats each score 16 times for frame-level evaluation (ucf_test.py:43)."""
    was = net.training
    net.eval()
    try:
        x = torch.as_tensor(x, dtype=torch.float32, device=next(net.parameters()).device)
        if x.dim() == 2:
            x = x[None]
        return net(x, branch="test")["frame"].mean(0).cpu().numpy()
    finally:
        net.train(was)


# ----------------------------------------------------------------------------- checkpoints

_ORIGINAL_KEYS = [
    (r"embedding\.conv_1\.0\.", "embed."),
    (r"selfatt\.layers\.(\d+)\.0\.norm\.", r"blocks.\1.norm1."),
    (r"selfatt\.layers\.(\d+)\.0\.fn\.to_qkv\.", r"blocks.\1.attn.qkvt."),
    (r"selfatt\.layers\.(\d+)\.0\.fn\.to_out\.0\.", r"blocks.\1.attn.proj."),
    (r"selfatt\.layers\.(\d+)\.1\.norm\.", r"blocks.\1.norm2."),
    (r"selfatt\.layers\.(\d+)\.1\.fn\.net\.0\.", r"blocks.\1.ff1."),
    (r"selfatt\.layers\.(\d+)\.1\.fn\.net\.3\.", r"blocks.\1.ff2."),
    (r"Amemory\.memory_block", "memory_a"),
    (r"Nmemory\.memory_block", "memory_n"),
    (r"encoder_mu\.0\.", "enc_mu."),
    (r"encoder_var\.0\.", "enc_logvar."),
    (r"cls_head\.mlp\.0\.", "head1."),
    (r"cls_head\.mlp\.2\.", "head2."),
]


def from_original_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a state dict of the original ``WSAD`` (e.g. its released ``*_trans_2022.pkl``) to
    :class:`Net`'s parameter names; load with ``net.load_state_dict(...)``."""
    out = {}
    for key, value in sd.items():
        for pat, rep in _ORIGINAL_KEYS:
            new, hits = re.subn("^" + pat, rep, key)
            if hits:
                out[new] = value
                break
        else:
            raise KeyError(f"unknown UR-DMU parameter {key!r}")
    return out
