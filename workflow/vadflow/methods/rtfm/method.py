"""RTFM as a vadflow kind (docs/methods/rtfm.md): the network and losses of :mod:`.core` trained
by the shared weakly supervised loop (methods/weak.py) on 32 segments of every crop."""
from __future__ import annotations

from typing import Any, ClassVar

from vadflow.methods.rtfm import core
from vadflow.methods.weak import WRAPPER, WeakMethod, core_defaults


class RTFM(WeakMethod):
    kind = "rtfm"
    core = core
    bag_unit = "videos"  # a bag is one video with its crops; scores and magnitudes average over crops inside
    schedule = "steps"  # 15000 iterations, each class's shuffled loader re-created when exhausted
    segments_key = "segments"
    original = dict(core.ORIGINAL)
    defaults: ClassVar[dict[str, Any]] = {**core_defaults(core), **WRAPPER, "eval_every": 5}
