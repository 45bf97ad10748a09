"""MGFN as a vadflow kind (docs/methods/mgfn.md): the glance-and-focus network and magnitude
contrastive loss of :mod:`.core` trained by the shared weakly supervised loop (methods/weak.py)."""
from __future__ import annotations

from typing import Any, ClassVar

from vadflow.methods.mgfn import core
from vadflow.methods.weak import WRAPPER, WeakMethod, core_defaults


class MGFN(WeakMethod):
    kind = "mgfn"
    core = core
    bag_unit = "videos"
    schedule = "epochs"  # 1000 epochs of zip(normal, abnormal) passes, in list order (no shuffling)
    shuffle = False
    segments_key = "segments"
    # The original code's behaviour where it departs from the paper (docs/methods/mgfn.md):
    # intra-class MC pairs within one video's crops, and the batch-size-1 inference alias.
    original = {"mc_pairing": "original", "single_bag_alias": True}
    defaults: ClassVar[dict[str, Any]] = {**core_defaults(core), **WRAPPER, "eval_every": 1}
