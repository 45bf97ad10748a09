"""Method registry: ``kind`` (from config) -> Method class, imported only when asked for.

Add a kind by adding one ``"kind": "module:Class"`` entry below (docs/adding_a_detector.md).
"""
from __future__ import annotations

import importlib
from pathlib import Path

from vadflow.methods.base import Method

_REGISTRY: dict[str, str] = {
    "adnet": "vadflow.methods.adnet:ADNet",
    "mlp": "vadflow.methods.mlp:MLP",
    "edtcn": "vadflow.methods.edtcn:EDTCN",
    "mil": "vadflow.methods.mil.method:MIL",
    "lof": "vadflow.methods.lof.method:LOF",
    "realtime": "vadflow.methods.realtime:Realtime",
    "svdd_cae": "vadflow.methods.svdd_cae.method:SVDDCAE",
    "ador": "vadflow.methods.ador.method:ADOR",
    "rtfm": "vadflow.methods.rtfm.method:RTFM",
    "urdmu": "vadflow.methods.urdmu.method:URDMU",
    "mgfn": "vadflow.methods.mgfn.method:MGFN",
}

KINDS: tuple[str, ...] = tuple(_REGISTRY)


def get_method(kind: str) -> type[Method]:
    if kind not in _REGISTRY:
        raise KeyError(f"unknown method kind {kind!r}; known kinds: {', '.join(KINDS)}")
    module, name = _REGISTRY[kind].split(":")
    return getattr(importlib.import_module(module), name)


def load_method(path: str | Path) -> Method:
    """The trained model of any kind in a ``model.pt`` (K fold models for ``train_split: test_folds``)."""
    from vadflow.methods.base import MethodError, read_model_file

    blob = read_model_file(path)
    try:
        cls = get_method(blob["kind"])
    except KeyError as exc:
        raise MethodError(f"{path}: {exc.args[0]}") from None
    if "folds" in blob:
        from vadflow.methods.folds import FoldModels

        return FoldModels.load_folds(cls, path, blob)
    return cls.load(path, blob)
