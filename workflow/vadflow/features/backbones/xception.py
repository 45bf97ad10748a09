"""Xception frame backbone in the Cadene/pretrained-models.pytorch layout (docs/backbones.md §6).

Module names are Cadene's ``pretrainedmodels/models/xception.py``, with the classifier named
``last_linear`` as the Cadene model does after loading. The checkpoint loader renames the
file's ``fc`` to ``last_linear`` and reshapes 2-D ``pointwise.weight`` copies to ``[out, in, 1, 1]``
(checkpoints.py, family ``xception_cadene``). Per frame the feature is ``features()`` (ending at
``bn4``), then ReLU and the global average: 2048-d.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, Preset
from .frames import FrameModel


class SeparableConv2d(nn.Module):
    """Depthwise ``conv1 [C, 1, k, k]`` then ``pointwise [out, C, 1, 1]``, no bias."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, padding: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, kernel, stride, padding, groups=cin, bias=False)
        self.conv1.init_nonlinearity = "linear"  # seeded_init_: no ReLU before the pointwise conv
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class Block(nn.Module):
    """Cadene's Block: ``rep`` = [ReLU, SepConv, BN] * reps (+ MaxPool), plus ``skip``/``skipbn``.

    The ``rep`` indices are kept exactly (ReLUs included) because they are the checkpoint's
    key names: e.g. ``block1.rep.0`` (no leading ReLU) vs ``block2.rep.1``.
    """

    def __init__(self, cin: int, cout: int, reps: int, stride: int = 1,
                 start_with_relu: bool = True, grow_first: bool = True) -> None:
        super().__init__()
        if cout != cin or stride != 1:
            self.skip = nn.Conv2d(cin, cout, 1, stride, bias=False)
            self.skipbn = nn.BatchNorm2d(cout)
        else:
            self.skip = self.skipbn = None
        rep: list[nn.Module] = []
        filters = cin
        if grow_first:
            rep += [nn.ReLU(), SeparableConv2d(cin, cout), nn.BatchNorm2d(cout)]
            filters = cout
        for _ in range(reps - 1):
            rep += [nn.ReLU(), SeparableConv2d(filters, filters), nn.BatchNorm2d(filters)]
        if not grow_first:
            rep += [nn.ReLU(), SeparableConv2d(cin, cout), nn.BatchNorm2d(cout)]
        if not start_with_relu:
            rep = rep[1:]
        if stride != 1:
            rep.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*rep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.skip is None else self.skipbn(self.skip(x))
        return self.rep(x) + skip


class Xception(FrameModel):
    """Xception trunk to ``bn4``; ``head=True`` adds ``last_linear [1000, 2048]``."""

    def __init__(self, head: bool = False, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.block1 = Block(64, 128, 2, 2, start_with_relu=False)
        self.block2 = Block(128, 256, 2, 2)
        self.block3 = Block(256, 728, 2, 2)
        for i in range(4, 12):
            setattr(self, f"block{i}", Block(728, 728, 3, 1))
        self.block12 = Block(728, 1024, 2, 2, grow_first=False)
        self.conv3 = SeparableConv2d(1024, 1536, 3, 1, 1)
        self.bn3 = nn.BatchNorm2d(1536)
        self.conv4 = SeparableConv2d(1536, 2048, 3, 1, 1)
        self.bn4 = nn.BatchNorm2d(2048)
        if head:
            self.last_linear = nn.Linear(2048, num_classes)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` -> ``bn4`` output (before its ReLU), ``[N, 2048, 10, 10]`` at 299."""
        x = F.relu(self.bn1(self.conv1(frames)))
        x = F.relu(self.bn2(self.conv2(x)))
        for i in range(1, 13):
            x = getattr(self, f"block{i}")(x)
        x = F.relu(self.bn3(self.conv3(x)))
        return self.bn4(self.conv4(x))

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """GAP(ReLU(bn4)), ``[N, 2048]``."""
        return F.relu(self.features(frames)).mean(dim=(2, 3))

    def logits(self, frames: torch.Tensor) -> torch.Tensor:
        """ImageNet scores per frame ``[N, 1000]`` (needs ``head=True``)."""
        return self.last_linear(self.frame_features(frames))


PRESETS = {
    # Cadene: RGB [0, 1], mean 0.5, std 0.5 (= x/127.5 - 1); resize 333 (299 / 0.8975), crop 299.
    "cadene": Preset(mean=(127.5,) * 3, scale=(1 / 127.5,) * 3, geometry={"resize": 333, "crop": 299}),
    # Seed document 001 (Keras xception.preprocess_input): x/127.5 - 1 on frames squashed to
    # 299x299 with no crop or aspect correction (docs/methods/mil.md §8).
    "keras_squash": Preset(mean=(127.5,) * 3, scale=(1 / 127.5,) * 3,
                           geometry={"resize": [299, 299], "crop": 299}),
}


def _make(cfg: Mapping[str, Any]) -> Xception:
    return Xception(head=bool(cfg.get("head", False)))


BACKBONE = Backbone(
    name="xception",
    dim=2048,
    defaults={"clip_len": 16, "stride": 16, "resize": 333, "crop": 299, "preprocess": "cadene"},
    presets=PRESETS,
    make_model=_make,
    families=("xception_cadene",),
    checkpoint_hint=(
        "xception needs the ImageNet weights `xception-43020ad28.pth` from Cadene/pretrained-models.pytorch "
        "(http://data.lip6.fr/cadene/pretrainedmodels/xception-43020ad28.pth). "
        "Download it and set `{key}: /path/to/xception-43020ad28.pth`."
    ),
    memory_format=torch.channels_last,
)
