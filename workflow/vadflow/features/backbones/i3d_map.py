"""I3D Mixed_5c map averaged over time, ``[1024, H', W']`` per clip (docs/backbones.md §3 "Map").

The same network, weights and checkpoint families as ``i3d`` (this only changes the read-out),
so one I3D file serves both; ADOR uses the map as H'W' tokens (docs/methods/ador.md §2), and the spatial
mean of this map is exactly the ``i3d`` feature (``pool: mean``). The published 224x224 crop
gives 7x7 (49 tokens); smaller crops give smaller maps (112 px -> 4x4, the synthetic default),
which ADOR accepts, so the map size is whatever the crop gives.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

from .base import Backbone
from .i3d import BACKBONE as _I3D, I3D, PRESETS

MAP_HW = (7, 7)  # Mixed_5c at the published 224x224 crop (any crop of 193..224 pixels)


class I3DMap(I3D):
    """I3D whose output is the Mixed_5c map averaged over T', ``[B, 1024, H', W']``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean(dim=2)


def _make(cfg: Mapping[str, Any]) -> I3DMap:
    return I3DMap(head=bool(cfg.get("head", False)))


BACKBONE = Backbone(
    name="i3d_map",
    dim=1024,  # channels; one clip's feature is feature_shape
    defaults={"clip_len": 16, "stride": 16, "resize": 256, "crop": 224, "preprocess": "default"},
    presets=PRESETS,
    make_model=_make,
    families=_I3D.families,
    checkpoint_hint=_I3D._hint.replace("I3D needs", "i3d_map (I3D) needs", 1),
    feature_shape=(1024, *MAP_HW),  # at the default 224 crop
)
