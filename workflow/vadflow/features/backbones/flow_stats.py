"""``flow``: weight-free motion features (Farnebäck optical-flow statistics) as a clip backbone.

A classical CPU baseline: no weights, no GPU, nothing to download, so it also runs on real
data for users without a GPU. It goes through the same extraction path as the CNNs (shards,
per-video cache, resume, attrs); the "model" computes, per clip, the pooled HOF / MBH /
magnitude descriptors of :mod:`vadflow.video.flow` with OpenCV on the CPU.

Random-init CNNs mostly encode appearance, while the synthetic anomalies are defined by
motion (docs/datasets.md §4.3): on the synthetic dataset these features are what lets a
working detector be told from a broken one.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from vadflow.features import checkpoints
from vadflow.features.backbones.base import Backbone, Preset
from vadflow.video.flow import FlowStatsConfig, clip_descriptor

#: recorded as the ``weights`` attr of every feature file: there is no checkpoint to hash.
WEIGHT_FREE = "weight-free"


class FlowStats(nn.Module):
    """``[B, 3, T, H, W]`` float 0-255 RGB (preset ``raw``) -> ``[B, dim]`` descriptors, on the CPU."""

    def __init__(self, cfg: FlowStatsConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"expected clips [B, 3, T, H, W], got {list(x.shape)}")
        # The raw preset keeps 0-255 integer values, so this recovers the decoded uint8 exactly.
        clips = x.detach().to("cpu", torch.float32).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 4, 1).numpy()
        out = np.stack([clip_descriptor(c, self.cfg) for c in clips])
        return torch.from_numpy(out).to(x.device)


class WeightFreeBackbone(Backbone):
    """A backbone without weights: ``weights`` must stay unset or ``random`` (the schema's
    default), and feature files record ``weights: weight-free``."""

    def dim_for(self, cfg: Mapping[str, Any]) -> int:
        return FlowStatsConfig.from_cfg(cfg).dim

    def build(self, cfg: Mapping[str, Any]) -> nn.Module:
        self._check_weights(cfg)
        model = self._make_model(cfg)
        model.checkpoint = None
        return model.eval()

    def weights_id(self, cfg: Mapping[str, Any]) -> str:
        self._check_weights(cfg)
        return WEIGHT_FREE

    def _check_weights(self, cfg: Mapping[str, Any]) -> None:
        weights = cfg.get("weights")
        if weights not in (None, "", "random"):
            key = f"features.{cfg.get('name', self.name)}.weights"
            raise checkpoints.CheckpointError(f"backbone {self.name} has no weights; remove `{key}: {weights}`")


def _make(cfg: Mapping[str, Any]) -> FlowStats:
    return FlowStats(FlowStatsConfig.from_cfg(cfg))


BACKBONE = WeightFreeBackbone(
    name="flow",
    dim=FlowStatsConfig().dim,  # with the default keys; dim_for(cfg) gives it for any config
    # resize 120 (short side): UCF-Crime's 320x240 is flowed at 160x120, the synthetic
    # dataset at its native size.
    defaults={"clip_len": 16, "stride": 16, "resize": 120, "crop": None, "preprocess": "raw"},
    presets={"raw": Preset()},  # 0-255 RGB untouched: the model wants the decoded pixels
    make_model=_make,
    families=(),
    checkpoint_hint="",
)
