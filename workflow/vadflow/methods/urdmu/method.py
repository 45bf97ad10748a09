"""UR-DMU as a vadflow kind (docs/methods/urdmu.md): the dual memory units and losses of
:mod:`.core` trained by the shared weakly supervised loop (methods/weak.py), every (video, crop)
pair its own bag of 200 segments, as the original's loaders do."""
from __future__ import annotations

from typing import Any, ClassVar

import torch

from vadflow.methods.urdmu import core
from vadflow.methods.weak import WRAPPER, WeakMethod, core_defaults


class URDMU(WeakMethod):
    kind = "urdmu"
    core = core
    bag_unit = "crops"
    schedule = "steps"  # 3000 iterations, each class's shuffled loader re-created when exhausted
    segments_key = "num_segments"
    original = {k: v for k, v in core.ORIGINAL.items() if core.DEFAULTS.get(k) != v}
    # the original's seed (2022) and selection metric are vadflow's `seed` and `select_metric`
    defaults: ClassVar[dict[str, Any]] = {**core_defaults(core, drop=("seed", "select_metric", "train_crops")), **WRAPPER,
                                          "eval_every": 10}

    def train_step(self, opt: torch.optim.Optimizer, normal: torch.Tensor, abnormal: torch.Tensor, step: int) -> dict[str, float]:
        """The original's step: the learning rate of its per-step list first (constant by default)."""
        return core.train_step(self.net, opt, normal, abnormal, self.core_cfg, step=step)
