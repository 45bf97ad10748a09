"""Method registry: ``kind`` (from config) -> Method class, imported only when asked for.

Add a kind by adding one ``"kind": "module:Class"`` entry below.
"""
from __future__ import annotations

import importlib

from vadflow.methods.base import Method

_REGISTRY: dict[str, str] = {
    "adnet": "vadflow.methods.adnet:ADNet",
    "mlp": "vadflow.methods.mlp:MLP",
    "edtcn": "vadflow.methods.edtcn:EDTCN",
    "mil": "vadflow.methods.mil:MIL",
    "lof": "vadflow.methods.lof:LOF",
    "realtime": "vadflow.methods.realtime:Realtime",
    "svdd_cae": "vadflow.methods.svdd_cae:SVDDCAE",
    "ador": "vadflow.methods.ador:ADOR",
}

KINDS: tuple[str, ...] = tuple(_REGISTRY)


def get_method(kind: str) -> type[Method]:
    if kind not in _REGISTRY:
        raise KeyError(f"unknown method kind {kind!r}; known kinds: {', '.join(KINDS)}")
    module, name = _REGISTRY[kind].split(":")
    return getattr(importlib.import_module(module), name)
