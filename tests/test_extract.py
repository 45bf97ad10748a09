"""Incremental and resumable extraction: the per-video cache, fixed batch layout and receipts."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pandas as pd
import pytest

from conftest import write_mp4
from vadflow.data.manifest import COLUMNS
from vadflow.features.extract import BatchLayout, extract_shard
from vadflow.stores.features import FeatureStoreError
from vadflow.features.writer import merge

# Small I3D on 32x32 crops: real network, milliseconds per clip.
CFG = {"backbone": "i3d", "weights": "random", "seed": 1, "clip_len": 8, "stride": 8, "resize": 32, "crop": 32,
       "batch_size": 3, "device": "cpu", "decoder": "pyav"}
LENGTHS = [20, 41, 9, 33, 26, 17]


def make_video(root, i: int, n: int):
    rng = np.random.default_rng(100 + i)
    return write_mp4(root / f"v{i}.mp4", rng.integers(0, 255, (n, 32, 40, 3), dtype=np.uint8))


def write_manifest(root, n_videos: int):
    rows = [{"id": f"v{i}", "path": f"v{i}.mp4", "split": "test", "cls": "Normal", "anomalous": False,
             "frames": LENGTHS[i], "fps": 30.0, "width": 40, "height": 32, "status": "ok", "error": ""}
            for i in range(n_videos)]
    pd.DataFrame(rows, columns=COLUMNS).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


@pytest.fixture()
def videos(tmp_path):
    for i, n in enumerate(LENGTHS):
        make_video(tmp_path, i, n)
    return tmp_path


def read_all(path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f}


def test_batch_layout_is_fixed_over_the_full_clip_list():
    layout = BatchLayout({"a": 4, "b": 2, "c": 5}, batch_size=3)
    assert layout.total == 11
    assert [layout.slot("a", i) for i in range(4)] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert layout.slot("b", 0) == (1, 1) and layout.slot("c", 4) == (3, 1)
    assert layout.batch_len(3) == 2 and layout.batch_len(0) == 3
    assert dict(layout.slots("c", 0, 5)) == {2: 3, 3: 2}


def test_adding_a_video_computes_only_that_video(videos):
    out = videos / "feat" / "shard-0-of-1.json"
    s1 = extract_shard(write_manifest(videos, 5), videos, CFG, "0-of-1", out, progress=False)
    assert (s1["computed"], s1["cached"]) == (5, 0)
    merge([out], videos / "a.h5")
    before = read_all(videos / "a.h5")
    assert before["v1"].shape == (5, 1024) and before["v2"].shape == (1, 1024)

    s2 = extract_shard(write_manifest(videos, 6), videos, CFG, "0-of-1", out, progress=False)
    assert (s2["computed"], s2["cached"], s2["clips"]) == (1, 5, 2)  # v5: 17 frames -> 2 clips
    merge([out], videos / "b.h5")
    after = read_all(videos / "b.h5")
    assert sorted(after) == [f"v{i}" for i in range(6)]
    for vid, feats in before.items():
        assert np.array_equal(after[vid], feats)
    receipt = json.loads(out.read_text())
    assert receipt["stats"]["computed"] == 1 and set(receipt["videos"]) == set(after)

    # A replaced video file (other content, same name) is recomputed, nothing else.
    make_video(videos, 7, LENGTHS[3]).replace(videos / "v3.mp4")
    s3 = extract_shard(write_manifest(videos, 6), videos, CFG, "0-of-1", out, progress=False)
    assert (s3["computed"], s3["cached"]) == (1, 5)


def test_settings_change_recomputes_and_merge_checks_the_cache(videos):
    out = videos / "feat" / "shard-0-of-1.json"
    extract_shard(write_manifest(videos, 2), videos, CFG, "0-of-1", out, progress=False)
    stats = extract_shard(write_manifest(videos, 2), videos, {**CFG, "seed": 2}, "0-of-1", out, progress=False)
    assert stats["computed"] == 2
    # A runtime-only key (batch size) reuses the cache.
    stats = extract_shard(write_manifest(videos, 2), videos, {**CFG, "seed": 2, "batch_size": 5}, "0-of-1", out, progress=False)
    assert stats["cached"] == 2
    (videos / "feat" / "videos" / "v1.h5").unlink()
    with pytest.raises(FeatureStoreError, match="v1"):
        merge([out], videos / "m.h5")
    assert not (videos / "m.h5").exists()


def test_corrupt_video_is_reported_and_the_rest_extracted(videos):
    (videos / "v2.mp4").write_bytes(b"not a video")
    out = videos / "feat" / "shard-0-of-1.json"
    stats = extract_shard(write_manifest(videos, 4), videos, CFG, "0-of-1", out, progress=False)
    assert stats["computed"] == 3 and stats["failed"] == 1
    merge([out], videos / "m.h5")
    with h5py.File(videos / "m.h5") as f:
        assert sorted(f) == ["v0", "v1", "v3"] and "v2" in json.loads(f.attrs["failed"])


def run_cli(videos, cache, out, **popen):
    cmd = [sys.executable, "-m", "vadflow.cli", "extract", "--cfg", json.dumps({**CFG, "batch_size": 2}),
           "--root", str(videos), "--manifest", str(videos / "manifest.csv"), "--shard", "0-of-1",
           "--threads", "1", "--cache", str(cache), "--out", str(out), "--quiet"]
    return subprocess.Popen(cmd, **popen)


def test_sigkill_then_rerun_is_bit_identical(videos):
    write_manifest(videos, 6)
    ref = run_cli(videos, videos / "ref", videos / "ref.json")
    assert ref.wait(timeout=300) == 0
    merge([videos / "ref.json"], videos / "ref.h5")

    # Kill the job (whole process group, SIGKILL) as soon as its first video is cached.
    job = run_cli(videos, videos / "c", videos / "c.json", start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and job.poll() is None and not list((videos / "c").glob("v*.h5")):
        time.sleep(0.005)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert not (videos / "c.json").exists()
    kept = {p.stem for p in (videos / "c").glob("v*.h5")}
    assert 0 < len(kept) < 6, f"the kill did not land mid-job: {kept}"

    again = run_cli(videos, videos / "c", videos / "c.json", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log, _ = again.communicate(timeout=300)
    assert again.returncode == 0, log
    stats = json.loads((videos / "c.json").read_text())["stats"]
    assert stats["cached"] == len(kept) and stats["computed"] == 6 - len(kept)
    merge([videos / "c.json"], videos / "c.h5")
    ref_feats, got = read_all(videos / "ref.h5"), read_all(videos / "c.h5")
    assert sorted(got) == sorted(ref_feats)
    for vid in ref_feats:
        assert ref_feats[vid].tobytes() == got[vid].tobytes(), vid
