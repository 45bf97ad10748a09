"""R(2+1)D-50 in the kenshohara/3D-ResNets-PyTorch layout (``models/resnet2p1d.py``), docs/methods/lof.md §5.

Module names are kenshohara's, so ``r2p1d50_K_200ep.pth`` / ``r2p1d50_KM_200ep.pth`` load
without renaming (the loader unwraps their ``{"epoch", "arch", "state_dict", ...}`` dict and
strips DataParallel's ``module.``). The feature is the 2048-d average pool after layer4
(used by docs/methods/lof.md). Defaults of the public checkpoints: ``conv1_t_size`` 7, stride 1,
max-pool on, shortcut type B, widen factor 1.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, add_bottleneck_stages
from .video_resnet import _std_preset

EXPANSION = 4


class Bottleneck(nn.Module):
    """1x1x1 -> (1x3x3 spatial, 3x1x1 temporal) -> 1x1x1 (x4), each with BN; type-B shortcut."""

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        mid = (planes * planes * 27) // (planes * 9 + 3 * planes)  # 144/288/576/1152
        self.conv1 = nn.Conv3d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2_s = nn.Conv3d(planes, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False)
        self.bn2_s = nn.BatchNorm3d(mid)
        self.conv2_t = nn.Conv3d(mid, planes, (3, 1, 1), (stride, 1, 1), (1, 0, 0), bias=False)
        self.bn2_t = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, planes * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * EXPANSION)
        self.downsample = None
        if stride != 1 or cin != planes * EXPANSION:
            self.downsample = nn.Sequential(nn.Conv3d(cin, planes * EXPANSION, 1, stride, bias=False),
                                            nn.BatchNorm3d(planes * EXPANSION))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2_s(self.conv2_s(out)))
        out = F.relu(self.bn2_t(self.conv2_t(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return F.relu(out + residual)


class R2Plus1D50(nn.Module):
    """kenshohara ``resnet2p1d`` depth 50 trunk; ``head=True`` adds ``fc`` (700 K700 / 1039 KM classes)."""

    def __init__(self, head: bool = False, num_classes: int = 700, layers=(3, 4, 6, 3)) -> None:
        super().__init__()
        t = 7  # conv1_t_size
        stem_mid = (3 * 64 * t * 49) // (3 * 49 + t * 64)  # 110
        self.conv1_s = nn.Conv3d(3, stem_mid, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False)
        self.bn1_s = nn.BatchNorm3d(stem_mid)
        self.conv1_t = nn.Conv3d(stem_mid, 64, (t, 1, 1), 1, (t // 2, 0, 0), bias=False)
        self.bn1_t = nn.BatchNorm3d(64)
        self.maxpool = nn.MaxPool3d(3, 2, 1)
        add_bottleneck_stages(self, Bottleneck, layers, EXPANSION)
        if head:
            self.fc = nn.Linear(512 * EXPANSION, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, T, H, W]`` -> layer4 ``[B, 2048, T', H', W']`` (16x112x112 -> 1x4x4)."""
        x = F.relu(self.bn1_s(self.conv1_s(x)))
        x = self.maxpool(F.relu(self.bn1_t(self.conv1_t(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """2048-d average pool after layer4, ``[B, 2048]``."""
        return self.features(x).mean(dim=(2, 3, 4))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (needs ``head=True``)."""
        return self.fc(self.forward(x))


PRESETS = {
    # kenshohara main.py/mean.py: Resize(112) short side, CenterCrop(112), ToTensor [0, 1]
    # (value_scale 1), Kinetics mean/std, RGB.
    "kenshohara": _std_preset((0.4345, 0.4051, 0.3775), (0.2768, 0.2713, 0.2737), resize=112, crop=112),
}


def _make(cfg: Mapping[str, Any]) -> R2Plus1D50:
    return R2Plus1D50(head=bool(cfg.get("head", False)), num_classes=int(cfg.get("num_classes", 700)))


BACKBONE = Backbone(
    name="r2plus1d_50",
    dim=2048,
    defaults={"clip_len": 16, "stride": 16, "resize": 112, "crop": 112, "preprocess": "kenshohara"},
    presets=PRESETS,
    make_model=_make,
    families=("r2p1d_kenshohara_bottleneck",),
    checkpoint_hint=(
        "R(2+1)D-50 needs kenshohara/3D-ResNets-PyTorch weights: `r2p1d50_K_200ep.pth` (Kinetics-700) "
        "or `r2p1d50_KM_200ep.pth` (Kinetics-700 + Moments in Time), linked from that repository's "
        "README. Download one and set `{key}: /path/to/r2p1d50_K_200ep.pth`."
    ),
)
