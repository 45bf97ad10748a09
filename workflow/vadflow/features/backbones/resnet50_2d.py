"""ResNet-50 frame backbone in the torchvision layout (docs/backbones.md §6, docs/methods/realtime.md).

Module names are torchvision's ``torchvision/models/resnet.py`` (Bottleneck with the stride on
the 3x3 ``conv2``, "V1.5"), so an ImageNet state_dict loads without renaming. Per frame the
feature is the global average of layer4 (2048-d); as a clip backbone the frame features are
averaged over the clip (``forward``) or returned per frame (``forward_frames``).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, Preset, add_bottleneck_stages
from .frames import FrameModel
from .video_resnet import _std_preset

EXPANSION = 4


class Bottleneck(nn.Module):
    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.downsample = None
        if stride != 1 or cin != planes * EXPANSION:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes * EXPANSION, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes * EXPANSION))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return F.relu(out + residual)


class ResNet50(FrameModel):
    """torchvision ResNet-50 trunk; ``head=True`` adds the ImageNet ``fc [1000, 2048]``."""

    def __init__(self, head: bool = False, num_classes: int = 1000, layers=(3, 4, 6, 3)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        add_bottleneck_stages(self, Bottleneck, layers, EXPANSION)
        if head:
            self.fc = nn.Linear(512 * EXPANSION, num_classes)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` -> layer4 ``[N, 2048, H/32, W/32]`` (224 -> 7x7)."""
        x = self.maxpool(F.relu(self.bn1(self.conv1(frames))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """Global average of layer4, ``[N, 2048]``."""
        return self.features(frames).mean(dim=(2, 3))

    def logits(self, frames: torch.Tensor) -> torch.Tensor:
        """ImageNet scores per frame ``[N, 1000]`` (needs ``head=True``)."""
        return self.fc(self.frame_features(frames))


PRESETS = {
    # torchvision ImageNet (V1 weights): [0, 1], ImageNet mean/std; resize 256, centre crop 224.
    "imagenet": _std_preset((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), resize=256, crop=224),
    # Keras/Caffe ResNet-50 (seed document 003): frames squashed to 224x224, BGR, 0-255 minus
    # the ImageNet mean (B, G, R) = (103.939, 116.779, 123.68), no scaling. Only for files
    # converted to the torchvision layout.
    "caffe_bgr": Preset(mean=(103.939, 116.779, 123.68), bgr=True, geometry={"resize": [224, 224], "crop": 224}),
}


def _make(cfg: Mapping[str, Any]) -> ResNet50:
    return ResNet50(head=bool(cfg.get("head", False)))


BACKBONE = Backbone(
    name="resnet50_2d",
    dim=2048,
    defaults={"clip_len": 16, "stride": 16, "resize": 256, "crop": 224, "preprocess": "imagenet"},
    presets=PRESETS,
    make_model=_make,
    families=("resnet50_tv",),
    checkpoint_hint=(
        "resnet50_2d needs an ImageNet ResNet-50 state_dict in the torchvision layout, e.g. "
        "`resnet50-0676ba61.pth` (https://download.pytorch.org/models/resnet50-0676ba61.pth, the "
        "V1 weights that preset `imagenet` matches); torchvision itself is not needed. "
        "Download it and set `{key}: /path/to/resnet50-0676ba61.pth`."
    ),
    memory_format=torch.channels_last,
)
