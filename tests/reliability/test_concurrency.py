"""Gap 7: two scoring jobs read one feature file while another job writes a different file in
the same folder, and a rerun replaces the file being read: nobody blocks, nothing is corrupted.

HDF5 locking (README, "Concurrent jobs"): every job runs with HDF5_USE_FILE_LOCKING=BEST_EFFORT
(set by vadflow.cli unless the user set it): files are locked where the file system supports
it, and jobs still run on file systems without flock (NFS, Lustre). Jobs never contend for a
lock, because every artifact is written under a temporary name and renamed into place.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from conftest import ROOT

from .concurrent_jobs import ATTRS, features

HERE = Path(__file__).resolve().parent


def job_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HDF5_USE_FILE_LOCKING"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "workflow"), os.environ.get("PYTHONPATH", "")])
    return {**env, **extra}


def write_features(path: Path, version: int) -> dict[str, str]:
    from vadflow.features.writer import FeatureWriter

    with FeatureWriter(path, {"extractor": "x", "version": version}) as w:
        for i in range(4):
            w.add(f"v{i}", features(version, i), ATTRS, dtype="float32")
    return {f"v{i}": hashlib.sha256(features(version, i).tobytes()).hexdigest() for i in range(4)}


def test_two_readers_and_two_writers_in_one_folder(tmp_path):
    folder, markers = tmp_path / "features", tmp_path / "markers"
    markers.mkdir()
    shared = folder / "i3d.h5"
    before = write_features(shared, 1)
    jobs = {"reader1": shared, "reader2": shared, "writer": folder / "c3d.h5", "rewriter": shared}
    procs = {role: subprocess.Popen([sys.executable, str(HERE / "concurrent_jobs.py"), role, str(path), str(markers)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=job_env())
             for role, path in jobs.items()}
    outs = {}
    for role, p in procs.items():
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, f"{role}: {err[-3000:]}"
        outs[role] = json.loads(out.strip().splitlines()[-1])
    # The readers saw the file they opened, whole, although the rerun replaced it meanwhile.
    assert outs["reader1"] == outs["reader2"] == before
    with h5py.File(shared) as f:  # the rerun's file is complete under the name
        assert f.attrs["version"] == 2 and sorted(f) == ["v0", "v1", "v2", "v3"]
    with h5py.File(folder / "c3d.h5") as f:
        assert sorted(f) == ["v0", "v1", "v2", "v3"]
    assert not list(folder.glob(".*.tmp"))


def lock_policy(env: dict[str, str]) -> str:
    code = "import os, vadflow.cli; print(os.environ['HDF5_USE_FILE_LOCKING'])"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.strip()


def test_jobs_lock_best_effort_unless_the_user_chose(tmp_path):
    assert lock_policy(job_env()) == "BEST_EFFORT"
    assert lock_policy(job_env(HDF5_USE_FILE_LOCKING="FALSE")) == "FALSE"


def test_locks_are_on_where_the_file_system_has_them(tmp_path):
    """BEST_EFFORT still locks (unlike FALSE): a job does not read a file another program is
    modifying in place; it fails at once, naming the file, instead of reading a torn file."""
    path = tmp_path / "x.h5"
    write_features(path, 1)
    code = ("import sys, vadflow.cli\nfrom vadflow.stores.features import FeatureStore, FeatureStoreError\n"
            "try:\n    FeatureStore(sys.argv[1])\nexcept FeatureStoreError as exc:\n    print('refused', exc)\n")
    with h5py.File(path, "a"):  # an outside program holds it open for writing
        res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=job_env())
    assert res.stdout.startswith(f"refused feature file {path} cannot be opened") and "unable to lock file" in res.stdout, \
        res.stdout + res.stderr
