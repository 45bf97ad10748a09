"""Optional per-dimension z-scoring of clip features with training-set statistics.

Random-init backbones give features that are mostly a shared positive offset (per-dimension
std / mean |x| ~ 0.1 for the synthetic default): a network must first learn to subtract it,
and for MIL the offset survives the segment L2 normalisation, making all segments point the
same way. Methods opt in with ``standardize: true``; the statistics are saved with the model.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch


class FeatureScaler:
    def __init__(self) -> None:
        self.mu: np.ndarray | None = None
        self.sd: np.ndarray | None = None

    def fit(self, feats: list[np.ndarray]) -> "FeatureScaler":
        allx = np.concatenate(feats)
        self.mu, self.sd = allx.mean(0), allx.std(0) + 1e-6
        return self

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x if self.mu is None else (x - self.mu) / self.sd

    def state(self) -> dict[str, Any]:
        return {} if self.mu is None else {"mu": torch.from_numpy(self.mu), "sd": torch.from_numpy(self.sd)}

    def load_state(self, state: dict[str, Any]) -> None:
        self.mu = state["mu"].numpy() if "mu" in state else None
        self.sd = state["sd"].numpy() if "sd" in state else None
