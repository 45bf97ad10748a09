"""Clip backbones in plain torch (no torchvision/timm), and the weight-free ``flow`` family
(optical-flow statistics), registered by name.

    bb = get_backbone("i3d"); model = bb.build(cfg); feats = model(bb.normalize(clips, cfg))
"""
from __future__ import annotations

from .base import Backbone, Preset
from .c3d import BACKBONE as _C3D
from .flow_stats import BACKBONE as _FLOW
from .i3d import BACKBONE as _I3D
from .i3d_map import BACKBONE as _I3D_MAP
from .r2plus1d_50 import BACKBONE as _R2PLUS1D_50
from .resnet50_2d import BACKBONE as _RESNET50_2D
from .video_resnet import R2PLUS1D_18 as _R2PLUS1D_18, R3D_18 as _R3D_18
from .xception import BACKBONE as _XCEPTION

BACKBONES: dict[str, Backbone] = {
    bb.name: bb
    for bb in (_C3D, _I3D, _I3D_MAP, _R3D_18, _R2PLUS1D_18, _R2PLUS1D_50, _RESNET50_2D, _XCEPTION, _FLOW)
}


def get_backbone(name: str) -> Backbone:
    """The registered backbone ``name``; an unknown name raises KeyError listing the known ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise KeyError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}") from None


__all__ = ["BACKBONES", "Backbone", "Preset", "get_backbone"]
