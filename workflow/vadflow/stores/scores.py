"""``scores.h5``: the frame scores every method writes and the evaluation reads.

Top-level datasets are the headline frame scores per video; ``sets/<name>/`` holds a method's
further score sets (other protocols), ``logs/<name>/`` per-frame values kept for inspection.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np


def write_scores(path: str | Path, scores: Mapping[str, np.ndarray], attrs: Mapping[str, object] | None = None,
                 sets: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                 logs: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> None:
    """Write ``{video_id: float32[n_frames]}`` atomically to an HDF5 file.

    ``sets``: further named score sets (a method's other protocols), under ``sets/<name>/``;
    the evaluate job reports each beside the headline. ``logs``: per-frame values kept for
    inspection under ``logs/<name>/`` and never evaluated."""
    import h5py

    from vadflow.io import atomic_path

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
            for vid, arr in scores.items():
                f.create_dataset(vid, data=_finite(vid, arr))
            for group, content in (("sets", sets), ("logs", logs)):
                for name, per_video in (content or {}).items():
                    g = f.require_group(f"{group}/{name}")
                    for vid, arr in per_video.items():
                        if vid not in scores:
                            raise ValueError(f"{group} {name!r} scores video {vid!r}, which has no headline scores")
                        g.create_dataset(vid, data=_finite(vid, arr) if group == "sets" else np.asarray(arr, dtype=np.float32))


def _finite(vid: str, arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"scores for video {vid!r} contain NaN or inf")
    return arr


#: ``scores.h5`` attrs naming the videos a method skipped, each a JSON object ``{id: reason}``
#: (test videos then hold all-zero scores; see ``Method.skip_reason``).
SKIPPED_ATTRS = {"test": "skipped_test", "train": "skipped_train"}


def skipped_attrs(test: Mapping[str, str], train: Mapping[str, str]) -> dict[str, str]:
    """The ``write_scores`` attrs recording skipped test and training videos."""
    return {SKIPPED_ATTRS["test"]: json.dumps(dict(test), sort_keys=True),
            SKIPPED_ATTRS["train"]: json.dumps(dict(train), sort_keys=True)}


def read_skipped(path: str | Path) -> dict[str, dict[str, str]]:
    """``{"test": {id: reason}, "train": {id: reason}}`` from a scores file (empty when absent)."""
    import h5py

    with h5py.File(path, "r") as f:
        return {k: json.loads(f.attrs.get(a, "{}")) for k, a in SKIPPED_ATTRS.items()}


def read_scores(path: str | Path) -> dict[str, np.ndarray]:
    """The headline frame scores ``{video_id: scores}`` (the file's top-level datasets)."""
    import h5py

    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f.keys() if isinstance(f[k], h5py.Dataset)}


def read_score_sets(path: str | Path, group: str = "sets") -> dict[str, dict[str, np.ndarray]]:
    """The further score sets ``{set: {video_id: scores}}`` (``group="logs"``: the logged values)."""
    import h5py

    with h5py.File(path, "r") as f:
        if group not in f:
            return {}
        return {name: {vid: ds[()] for vid, ds in g.items()} for name, g in f[group].items()}


def read_score_attrs(path: str | Path) -> dict[str, str]:
    """The file attrs of a scores file (method, kind, protocol and its provenance)."""
    import h5py

    with h5py.File(path, "r") as f:
        return {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in f.attrs.items()}
