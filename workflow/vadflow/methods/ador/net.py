"""ADOR's clip encoder (docs/methods/ador.md §4): action and object-relation streams with cross-attention.

Per clip, the action stream reads the I3D map as H'W' tokens (+ [CLS_a], sinusoidal positions)
and the object stream reads up to K detected objects (+ [CLS_o], no positions; geometry enters
through the box attention of §4.2). The first N/2 layers of each stream attend to themselves;
the last N/2 attend, with plain attention, to the *other* stream's output after its first half
(Formula 16). z = [CLS_a; CLS_o] (1024-d at d = 512). The single-encoder ablations (Table 5.1)
use one stream with N self-attention layers and z = its [CLS] (512-d).

Written out (not nn.MultiheadAttention) because the box attention adds a per-head log-weight
to the logits, and the tests read keys, values and attention rows directly.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ENCODERS = ("both", "action", "object")


def sinusoid_positions(n: int, d: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...), ``[n, d]`` (pos 0 = [CLS])."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    div = torch.pow(10000.0, torch.arange(0, d, 2, dtype=torch.float32) / d)
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(pos / div)
    pe[:, 1::2] = torch.cos(pos / div)[:, : d // 2]
    return pe


def box_relation(boxes: torch.Tensor) -> torch.Tensor:
    """Formula 4: ``boxes`` [..., K, 4] pixels (x1, y1, x2, y2) -> lambda(a, b) [..., K, K, 4], a = query.

    lambda = (log max(|x_a - x_b| / w_a, 1e-3), log max(|y_a - y_b| / h_a, 1e-3), log(w_b / w_a),
    log(h_b / h_a)), centres and sizes from the box, w and h clamped to >= 1 px."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    w, h = (x2 - x1).clamp(min=1.0), (y2 - y1).clamp(min=1.0)
    dx = torch.log(((cx[..., :, None] - cx[..., None, :]).abs() / w[..., :, None]).clamp(min=1e-3))
    dy = torch.log(((cy[..., :, None] - cy[..., None, :]).abs() / h[..., :, None]).clamp(min=1e-3))
    dw = torch.log(w[..., None, :] / w[..., :, None])
    dh = torch.log(h[..., None, :] / h[..., :, None])
    return torch.stack([dx, dy, dw, dh], dim=-1)


def relation_embedding(lam: torch.Tensor, dim: int = 64, wave_len: float = 1000.0) -> torch.Tensor:
    """Formula 5 as in [H, V]: theta_{c,f} = 100 * lambda_c / wave_len^(f / (dim/8)),
    Emb = [sin theta (c-major), cos theta], ``[..., dim]``."""
    n_freq = dim // 8
    freq = torch.pow(wave_len, torch.arange(n_freq, dtype=lam.dtype, device=lam.device) / n_freq)
    theta = (100.0 * lam[..., :, None] / freq).flatten(-2)  # [..., 4 * n_freq], c-major
    return torch.cat([torch.sin(theta), torch.cos(theta)], dim=-1)


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention with h heads; ``bias`` [N, h, Lq, Lk] is added to the logits
    (the box attention's r * log g), ``key_valid`` [N, Lk] masks keys (logit -inf)."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        if d % heads:
            raise ValueError(f"d_model {d} is not divisible by heads {heads}")
        self.h, self.dk = heads, d // heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.drop = nn.Dropout(dropout)
        self.last_weights: torch.Tensor | None = None  # set when keep_weights is True (tests)
        self.keep_weights = False

    def forward(self, query: torch.Tensor, memory: torch.Tensor, key_valid: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        n, lq, d = query.shape
        lk = memory.shape[1]
        q = self.q(query).view(n, lq, self.h, self.dk).transpose(1, 2)
        k = self.k(memory).view(n, lk, self.h, self.dk).transpose(1, 2)
        v = self.v(memory).view(n, lk, self.h, self.dk).transpose(1, 2)
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.dk)
        if bias is not None:
            logits = logits + bias
        if key_valid is not None:
            logits = logits.masked_fill(~key_valid[:, None, None, :], float("-inf"))
        weights = torch.softmax(logits, dim=-1)
        if self.keep_weights:
            self.last_weights = weights.detach()
        out = (self.drop(weights) @ v).transpose(1, 2).reshape(n, lq, d)
        return self.o(out)


class BoxGeometry(nn.Module):
    """Per-head relation weights g^h_ab = ReLU(W_G^h Emb(lambda(a, b)) + b^h) of §4.2, returned as
    the logit bias r_ab * log max(g, 1e-6) over the [CLS] + K tokens (r = 0 on [CLS] rows/cols)."""

    def __init__(self, heads: int, emb_dim: int = 64) -> None:
        super().__init__()
        self.w_g = nn.Linear(emb_dim, heads)  # one Linear(64 -> 1) per head, stacked

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        """emb [N, K, K, 64] -> bias [N, h, K+1, K+1]."""
        g = torch.relu(self.w_g(emb))  # [N, K, K, h]
        logg = torch.log(g.clamp(min=1e-6)).permute(0, 3, 1, 2)
        return F.pad(logg, (1, 0, 1, 0))  # [CLS] row and column: r = 0, bias 0


class EncoderLayer(nn.Module):
    """Pre-LN layer: x += Drop(Attn(LN(x), memory)); x += Drop(FFN(LN(x))). ``memory`` None =
    self-attention on LN(x); else cross-attention on the fixed (already normalised) memory."""

    def __init__(self, d: int, heads: int, ffn: int, dropout: float, box: bool = False) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = MultiHeadAttention(d, heads, dropout)
        self.geometry = BoxGeometry(heads) if box else None
        self.ffn = nn.Sequential(nn.Linear(d, ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn, d))
        self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_valid: torch.Tensor | None = None, memory: torch.Tensor | None = None,
                emb: torch.Tensor | None = None) -> torch.Tensor:
        y = self.norm1(x)
        bias = self.geometry(emb) if self.geometry is not None else None
        x = x + self.drop1(self.attn(y, y if memory is None else memory, key_valid, bias))
        return x + self.drop2(self.ffn(self.norm2(x)))


