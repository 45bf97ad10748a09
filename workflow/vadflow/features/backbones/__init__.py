"""Clip backbones in plain torch (no torchvision/timm), registered by name.

    bb = get_backbone("i3d"); model = bb.build(cfg); feats = model(bb.normalize(clips, cfg))
"""
from __future__ import annotations

from .base import Backbone, Preset
from .c3d import BACKBONE as _C3D
from .i3d import BACKBONE as _I3D

BACKBONES: dict[str, Backbone] = {bb.name: bb for bb in (_C3D, _I3D)}


def get_backbone(name: str) -> Backbone:
    """The registered backbone ``name``; an unknown name raises KeyError listing the known ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise KeyError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}") from None


__all__ = ["BACKBONES", "Backbone", "Preset", "get_backbone"]
