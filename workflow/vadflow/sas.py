"""The sigmoidal anomaly score (SAS) of the real-time two-stream detector (docs/methods/realtime.md §7).

A bounded accumulator x turns noisy per-frame probabilities sigma_t into a stable alarm:
evidence above tau pushes x up, evidence below pulls it down, x is clamped to [lb, ub], and the
read-out is s_t = 1 / (1 + exp(-x_t)). It lives beside ``scores.py`` because the method (offline
scores), the evaluation (video-level decisions from scores.h5) and ``vadflow watch`` (live alarm)
all run the same accumulator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

#: docs/methods/realtime.md §7 defaults; ``every``: the SAS is updated on frames with index % every == 0 (A10).
SAS_DEFAULTS: dict[str, Any] = {"tau": 0.5, "nu": 2.0, "lb": -7.0, "ub": 7.0, "x0": -7.0, "every": 10,
                                "clamp": "post", "delta_minus": "code"}
CLAMPS = ("post", "pre_update")
DELTA_MINUS = ("code", "paper")


def delta_minus(sigma: float, tau: float, form: str = "code") -> float:
    """Step size below the threshold: ``code`` (tau - sigma) / tau as in the authors' notebook,
    ``paper`` (1 - sigma - tau) / (1 - tau) as printed; they agree only at tau = 0.5 (docs/methods/realtime.md §7)."""
    if form == "code":
        return (tau - sigma) / tau
    if form == "paper":
        return (1.0 - sigma - tau) / (1.0 - tau)
    raise ValueError(f"unknown delta_minus form {form!r} (expected one of {DELTA_MINUS})")


@dataclass
class SAS:
    """One video's accumulator; :meth:`update` takes sigma_t and returns s_t.

    ``clamp: post`` clamps after every update (default); ``pre_update`` reproduces the notebook,
    which only refuses to update once x is already outside the bounds, so x can overshoot to
    ub + nu (A6).
    """

    tau: float = 0.5
    nu: float = 2.0
    lb: float = -7.0
    ub: float = 7.0
    x0: float = -7.0
    every: int = 10
    clamp: str = "post"
    delta_minus: str = "code"

    def __post_init__(self) -> None:
        if self.clamp not in CLAMPS:
            raise ValueError(f"sas clamp must be one of {CLAMPS}, got {self.clamp!r}")
        if not 0.0 < self.tau < 1.0:
            raise ValueError(f"sas tau must lie in (0, 1), got {self.tau}")
        self.x = float(self.x0)

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any] | None) -> "SAS":
        return cls(**{**SAS_DEFAULTS, **(cfg or {})})

    def reset(self) -> None:
        self.x = float(self.x0)

    def step(self, sigma: float) -> float:
        """The increment of x for ``sigma`` (before clamping)."""
        if sigma >= self.tau:
            return self.nu * (sigma - self.tau) / (1.0 - self.tau)
        return -self.nu * delta_minus(sigma, self.tau, self.delta_minus)

    def update(self, sigma: float) -> float:
        if self.clamp == "pre_update":
            # The notebook's order: update only while x is inside the bounds, no clamp afterwards.
            if self.lb <= self.x <= self.ub:
                self.x += self.step(float(sigma))
        else:
            self.x = min(self.ub, max(self.lb, self.x + self.step(float(sigma))))
        return self.value

    @property
    def value(self) -> float:
        return 1.0 / (1.0 + math.exp(-self.x))

    @property
    def alarm(self) -> bool:
        """The video decision: s_t > 0.5 strictly, i.e. x_t > 0 (docs/methods/realtime.md §7)."""
        return self.x > 0.0


def sas_series(sigma: np.ndarray, cfg: Mapping[str, Any] | None = None) -> np.ndarray:
    """Per-frame s_t of one video from its per-frame sigma (held between scored frames).

    The accumulator is updated on frames whose index is a multiple of ``every``; s_t is held
    between updates, and frames before the first update read s(x0).
    """
    acc = SAS.from_cfg(cfg)
    sigma = np.asarray(sigma, dtype=np.float64).reshape(-1)
    out = np.empty(len(sigma))
    s = acc.value
    every = max(1, int(acc.every))
    for t, v in enumerate(sigma):
        if t % every == 0:
            s = acc.update(float(v))
        out[t] = s
    return out


def video_alarm(sigma: np.ndarray, cfg: Mapping[str, Any] | None = None) -> bool:
    """True iff s_t > 0.5 at some update of the video's accumulator (docs/methods/realtime.md §7 "Video decision")."""
    return bool((sas_series(sigma, cfg) > 0.5).any())
