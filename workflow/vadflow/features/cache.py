"""The per-video cache: one small HDF5 file per processed video.

Extraction jobs write each finished video here at once (atomically), so a job killed half
way keeps what it finished, and a rerun after new videos were added computes only those.
A cached entry is reused only while its key (extractor config hash, weights id, video file
signature) matches; anything else is recomputed and overwritten. The merged
``features/{extractor}.h5`` that methods read is assembled from these files
(:func:`vadflow.features.writer.merge`). The frame cache (:mod:`vadflow.features.frames`)
keeps its decoded frames the same way, under the dataset name ``frames``.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from vadflow.io import atomic_path

log = logging.getLogger(__name__)

#: attrs that decide whether a cached video may be reused.
KEY_ATTRS = ("config_hash", "weights", "video_signature")


def _file_name(vid: str) -> str:
    # Video ids are file stems in every supported layout; a path separator would escape the dir.
    return vid.replace(os.sep, "%2F") + ".h5"


class VideoCache:
    """The cache directory of one (dataset, extractor), or of one (dataset, frames entry).

    Each file holds one dataset named ``key`` (``features`` or ``frames``) whose attrs carry
    the reuse key."""

    def __init__(self, root: str | Path, key: str = "features"):
        self.root = Path(root)
        self.key = key

    def path(self, vid: str) -> Path:
        return self.root / _file_name(vid)

    def valid(self, vid: str, key: Mapping[str, Any]) -> bool:
        """True when ``vid`` is cached with exactly ``key``; an unreadable file counts as absent."""
        path = self.path(vid)
        if not path.is_file():
            return False
        try:
            with h5py.File(path, "r") as f:
                attrs = f[self.key].attrs
                return all(str(attrs.get(k)) == str(v) for k, v in key.items())
        except (OSError, KeyError) as exc:
            log.warning("cache file %s is unreadable (%s); recomputing %s", path, exc, vid)
            return False

    def write(self, vid: str, feats: np.ndarray, attrs: Mapping[str, Any], dtype: str = "float16") -> Path:
        """Store ``feats`` ``[n_clips, ...]`` with ``attrs``; the file appears complete or not at all."""
        path = self.path(vid)
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                # Contiguous (unchunked) storage: no chunk index, so the merged file stays
                # within a few percent of the raw float16 bytes (benchmarks/extract.py, P7).
                ds = f.create_dataset(self.key, data=np.asarray(feats).astype(dtype))
                for k, v in attrs.items():
                    ds.attrs[k] = v
                ds.attrs["n_clips"] = feats.shape[0]
        return path

    def remove_stale(self, vids: set[str]) -> int:
        """Delete temp files that a killed writer left for ``vids`` (only this job writes them)."""
        if not self.root.is_dir():
            return 0
        n = 0
        for tmp in self.root.glob(".*.tmp"):
            stem = tmp.name[1:].rsplit(".", 2)[0]  # ".<vid>.h5.<pid>.tmp" -> "<vid>.h5"
            if stem.endswith(".h5") and stem[:-3].replace("%2F", os.sep) in vids:
                tmp.unlink(missing_ok=True)
                n += 1
        return n
