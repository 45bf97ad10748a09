"""The HDF5 clip-feature cache: one dataset per video, self-describing attrs.

Extraction runs in shards (one job per shard, many can run on a cluster). Each job writes
every finished video to the per-video cache (:mod:`vadflow.features.cache`) and ends with a
JSON receipt; ``merge`` copies the videos the receipts list into the single
``features/{extractor}.h5`` consumers read. A copy was chosen over HDF5 external links or a
virtual dataset so the consumer file stands alone: it can be moved or copied off a cluster
without the cache directory.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

import h5py
import numpy as np

from vadflow.io import atomic_path
from vadflow.stores.features import VIDEO_ATTRS, FeatureStoreError


class FeatureWriter:
    """Write per-video features into a new file, atomically (temp name, renamed on close)."""

    def __init__(self, path: str | Path, file_attrs: dict[str, Any] | None = None):
        self._ctx = atomic_path(path)
        self._tmp = self._ctx.__enter__()
        self._failed: dict[str, str] = {}
        try:
            self._f = h5py.File(self._tmp, "w")
            for k, v in (file_attrs or {}).items():
                self._f.attrs[k] = v
        except BaseException as exc:
            self._finish(exc)

    def add(self, vid: str, feats: np.ndarray, attrs: dict[str, Any], dtype: str = "float16") -> None:
        if feats.ndim < 2 or feats.shape[0] == 0:
            raise FeatureStoreError(f"video {vid}: features must be [n_clips>0, D, ...], got {feats.shape}")
        missing = [a for a in VIDEO_ATTRS if a not in attrs]
        if missing:
            raise FeatureStoreError(f"video {vid}: attrs {missing} missing")
        crops = int(attrs.get("n_crops", 0))
        if crops and (feats.ndim != 3 or feats.shape[0] != crops or feats.shape[1] == 0):
            raise FeatureStoreError(f"video {vid}: {crops} crops must be stored as [{crops}, n_clips>0, D], got {feats.shape}")
        # Contiguous storage: no chunk index per video, so the file stays near the raw bytes.
        ds = self._f.create_dataset(vid, data=feats.astype(dtype))
        for k, v in attrs.items():
            ds.attrs[k] = v
        ds.attrs["n_clips"] = feats.shape[1] if crops else feats.shape[0]

    def fail(self, vid: str, message: str) -> None:
        self._failed[vid] = message

    def set_file_attrs(self, attrs: dict[str, Any]) -> None:
        """File attrs known only once every video is written (e.g. how many needed aligning)."""
        for k, v in attrs.items():
            self._f.attrs[k] = v

    def close(self, exc: BaseException | None = None) -> None:
        """Rename the file into place; with ``exc`` (the writer failed) remove it and re-raise,
        a disk error as ArtifactWriteError naming the file (atomic_path)."""
        try:
            self._f.attrs["failed"] = json.dumps(self._failed, sort_keys=True)
            self._f.close()
        except BaseException as err:  # a full disk often surfaces only when HDF5 flushes on close
            exc = exc or err
            with contextlib.suppress(Exception):
                self._f.close()
        self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        if exc is None:
            self._ctx.__exit__(None, None, None)
        elif not self._ctx.__exit__(type(exc), exc, exc.__traceback__):
            raise exc

    def __enter__(self) -> "FeatureWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self.close(exc)
        except BaseException as err:
            if err is not exc:
                raise
        return False


def write_receipt(path: str | Path, shard: str, file_attrs: dict[str, Any], videos: dict[str, Path],
                  failed: dict[str, str], stats: dict[str, Any]) -> None:
    """The extraction job's output: which cached video files make up its shard."""
    path = Path(path)
    base = path.parent.resolve()
    rel = {vid: os.path.relpath(Path(p).resolve(), base) for vid, p in videos.items()}
    doc = {"shard": shard, "file_attrs": file_attrs, "videos": rel, "failed": failed, "stats": stats}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str))


def merge(receipts: Iterable[str | Path], out: str | Path) -> dict[str, int]:
    """Copy every video that the shard receipts list into ``out``; shard attrs must agree."""
    failed: dict[str, str] = {}
    videos: dict[str, Path] = {}
    where: dict[str, Path] = {}
    ref: dict[str, Any] | None = None
    for receipt in map(Path, receipts):
        try:
            doc = json.loads(receipt.read_text())
        except (OSError, ValueError) as exc:
            raise FeatureStoreError(f"{receipt}: unreadable shard receipt ({exc}); rerun its extraction job") from exc
        attrs = doc["file_attrs"]
        if ref is None:
            ref = attrs
        elif attrs != ref:
            raise FeatureStoreError(f"{receipt}: shard attrs {attrs} differ from the first shard's {ref}")
        failed.update(doc["failed"])
        for vid, rel in doc["videos"].items():
            if vid in videos:
                raise FeatureStoreError(f"video {vid} appears in two shards ({receipt})")
            videos[vid] = receipt.parent / rel
            where[vid] = receipt
    ref = ref or {}
    return merge_videos(videos, ref, failed, out, check_hash=ref.get("config_hash"), sources=where,
                        rerun="rerun the extraction (snakemake -R extract_features)")


def merge_videos(videos: dict[str, Path], file_attrs: dict[str, Any], failed: dict[str, str], out: str | Path,
                 key: str = "features", check_hash: str | None = None, sources: dict[str, Path] | None = None,
                 rerun: str = "rerun the job that writes it") -> dict[str, int]:
    """Copy each per-video cache file's ``key`` dataset into ``out`` (atomically) as dataset
    ``<video id>``, with ``file_attrs`` and the ``failed`` videos as file attrs. With
    ``check_hash``, every cached dataset must carry that ``config_hash``."""
    n = 0
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as dst:
        for k, v in file_attrs.items():
            dst.attrs[k] = v
        for vid, src_path in videos.items():
            said = f"than {sources[vid]} says" if sources and vid in sources else "than expected"
            try:
                src = h5py.File(src_path, "r")
            except OSError as exc:
                raise FeatureStoreError(f"{src_path}: cached {key} of {vid} are missing or unreadable ({exc}); {rerun}") from exc
            with src:  # only the source's opening is guarded: a failed write to `out` is not the cache's fault
                if key not in src:
                    raise FeatureStoreError(f"{src_path}: no dataset {key!r} in the cached file of {vid}; {rerun}")
                if check_hash is not None and str(src[key].attrs.get("config_hash")) != str(check_hash):
                    raise FeatureStoreError(f"{src_path}: cached with other settings {said}; {rerun}")
                src.copy(src[key], dst, name=vid)
            n += 1
        dst.attrs["failed"] = json.dumps(failed, sort_keys=True)
        dst.attrs["n_videos"] = n
    return {"videos": n, "failed": len(failed)}


