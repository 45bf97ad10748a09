"""Encoder-decoder TCN baseline of Table 4.6 (Lea et al., CVPR 2017), run on ADNet's windows.

Encoder: per level conv(k) -> channel dropout -> normalised ReLU -> max-pool 2.
Decoder: upsample 2 (repeat) -> conv(k) -> channel dropout -> normalised ReLU.
Output: 1x1 conv -> sigmoid (one anomaly score instead of Lea's class softmax).
Defaults follow Lea's released code (levels 64, 96; kernel 25; spatial dropout 0.3).
Activations are masked at every resolution before pooling; since normalised ReLU is
non-negative, a pooled cell mixing a real and a padded clip takes the real clip's value.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vadflow.methods.base import MethodError, Problem
from vadflow.methods.temporal import TemporalMethod, WINDOW_DEFAULTS, window_width


def norm_relu(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """ReLU scaled by its per-time-step channel maximum (Lea's "NormReLU")."""
    x = torch.relu(x)
    return x / (x.amax(dim=1, keepdim=True) + eps)


class EncoderDecoderTCN(nn.Module):
    def __init__(self, in_dim: int, channels: tuple[int, ...] = (64, 96), kernel: int = 25, dropout: float = 0.3) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd so that convs keep the width, got {kernel}")
        dims = [in_dim, *channels]
        self.enc = nn.ModuleList(nn.Conv1d(dims[i], dims[i + 1], kernel, padding=kernel // 2) for i in range(len(channels)))
        rev = list(reversed(channels))
        self.dec = nn.ModuleList(
            nn.Conv1d(rev[max(i - 1, 0)], rev[i], kernel, padding=kernel // 2) for i in range(len(channels))
        )
        self.out = nn.Conv1d(channels[0], 1, 1)
        self.drop = nn.Dropout1d(dropout)
        self.width_multiple = 2 ** len(channels)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """x [B, D, W], m [B, W] -> [1, B, W]; W must be a multiple of ``width_multiple``."""
        m = m.to(x.dtype).unsqueeze(1)
        x = x * m
        masks = []
        for conv in self.enc:
            x = norm_relu(self.drop(conv(x))) * m
            masks.append(m)
            x, m = F.max_pool1d(x, 2), F.max_pool1d(m, 2)
        for conv, m in zip(self.dec, reversed(masks)):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = norm_relu(self.drop(conv(x))) * m
        return (torch.sigmoid(self.out(x)) * m).squeeze(1).unsqueeze(0)


class EDTCN(TemporalMethod):
    kind = "edtcn"
    layouts = ("clips",)
    supervision = "frame"
    defaults: ClassVar[dict[str, Any]] = {
        **WINDOW_DEFAULTS,
        "features": "i3d",
        "enc_channels": [64, 96],
        "kernel": 25,
        "dropout": 0.3,
        "lr": 5e-4,
    }

    @classmethod
    def problems(cls, cfg: dict[str, Any]) -> list[Problem]:
        """An odd kernel (same-width convs) and a window that halves ``len(enc_channels)`` times."""
        levels = len(cfg.get("enc_channels") or [64, 96])
        out = window_width(cfg, max(2, 2**levels))
        k = cfg.get("kernel", 25)
        if isinstance(k, int) and k % 2 == 0:
            out.append(("kernel", "convs keep the width only with an odd kernel; allowed: an odd integer >= 1"))
        return out

    def build(self, in_dim: int) -> nn.Module:
        cfg = self.cfg
        if not cfg["enc_channels"]:
            raise MethodError("edtcn: enc_channels must list at least one encoder level")
        return EncoderDecoderTCN(in_dim, tuple(cfg["enc_channels"]), cfg["kernel"], cfg["dropout"])