class Stack(nn.Module):
    """Layers followed by a LayerNorm (each half-stack ends with one, §4)."""

    def __init__(self, n: int, d: int, heads: int, ffn: int, dropout: float, box: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d, heads, ffn, dropout, box) for _ in range(n))
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, key_valid: torch.Tensor | None = None, memory: torch.Tensor | None = None,
                emb: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, key_valid, memory, emb)
        return self.norm(x)


class ClipEncoder(nn.Module):
    """Clip -> z. ``encoder``: ``both`` (ADOR), ``action`` or ``object`` (single-stream ablations)."""

    def __init__(self, action_dim: int, object_dim: int, encoder: str = "both", d: int = 512, heads: int = 8,
                 ffn: int = 2048, half_layers: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
        self.encoder, self.d = encoder, d
        self.use_action, self.use_objects = encoder in ("both", "action"), encoder in ("both", "object")
        self.out_dim = d * (self.use_action + self.use_objects)
        self.drop = nn.Dropout(dropout)
        if self.use_action:
            self.action_in = nn.Conv2d(action_dim, d, 1, bias=False)
            self.cls_a = nn.Parameter(torch.zeros(d))
        if self.use_objects:
            self.object_in = nn.Linear(object_dim, d)
            self.cls_o = nn.Parameter(torch.zeros(d))
        # ADOR: N/2 self layers then N/2 cross layers per stream; ablations: N self layers.
        n_first = half_layers if encoder == "both" else 2 * half_layers
        if self.use_action:
            self.action_self = Stack(n_first, d, heads, ffn, dropout)
        if self.use_objects:
            self.object_self = Stack(n_first, d, heads, ffn, dropout, box=True)
        if encoder == "both":
            self.action_cross = Stack(half_layers, d, heads, ffn, dropout)
            self.object_cross = Stack(half_layers, d, heads, ffn, dropout)
        self._init_weights()

    def _init_weights(self) -> None:
        # [V]: truncated normal (std 0.02) Linear/Conv weights, zero biases; [CLS] vectors likewise.
        for mod in self.modules():
            if isinstance(mod, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(mod.weight, std=0.02)
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)
        for name in ("cls_a", "cls_o"):
            if hasattr(self, name):
                nn.init.trunc_normal_(getattr(self, name), std=0.02)

    def action_tokens(self, maps: torch.Tensor) -> torch.Tensor:
        """[N, C, H', W'] -> A0 [N, 1 + H'W', d]: 1x1 conv, ReLU, dropout, row-major tokens, [CLS_a], PE."""
        p = self.drop(torch.relu(self.action_in(maps))).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_a.expand(len(p), 1, -1), p], dim=1)
        return x + sinusoid_positions(x.shape[1], self.d).to(x)

    def object_tokens(self, feats: torch.Tensor) -> torch.Tensor:
        """[N, K, D_o] -> O0 [N, 1 + K, d]: Linear, ReLU, dropout, [CLS_o] first, no positions."""
        o = self.drop(torch.relu(self.object_in(feats)))
        return torch.cat([self.cls_o.expand(len(o), 1, -1), o], dim=1)

    def forward(self, maps: torch.Tensor | None, feats: torch.Tensor | None, boxes: torch.Tensor | None,
                valid: torch.Tensor | None) -> torch.Tensor:
        """Action maps [N, C, H', W'], object feats [N, K, D_o], pixel boxes [N, K, 4], valid [N, K]
        -> z [N, out_dim]. Invalid objects are masked as keys everywhere; [CLS_o] always is a key,
        so a clip with no object is finite."""
        a_mid = o_mid = o_keys = None
        if self.use_action:
            a_mid = self.action_self(self.action_tokens(maps))
        if self.use_objects:
            n = feats.shape[0]
            o_keys = torch.cat([torch.ones(n, 1, dtype=torch.bool, device=feats.device), valid.bool()], dim=1)
            emb = relation_embedding(box_relation(boxes.float())).to(feats.dtype)
            o_mid = self.object_self(self.object_tokens(feats), o_keys, emb=emb)
        if self.encoder == "action":
            return a_mid[:, 0]
        if self.encoder == "object":
            return o_mid[:, 0]
        # Formula 16: each stream's queries attend to the other stream's first-half output.
        a_out = self.action_cross(a_mid, o_keys, memory=o_mid)
        o_out = self.object_cross(o_mid, None, memory=a_mid)
        return torch.cat([a_out[:, 0], o_out[:, 0]], dim=1)
