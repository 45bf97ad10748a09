"""One job of test_concurrency.py: ``python concurrent_jobs.py ROLE PATH MARKERS``.

Jobs meet at barriers (marker files in MARKERS), so that every file is open in every job at the
same moment; a job that cannot get past a barrier within a minute reports itself blocked.
Roles: ``reader`` (a scoring job's FeatureStore reads every video, after the rerun below has
replaced the file), ``writer`` (another job writes PATH, a different file in the same folder),
``rewriter`` (a rerun writes PATH anew while the readers hold the old one open).
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import vadflow.cli  # noqa: F401  first, as in every job: it sets the HDF5 locking policy before h5py loads

import numpy as np

JOBS = ("reader1", "reader2", "writer", "rewriter")


def features(version: int, i: int) -> np.ndarray:
    return np.random.default_rng(version * 100 + i).random((200, 1024), dtype=np.float32)


ATTRS = {"extractor": "x", "clip_len": 16, "stride": 16, "fps": 30.0, "n_frames": 3200, "config_hash": "h",
         "weights": "random-init", "layout": "clips"}


def barrier(markers: Path, me: str, stage: str, wait_for: tuple[str, ...] = JOBS) -> None:
    (markers / f"{stage}.{me}").touch()
    deadline = time.time() + 60
    while not all((markers / f"{stage}.{job}").exists() for job in wait_for):
        if time.time() > deadline:
            raise SystemExit(f"{me}: blocked at barrier {stage}")
        time.sleep(0.01)


def write(path: Path, version: int, markers: Path, me: str) -> None:
    from vadflow.features.writer import FeatureWriter

    with FeatureWriter(path, {"extractor": "x", "version": version}) as w:
        w.add("v0", features(version, 0), ATTRS, dtype="float32")
        barrier(markers, me, "open")  # every job has its file open now
        for i in range(1, 4):
            w.add(f"v{i}", features(version, i), ATTRS, dtype="float32")
    barrier(markers, me, "written")


def read(path: Path, markers: Path, me: str) -> dict:
    from vadflow.stores.features import FeatureStore

    with FeatureStore(path) as store:
        barrier(markers, me, "open")
        barrier(markers, me, "written")  # the rerun has renamed its new file over `path` by now
        return {vid: hashlib.sha256(store.get(vid)[0].tobytes()).hexdigest() for vid in store.ids()}


def main(role: str, path: Path, markers: Path) -> None:
    if role.startswith("reader"):
        out = read(path, markers, role)
    else:
        write(path, 2 if role == "rewriter" else 1, markers, role)
        out = {}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
