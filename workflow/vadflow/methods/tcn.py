"""Masked multi-stage dilated TCN (MS-TCN adapted to one sigmoid output), docs/methods/adnet.md §3.

Every module takes ``x`` [B, C, W] and a window mask ``m`` [B, W] (1 = real clip, 0 =
padding). Activations are multiplied by the mask after every input 1x1 conv and every
residual layer, so nothing computed from padded positions reaches a real clip.
"""
from __future__ import annotations

import torch
from torch import nn

from vadflow.methods.windows import layers_for_window  # noqa: F401  (Formula 10; its home is windows)


class DilatedResidualLayer(nn.Module):
    def __init__(self, channels: int, dilation: int, kernel: int = 3) -> None:
        super().__init__()
        # "same" zero padding keeps every layer at width W (docs/methods/adnet.md §10.4).
        self.conv_dilated = nn.Conv1d(channels, channels, kernel, padding=dilation * (kernel // 2), dilation=dilation)
        self.conv_1x1 = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        h = self.conv_1x1(torch.relu(self.conv_dilated(x)))
        return (x + h) * m


class Stage(nn.Module):
    def __init__(self, in_dim: int, channels: int, layers: int, kernel: int = 3) -> None:
        super().__init__()
        if kernel < 3 or kernel % 2 == 0:
            raise ValueError(f"kernel must be odd and >= 3, got {kernel}")
        self.conv_in = nn.Conv1d(in_dim, channels, 1)
        self.layers = nn.ModuleList(DilatedResidualLayer(channels, 2**i, kernel) for i in range(layers))
        self.conv_out = nn.Conv1d(channels, 1, 1)

    def logits(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """[B, C_in, W], mask [B, 1, W] -> pre-sigmoid scores [B, 1, W] (garbage at padding)."""
        x = self.conv_in(x) * m
        for layer in self.layers:
            x = layer(x, m)
        return self.conv_out(x)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """[B, C_in, W], mask [B, 1, W] -> scores [B, 1, W] in [0, 1], 0 at padding."""
        return torch.sigmoid(self.logits(x, m)) * m


class MultiStageTCN(nn.Module):
    """S chained stages without weight sharing; every stage's output is returned for supervision."""

    width_multiple = 1

    def __init__(self, in_dim: int, channels: int = 64, stages: int = 5, layers: int = 6, kernel: int = 3) -> None:
        super().__init__()
        if stages < 1:
            raise ValueError(f"stages must be >= 1, got {stages}")
        self.stages = nn.ModuleList(
            Stage(in_dim if s == 0 else 1, channels, layers, kernel) for s in range(stages)
        )

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """x [B, D, W], m [B, W] -> [S, B, W]; the prediction is the last stage."""
        m = m.to(x.dtype).unsqueeze(1)
        outs = []
        y = x
        for stage in self.stages:
            y = stage(y, m)
            outs.append(y.squeeze(1))
        return torch.stack(outs)

    def logits(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid stage outputs [S, B, W] for BCE-with-logits (ADOR, docs/methods/ador.md §5);
        stage s+1 still reads sigmoid(logits_s) * m, so sigmoid(logits) * m == forward()."""
        m = m.to(x.dtype).unsqueeze(1)
        outs = []
        y = x
        for stage in self.stages:
            z = stage.logits(y, m)
            y = torch.sigmoid(z) * m
            outs.append(z.squeeze(1))
        return torch.stack(outs)
