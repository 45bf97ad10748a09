"""Read-only access to the merged clip-feature files ``features/{extractor}.h5``.

One dataset per video, with self-describing attrs (``VIDEO_ATTRS``, written by
:mod:`vadflow.features.writer`). Methods, detection, streaming and the jobs read features
through this module only; it imports nothing that extracts.

A video imported with ``crops: all`` is stored once as ``[C, T, D]`` with attr ``n_crops = C``:
:meth:`FeatureStore.get` (and every reader built on it) returns the crops' mean ``[T, D]``,
:meth:`FeatureStore.get_crops` every crop, so no consumer needs a copy per crop.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vadflow.stores.h5 import H5Reader

#: attrs every per-video dataset carries (docs/architecture.md, "Feature files are self-describing").
VIDEO_ATTRS = ("extractor", "clip_len", "stride", "fps", "n_frames", "config_hash", "weights", "layout")


class FeatureStoreError(ValueError):
    """A feature file is missing a video or was made with other settings; says which."""


class FeatureStore(H5Reader):
    """Read-only access to a merged feature file."""

    kind = "feature file"
    error = FeatureStoreError

    def _dataset(self, vid: str) -> h5py.Dataset:
        if vid not in self._f:
            reason = self.failed.get(vid, "not extracted")
            raise FeatureStoreError(f"{self.path}: no features for video {vid} ({reason})")
        return self._f[vid]

    def get(self, vid: str) -> tuple[np.ndarray, dict[str, Any]]:
        """``[T, D]`` float32 (the mean over the crops of a ``crops: all`` video) and its attrs."""
        ds = self._dataset(vid)
        attrs = dict(ds.attrs)
        if n_crops(attrs):
            return crop_mean(ds[()]), attrs
        return ds[()].astype(np.float32), attrs

    def get_crops(self, vid: str) -> tuple[np.ndarray, dict[str, Any]]:
        """``[C, T, D]`` float32: every crop of a ``crops: all`` video, or the features as the one crop."""
        ds = self._dataset(vid)
        x = ds[()].astype(np.float32)
        return (x if n_crops(ds.attrs) else x[None]), dict(ds.attrs)

    def rows(self, vid: str) -> "LazyRows":
        """The video's features without reading them: a view that reads clip ranges on demand
        (ADOR's I3D maps are ~100 KB a clip; a training set of them does not fit in memory)."""
        return LazyRows(self, vid)

    def check(self, vid: str, expect: dict[str, Any]) -> None:
        """Raise naming the attr when the stored features do not match what a consumer expects."""
        attrs = dict(self._dataset(vid).attrs)
        for key, want in expect.items():
            have = attrs.get(key)
            if str(have) != str(want):
                raise FeatureStoreError(f"{self.path}: video {vid}: attr {key} = {have!r}, expected {want!r}; re-extract the features")


def n_crops(attrs: Any) -> int:
    """Crops a video's dataset holds along its first axis (``crops: all``); 0 for ``[T, D, ...]``."""
    return int(attrs.get("n_crops", 0))


def crop_mean(x: np.ndarray) -> np.ndarray:
    """``[C, T, D]`` -> ``[T, D]`` float32, summed in float64 as the import's ``crops: mean`` does, so
    both give the same numbers."""
    return np.asarray(x, dtype=np.float64).mean(axis=0).astype(np.float32)


def frame_index(attrs: dict[str, Any]) -> np.ndarray:
    """Frame index of each row of a ``sampled_frames``-layout video (per-sampled-frame features), from
    its attrs: the sampled frames of ``n_frames`` under ``frame_steps`` (features/sampled.py)."""
    from vadflow.video.geometry import sampled_frames

    try:
        steps = json.loads(str(attrs["frame_steps"]))
    except (KeyError, ValueError):
        raise FeatureStoreError(f"features of layout sampled_frames need the attr frame_steps, got attrs {sorted(attrs)}; re-extract") from None
    return sampled_frames(int(attrs["n_frames"]), steps)


def origin(path: str | Path) -> dict[str, str]:
    """What made a feature file, as plain strings (saved in model.pt for ``vadflow watch``):
    the extractor name, its full config (JSON), weights id, layout and config hash."""
    with FeatureStore(path) as store:
        attrs = store.attrs
    keys = ("extractor", "backbone", "config", "weights", "layout", "config_hash", "source", "format")
    return {k: str(attrs[k]) for k in keys if k in attrs}


class LazyRows:
    """Read-on-demand view of one video's features: ``len()``, ``shape``, ``ndim`` and
    ``[a:b]`` (float32 rows); keeps the store open while it lives."""

    def __init__(self, store: FeatureStore, vid: str):
        self._store = store
        ds = store._dataset(vid)
        self.id = vid
        self.attrs = dict(ds.attrs)
        self._crops = n_crops(self.attrs)
        self.shape = tuple(ds.shape[1:] if self._crops else ds.shape)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice):
            raise TypeError("LazyRows is read by clip ranges, e.g. rows[a:b]")
        ds = self._store._dataset(self.id)
        return crop_mean(ds[:, rows]) if self._crops else ds[rows].astype(np.float32)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[0 : len(self)]
        return out if dtype is None else out.astype(dtype)
