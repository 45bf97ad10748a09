"""BCAE1: the 2-D convolutional autoencoder of seed document 004 (docs/methods/svdd_cae.md §3).

The layer table is the author's ``C2D_AE_128_3x3``: five Conv-BN-activation encoder blocks
(4 stride-2 3x3, then a 4x4 bottleneck with Tanh: z = 96x4x4) and six decoder blocks
(transposed convolutions back to 130x130, a 3x3 Conv and a Sigmoid to 128x128). Padding 0,
biases on; 652,841 parameters for RGB, 650,531 for grey.

The widths (``channels``), the bottleneck kernel and the activations are config keys so the
thesis's own description ([T]: ReLU encoder, LeakyReLU 0.2 decoder) and a small CPU version
for the synthetic default are the same code. An input side N comes back through the table
when N is a multiple of 16 and the bottleneck kernel is at most N/16 - 1 (128: up to 7, the
spec's 4; 64: up to 3).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

#: the spec's BCAE1 (all keys of the method config that shape the network).
DEFAULTS: dict[str, Any] = {"channels": [64, 64, 64, 96], "bottleneck_kernel": 4, "act_enc": "lrelu", "act_dec": "lrelu",
                            "slope": 0.01, "bottleneck_act": "tanh"}


def activation(name: str, slope: float) -> nn.Module:
    acts = {"lrelu": lambda: nn.LeakyReLU(slope), "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity}
    if name not in acts:
        raise ValueError(f"unknown activation {name!r} (expected one of {', '.join(acts)})")
    return acts[name]()


def block(conv: nn.Module, out_ch: int, act: nn.Module) -> nn.Sequential:
    """Conv -> BatchNorm2d -> activation, the unit of every layer of the table."""
    return nn.Sequential(conv, nn.BatchNorm2d(out_ch), act)


class BCAE1(nn.Module):
    """``encoder`` (E1..E5, index 4 = E5) and ``decoder`` (D1..D6); ``forward`` returns (z, x_hat)."""

    def __init__(self, in_ch: int = 3, channels: Sequence[int] = (64, 64, 64, 96), bottleneck_kernel: int = 4,
                 act_enc: str = "lrelu", act_dec: str = "lrelu", slope: float = 0.01, bottleneck_act: str = "tanh") -> None:
        super().__init__()
        c1, c2, c3, c4 = (int(c) for c in channels)
        k = int(bottleneck_kernel)

        def enc(i: int, o: int, kernel: int, stride: int, act: str) -> nn.Sequential:
            return block(nn.Conv2d(i, o, kernel, stride), o, activation(act, slope))

        def dec(i: int, o: int, kernel: int, stride: int) -> nn.Sequential:
            return block(nn.ConvTranspose2d(i, o, kernel, stride), o, activation(act_dec, slope))

        self.encoder = nn.Sequential(
            enc(in_ch, c1, 3, 2, act_enc), enc(c1, c2, 3, 2, act_enc), enc(c2, c3, 3, 2, act_enc), enc(c3, c4, 3, 2, act_enc),
            enc(c4, c4, k, 1, bottleneck_act),
        )
        self.decoder = nn.Sequential(
            dec(c4, c4, k, 1), dec(c4, c3, 3, 2), dec(c3, c2, 3, 2), dec(c2, c1, 4, 2), dec(c1, c1, 4, 2),
            block(nn.Conv2d(c1, in_ch, 3, 1), in_ch, nn.Sigmoid()),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)


def build(cfg: dict[str, Any], in_ch: int) -> BCAE1:
    c = {**DEFAULTS, **{k: cfg[k] for k in DEFAULTS if k in cfg}}
    return BCAE1(in_ch, c["channels"], c["bottleneck_kernel"], c["act_enc"], c["act_dec"], c["slope"], c["bottleneck_act"])


def output_side(side: int, bottleneck_kernel: int) -> int | None:
    """The side the network gives back for a ``side`` x ``side`` input (None: too small)."""
    s = side
    for _ in range(4):
        s = (s - 3) // 2 + 1
        if s < 1:
            return None
    if s - bottleneck_kernel + 1 < 1:
        return None
    # D1 restores s; D2, D3 (3x3, stride 2): 2s+1; D4, D5 (4x4, stride 2): 2s+2; D6 (3x3): -2.
    s = 2 * s + 1
    s = 2 * s + 1
    s = 2 * s + 2
    s = 2 * s + 2
    return s - 2


def check_geometry(size: Sequence[int], bottleneck_kernel: int) -> None:
    """Raise naming the input size when the network cannot reconstruct it pixel for pixel."""
    for side in size:
        out = output_side(int(side), int(bottleneck_kernel))
        if out != int(side):
            raise ValueError(f"BCAE1 with bottleneck_kernel {bottleneck_kernel} maps a {side}-pixel side to {out}: frame sides "
                             f"must be multiples of 16 with side/16 - 1 >= bottleneck_kernel (the spec: 128 with 4; 64 needs <= 3)")


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
