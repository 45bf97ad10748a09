"""C3D (Tran et al. 2015), Sports-1M layout of DavideA/c3d-pytorch (docs/backbones.md §2).

Module names are DavideA's, so ``c3d.pickle`` loads without renaming. The feature is fc6
after ReLU (4096-d), as in the Sultani UCF-Crime features.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, Preset


def _conv(cin: int, cout: int) -> nn.Conv3d:
    return nn.Conv3d(cin, cout, kernel_size=3, padding=1)


class C3D(nn.Module):
    """C3D trunk up to fc6; ``head=True`` adds fc7/fc8 (only needed to classify)."""

    def __init__(self, head: bool = False, num_classes: int = 487) -> None:
        super().__init__()
        self.conv1, self.pool1 = _conv(3, 64), nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.conv2, self.pool2 = _conv(64, 128), nn.MaxPool3d(2, 2)
        self.conv3a, self.conv3b, self.pool3 = _conv(128, 256), _conv(256, 256), nn.MaxPool3d(2, 2)
        self.conv4a, self.conv4b, self.pool4 = _conv(256, 512), _conv(512, 512), nn.MaxPool3d(2, 2)
        # pool5 pads H, W by 1 so a 7x7 map gives 4x4: 512*1*4*4 = 8192 into fc6.
        self.conv5a, self.conv5b = _conv(512, 512), _conv(512, 512)
        self.pool5 = nn.MaxPool3d(2, 2, padding=(0, 1, 1))
        self.fc6 = nn.Linear(8192, 4096)
        if head:
            self.fc7 = nn.Linear(4096, 4096)
            self.fc8 = nn.Linear(4096, num_classes)
        self.dropout = nn.Dropout(0.5)

    def pool5_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, 16, 112, 112]`` -> pool5 ``[B, 512, 1, 4, 4]``."""
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = self.pool3(F.relu(self.conv3b(F.relu(self.conv3a(x)))))
        x = self.pool4(F.relu(self.conv4b(F.relu(self.conv4a(x)))))
        return self.pool5(F.relu(self.conv5b(F.relu(self.conv5a(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """fc6 after ReLU, ``[B, 4096]`` (dropout is a no-op in eval mode)."""
        h = self.pool5_features(x).flatten(1)
        if h.shape[1] != self.fc6.in_features:
            raise ValueError(
                f"C3D needs 16x112x112 clips (pool5 must flatten to 8192), got input "
                f"{list(x.shape)} -> {h.shape[1]}; check features.<name>.crop/clip_len"
            )
        return F.relu(self.fc6(h))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Sports-1M class scores (needs ``head=True``)."""
        h = self.dropout(self.forward(x))
        return self.fc8(self.dropout(F.relu(self.fc7(h))))


# Values are 0-255; see docs/backbones.md §2 for each preset's source.
PRESETS = {
    # Caffe C3D: BGR minus the Sports-1M mean. The original subtracts a mean *cube*
    # (3x16x128x171, before cropping), which is not available here; its per-channel means
    # (B 90.25, G 97.66, R 101.41) are used instead. Centre crop of 128x171 with floor
    # rounding is [8:120, 29:141], ADNet's crop.
    "caffe": Preset(mean=(90.25, 97.66, 101.41), bgr=True,
                    geometry={"resize": [128, 171], "crop": 112}),
    # DavideA predict.py: RGB 0-255, no mean, 112x200 then centre crop of the width.
    "davidea_demo": Preset(geometry={"resize": [112, 200], "crop": 112}),
    # ekosman utils.py: Normalize(mean/255, std=1/(0.0167*255)) on [0,1] == (x - mean) * 0.0167.
    "ekosman": Preset(mean=(124.0, 117.0, 104.0), scale=(0.0167,) * 3,
                      geometry={"resize": [128, 171], "crop": 112}),
    # Seed document 003: RGB 0-255 squashed to 112x112.
    "raw": Preset(geometry={"resize": [112, 112], "crop": 112}),
}


def _make(cfg: Mapping[str, Any]) -> C3D:
    return C3D(head=bool(cfg.get("head", False)))


BACKBONE = Backbone(
    name="c3d",
    dim=4096,
    defaults={"clip_len": 16, "stride": 16, "resize": [128, 171], "crop": 112, "preprocess": "caffe"},
    presets=PRESETS,
    make_model=_make,
    families=("c3d",),
    checkpoint_hint=(
        "C3D needs the Sports-1M weights `c3d.pickle` (487 classes) linked from the README of "
        "DavideA/c3d-pytorch. Download it and set `{key}: /path/to/c3d.pickle`."
    ),
)
