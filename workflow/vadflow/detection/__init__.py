"""Object detection on clip centre frames (docs/methods/ador.md §3): pluggable backends, one store.

Backends are imported only when asked for (OpenCV and torch are not needed to *read* a
detections file): ``get_detector(cfg)`` builds the one that ``cfg["backend"]`` names.
Methods never import this package's backends; they read ``vadflow.stores.detections``.
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

#: what a results reader must know about a backend that is not the published detector's kind
_CAVEATS: dict[str, str] = {
    "hog_person": "person-only detector",
    "background": "moving blobs without classes",
    "none": "no objects",
}


def describe(backend: str) -> str:
    """A backend as report.html shows it: its name, plus what it lacks against a trained multi-class detector."""
    caveat = _CAVEATS.get(backend)
    return f"{backend} ({caveat})" if caveat else backend


def detector_class(backend: str | None) -> type:
    """The class of a backend, without building it (a precomputed detector indexes its files when built)."""
    if backend not in _REGISTRY:
        raise KeyError(f"unknown detector backend {backend!r}; known: {', '.join(BACKENDS)}")
    module, name = _REGISTRY[backend].split(":")
    return getattr(importlib.import_module(module), name)


def get_detector(cfg: dict[str, Any]):
    """The detector that ``cfg`` (one ``detectors.<name>`` section) describes."""
    return detector_class(cfg.get("backend"))(cfg)
