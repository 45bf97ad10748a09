"""Base of methods whose model is one torch network over clip features.

Holds what they share: the config defaults merge, the network built for the feature
dimension, the loss history, the optional feature scaler, and save/load of all of it.
"""
from __future__ import annotations

import abc
from typing import Any, ClassVar

from torch import nn

from vadflow.device import resolve_device
from vadflow.methods.base import Method, MethodError
from vadflow.methods.scaler import FeatureScaler


class NeuralMethod(Method):
    #: filled-in values for keys the config leaves out (mirrors the JSON schema).
    defaults: ClassVar[dict[str, Any]]

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__({**self.defaults, **cfg})
        self.net: nn.Module | None = None
        self.in_dim: int | None = None
        self.history: list[float] = []
        self.scaler = FeatureScaler()

    @abc.abstractmethod
    def build(self, in_dim: int) -> nn.Module:
        """A fresh network for ``in_dim``-dimensional clip features."""

    def state(self) -> dict[str, Any]:
        if self.net is None:
            raise MethodError(f"{self.kind}: nothing to save before fit()")
        weights = {k: v.detach().cpu() for k, v in self.net.state_dict().items()}
        return {"in_dim": self.in_dim, "net": weights, "history": list(self.history), **self.scaler.state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.in_dim = int(state["in_dim"])
        self.net = self.build(self.in_dim)
        self.net.load_state_dict(state["net"])
        self.net.to(resolve_device(self.cfg["device"])).eval()
        self.history = list(state["history"])
        self.scaler.load_state(state)
