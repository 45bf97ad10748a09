"""Clip-wise 3-layer MLP baseline of Table 4.6 (Sultani's network, trained on clip labels).

The thesis gives only "MLP with 3 layers as in baseline network [1], C3D features"; the
layers follow Sultani (docs/methods/mil.md §3): D->512 ReLU, dropout, 512->32 linear, dropout,
32->1 sigmoid, Glorot-normal kernels and zero biases. Written with 1x1 convs so it runs in the shared window loop; every clip is
scored independently, so windows only batch the clips.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from vadflow.methods.base import MethodError
from vadflow.methods.online import ClipPlan
from vadflow.methods.temporal import TemporalMethod, WINDOW_DEFAULTS


class ClipMLP(nn.Module):
    width_multiple = 1

    def __init__(self, in_dim: int, hidden: tuple[int, int] = (512, 32), dropout: float = 0.6) -> None:
        super().__init__()
        h1, h2 = hidden
        self.net = nn.Sequential(
            nn.Conv1d(in_dim, h1, 1),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Conv1d(h1, h2, 1),
            nn.Dropout(dropout),
            nn.Conv1d(h2, 1, 1),
        )
        for layer in self.net:
            if isinstance(layer, nn.Conv1d):
                nn.init.xavier_normal_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """x [B, D, W], m [B, W] -> [1, B, W]."""
        return (torch.sigmoid(self.net(x)).squeeze(1) * m.to(x.dtype)).unsqueeze(0)


class MLP(TemporalMethod):
    kind = "mlp"
    layouts = ("clips",)
    supervision = "frame"
    defaults: ClassVar[dict[str, Any]] = {
        **WINDOW_DEFAULTS,
        "features": "c3d",
        "hidden": [512, 32],
        "dropout": 0.6,
        "lr": 1e-3,
    }

    def build(self, in_dim: int) -> nn.Module:
        hidden = self.cfg["hidden"]
        if len(hidden) != 2:
            raise MethodError(f"mlp: hidden must list the two hidden widths, got {hidden!r}")
        return ClipMLP(in_dim, tuple(hidden), self.cfg["dropout"])

    def online(self) -> ClipPlan:
        """Every clip on its own (the network is clip-wise), so a stream equals the offline scores."""
        def clip_scores(x: np.ndarray) -> np.ndarray:
            xt = torch.from_numpy(np.ascontiguousarray(self.scaler(x).astype(np.float32).T[None]))
            self.net.eval()
            with torch.inference_mode():
                return self.net(xt, torch.ones(1, len(x)))[-1][0].numpy()

        return ClipPlan(row=lambda feature, objects=None: feature, clip_scores=clip_scores, mapping=self.cfg.get("mapping", "average"))
