"""ADNet: masked multi-stage dilated TCN over half-overlapping windows (docs/methods/adnet.md)."""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from vadflow.methods.base import MethodError, Problem
from vadflow.methods.losses import AD_FORMS, stage_sum_loss
from vadflow.methods.tcn import MultiStageTCN, layers_for_window
from vadflow.methods.temporal import TemporalMethod, WINDOW_DEFAULTS, window_width

#: layers beyond Formula 10 that a config may still ask for: the thesis's Table 4.3 runs up to two
#: more (W64-L8, W128-L9) to show the loss; deeper stacks only add layers that see padding.
EXTRA_LAYERS = 2


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

    @classmethod
    def problems(cls, cfg: dict[str, Any]) -> list[Problem]:
        """Odd kernel >= 3 (same-width dilated convs), and no more than :data:`EXTRA_LAYERS` layers
        past Formula 10 for the window (docs/methods/adnet.md §3)."""
        out = window_width(cfg)
        k, w, layers = cfg.get("kernel", 3), cfg.get("window", 64), cfg.get("layers", 6)
        if isinstance(k, int) and (k < 3 or k % 2 == 0):
            out.append(("kernel", "dilated convs keep the window width only with an odd kernel; allowed: an odd integer >= 3"))
            return out
        if out or not isinstance(w, int) or w <= 0 or not isinstance(layers, int):
            return out  # window 0 (whole video): the width is the video's; layers null: Formula 10
        f10 = layers_for_window(w, k)
        if layers > f10 + EXTRA_LAYERS:
            h = k // 2
            blind = next(l for l in range(layers) if h * 2**l >= w)
            min_w = next(v for v in range(2, 1 << 30, 2) if layers_for_window(v, k) + EXTRA_LAYERS >= layers)
            out.append(("layers", f"too deep for window {w} (kernel {k}): layers {blind}..{layers - 1} have dilation "
                                  f"{2**blind}..{2**(layers - 1)}, so their convs reach past the window and see only padding "
                                  f"(Formula 10: L = ceil(log2(W/floor(K/2))) = {f10}); allowed: layers <= {f10 + EXTRA_LAYERS} "
                                  f"(Formula 10 + {EXTRA_LAYERS}, as the thesis's Table 4.3), null (Formula 10), "
                                  f"or a window >= {min_w}"))
        return out

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
