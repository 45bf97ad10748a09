"""How a trained method scores a live stream, as plain data (``Method.online``).

A method returns one of these plans; :mod:`vadflow.streaming` builds the online extractors
from the model's recorded ``origin`` and runs the plan frame by frame, so ``vadflow watch``
needs no branch per kind and never reaches into a model. A plan's callables are the same
code the method's offline :meth:`~vadflow.methods.base.Method.score` runs, which is what lets
the tests compare a stream with ``scores.h5``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class ClipPlan:
    """Score a stream clip by clip on the clip grid of the method's main extractor.

    ``row`` turns one completed clip into the row the clip logic sees: it receives the clip's
    feature (``None`` when ``maps`` is False: the extractor only sets the grid) and, when
    ``objects`` is True, the objects of the clip's centre frame as the detections file holds
    them (:class:`~vadflow.stores.detections.ObjectSets` of one row). Then either

    * ``clip_scores``: rows ``[n, D]`` -> scores ``[n]``, each clip on its own; or
    * ``window`` and ``window_scores``: half-overlapping windows of ``window`` rows
      (0 = the whole stream), ``window_scores(xs [B, W, D], masks [B, W]) -> [B, W]``, merged
      as offline (docs/methods/adnet.md §4; ``--windows causal|exact``).

    Clip scores become frame scores with the offline ``mapping`` (methods/mapping.py).
    """

    row: Callable[..., np.ndarray]
    clip_scores: Callable[[np.ndarray], np.ndarray] | None = None
    window: int | None = None
    window_scores: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    maps: bool = True
    objects: bool = False
    mapping: str = "average"

    def __post_init__(self) -> None:
        if (self.clip_scores is None) == (self.window_scores is None):
            raise ValueError("ClipPlan needs exactly one of clip_scores or window_scores")


@dataclass
class FramePlan:
    """Score every ``stride``-th frame of a stream from per-sampled-frame features and hold the
    score in between (the real-time method, docs/methods/realtime.md §7).

    ``score(parts) -> float`` receives, for a scored frame, the features of each extractor the
    method reads (in :attr:`~vadflow.methods.base.Inputs.features` order) and, with
    ``bag_conf`` set, the bag of objects counted on that frame (detections with score ≥
    ``bag_conf``). ``sas`` configures the sigmoidal anomaly score emitted beside it
    (vadflow/sas.py); its value decides the alarms.
    """

    score: Callable[[list[np.ndarray]], float]
    stride: int = 1
    bag_conf: float | None = None
    sas: dict[str, Any] = field(default_factory=dict)
