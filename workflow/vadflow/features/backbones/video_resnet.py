"""R3D-18 and R(2+1)D-18 in the torchvision video-resnet layout (docs/backbones.md §4).

Module names are torchvision's (``torchvision/models/video/resnet.py``), so
``r3d_18-b3b3357e.pth`` and ``r2plus1d_18-91a641e6.pth`` load without renaming. The feature is
the 512-d average pool after layer4. kenshohara's ``r2p1d18_K_200ep.pth`` is a different layout
(family ``r2p1d_kenshohara_basic``) and is refused with its family named.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, Preset


def _bn(c: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(c)  # torchvision's defaults: eps 1e-5


def conv3d_simple(cin: int, cout: int, mid: int, stride: int = 1) -> nn.Module:
    """R3D: one 3x3x3 conv (``mid`` unused, as in torchvision's Conv3DSimple)."""
    return nn.Conv3d(cin, cout, 3, stride, 1, bias=False)


def conv2plus1d(cin: int, cout: int, mid: int, stride: int = 1) -> nn.Module:
    """R(2+1)D: 1x3x3 (spatial stride) -> BN -> ReLU -> 3x1x1 (temporal stride); keys .0 .1 .3."""
    return nn.Sequential(
        nn.Conv3d(cin, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
        _bn(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, cout, (3, 1, 1), (stride, 1, 1), (1, 0, 0), bias=False),
    )


class BasicBlock(nn.Module):
    """torchvision video BasicBlock: ``conv1 = (conv, BN, ReLU)``, ``conv2 = (conv, BN)``."""

    def __init__(self, cin: int, planes: int, conv_builder, stride: int = 1) -> None:
        super().__init__()
        # Computed from the block's *input* planes and used for both convs (torchvision).
        mid = (cin * planes * 27) // (cin * 9 + 3 * planes)
        self.conv1 = nn.Sequential(conv_builder(cin, planes, mid, stride), _bn(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv_builder(planes, planes, mid), _bn(planes))
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv3d(cin, planes, 1, stride, bias=False), _bn(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return F.relu(self.conv2(self.conv1(x)) + residual)


class VideoResNet18(nn.Module):
    """R3D-18 (``kind="r3d"``) or R(2+1)D-18 (``kind="r2plus1d"``) trunk; ``head=True`` adds ``fc``."""

    def __init__(self, kind: str, head: bool = False, num_classes: int = 400) -> None:
        super().__init__()
        if kind == "r3d":
            builder = conv3d_simple
            self.stem = nn.Sequential(
                nn.Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False), _bn(64), nn.ReLU(inplace=True))
        elif kind == "r2plus1d":
            builder = conv2plus1d
            self.stem = nn.Sequential(
                nn.Conv3d(3, 45, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False), _bn(45), nn.ReLU(inplace=True),
                nn.Conv3d(45, 64, (3, 1, 1), 1, (1, 0, 0), bias=False), _bn(64), nn.ReLU(inplace=True))
        else:
            raise ValueError(f"kind must be 'r3d' or 'r2plus1d', got {kind!r}")
        cin = 64
        for i, (planes, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(cin, planes, builder, stride),
                                                     BasicBlock(planes, planes, builder)))
            cin = planes
        if head:
            self.fc = nn.Linear(512, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, T, H, W]`` -> layer4 ``[B, 512, T/8, H/16, W/16]`` (16x112x112 -> 2x7x7)."""
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """512-d average pool after layer4, ``[B, 512]``."""
        return self.features(x).mean(dim=(2, 3, 4))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Kinetics-400 scores (needs ``head=True``)."""
        return self.fc(self.forward(x))


def _std_preset(mean: tuple[float, float, float], std: tuple[float, float, float], **geometry: Any) -> Preset:
    """``(x/255 - mean) / std`` written as ``(x - 255 mean) * 1/(255 std)`` on 0-255 values."""
    return Preset(mean=tuple(255.0 * m for m in mean), scale=tuple(1.0 / (255.0 * s) for s in std),
                  geometry=geometry)


PRESETS = {
    # torchvision's video preset (also v-iashin extract_r21d.py): [0, 1], Kinetics mean/std.
    "torchvision": _std_preset((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989),
                               resize=[128, 171], crop=112),
}
DEFAULTS = {"clip_len": 16, "stride": 16, "resize": [128, 171], "crop": 112, "preprocess": "torchvision"}


def _backbone(name: str, kind: str, family: str, file: str) -> Backbone:
    return Backbone(
        name=name,
        dim=512,
        defaults=DEFAULTS,
        presets=PRESETS,
        make_model=lambda cfg: VideoResNet18(kind, head=bool(cfg.get("head", False))),
        families=(family,),
        checkpoint_hint=(
            f"{name} needs the torchvision Kinetics-400 weights `{file}` "
            f"(https://download.pytorch.org/models/{file}); torchvision itself is not needed. "
            "Download it and set `{key}: /path/to/" + file + "`."
        ),
    )


R3D_18 = _backbone("r3d_18", "r3d", "r3d_18_tv", "r3d_18-b3b3357e.pth")
R2PLUS1D_18 = _backbone("r2plus1d_18", "r2plus1d", "r2plus1d_18_tv", "r2plus1d_18-91a641e6.pth")
