"""ADNet: masked multi-stage dilated TCN over half-overlapping windows (specs/adnet.md)."""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from vadflow.methods.base import MethodError
from vadflow.methods.losses import AD_FORMS, stage_sum_loss
from vadflow.methods.tcn import MultiStageTCN, layers_for_window
from vadflow.methods.temporal import TemporalMethod, WINDOW_DEFAULTS


class ADNet(TemporalMethod):
    kind = "adnet"
    layouts = ("clips",)
    supervision = "frame"
    defaults: ClassVar[dict[str, Any]] = {
        **WINDOW_DEFAULTS,
        "features": "i3d",
        "stages": 5,
        "layers": 6,
        "channels": 64,
        "kernel": 3,
        "lr": 5e-4,
        "ad_lambda": 0.0,
        "ad_margin": 0.5,
        "ad_form": "per_clip",
    }

    def build(self, in_dim: int) -> nn.Module:
        cfg = self.cfg
        if cfg["ad_form"] not in AD_FORMS:
            raise MethodError(f"adnet: ad_form must be one of {AD_FORMS}, got {cfg['ad_form']!r}")
        layers = cfg["layers"]
        if layers is None:
            if not cfg["window"]:
                raise MethodError("adnet: layers: null (Formula 10) needs a window width; set layers for window: 0")
            layers = layers_for_window(cfg["window"], cfg["kernel"])
        return MultiStageTCN(in_dim, cfg["channels"], cfg["stages"], layers, cfg["kernel"])

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        return stage_sum_loss(outputs, labels, mask, cfg["ad_lambda"], cfg["ad_margin"], cfg["ad_form"])
