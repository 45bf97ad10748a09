"""Object detection on clip centre frames (specs/ador.md §3): pluggable backends, one store.

Backends are imported only when asked for (OpenCV and torch are not needed to *read* a
detections file): ``get_detector(cfg)`` builds the one that ``cfg["backend"]`` names.
Methods never import this package's backends; they read ``detection.store``.
"""
from __future__ import annotations

import importlib
from typing import Any

_REGISTRY: dict[str, str] = {
    "background": "vadflow.detection.background:BackgroundDetector",
    "hog_person": "vadflow.detection.hog:HOGPersonDetector",
    "onnx": "vadflow.detection.onnx_dnn:ONNXDetector",
    "precomputed": "vadflow.detection.precomputed:PrecomputedDetector",
    "none": "vadflow.detection.base:NoDetector",
}

BACKENDS: tuple[str, ...] = tuple(_REGISTRY)


def get_detector(cfg: dict[str, Any]):
    """The detector that ``cfg`` (one ``detectors.<name>`` section) describes."""
    backend = cfg.get("backend")
    if backend not in _REGISTRY:
        raise KeyError(f"unknown detector backend {backend!r}; known: {', '.join(BACKENDS)}")
    module, name = _REGISTRY[backend].split(":")
    return getattr(importlib.import_module(module), name)(cfg)
