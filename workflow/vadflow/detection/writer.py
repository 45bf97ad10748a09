"""Writes ``detections/{detector}.h5`` (layout: :mod:`vadflow.stores.detections`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vadflow.io import atomic_path
from vadflow.stores.detections import ARRAYS, FEATS_DTYPE


class DetectionWriter:
    """Write every video's detections into a new file, atomically."""

    def __init__(self, path: str | Path, file_attrs: dict[str, Any]):
        self._ctx = atomic_path(path)
        self._f = h5py.File(self._ctx.__enter__(), "w")
        self._failed: dict[str, str] = {}
        for k, v in file_attrs.items():
            self._f.attrs[k] = v

    def add(self, vid: str, arrays: dict[str, np.ndarray], centres: np.ndarray, attrs: dict[str, Any]) -> None:
        g = self._f.create_group(vid)
        for k in ARRAYS:
            a = arrays[k]
            g.create_dataset(k, data=a.astype(FEATS_DTYPE) if k == "feats" else a)
        g.create_dataset("centres", data=np.asarray(centres, np.int64))
        for k, v in {**attrs, "n_clips": len(centres)}.items():
            g.attrs[k] = v

    def fail(self, vid: str, message: str) -> None:
        self._failed[vid] = message

    def close(self, ok: bool = True) -> None:
        self._f.attrs["failed"] = json.dumps(self._failed, sort_keys=True)
        self._f.attrs["n_videos"] = len(self._f.keys())
        self._f.close()
        self._ctx.__exit__(None if ok else RuntimeError, None if ok else RuntimeError("aborted"), None)

    def __enter__(self) -> "DetectionWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)
