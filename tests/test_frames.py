"""Frame cache: geometry and sampling by hand, per-video reuse, on-the-fly test decoding."""
from __future__ import annotations

import os

import cv2
import h5py
import numpy as np
import pytest

from test_benchmarks import level_image, ucsd_root
from vadflow.data.manifest import build_manifest, write_manifest
from vadflow.video.decoder import probe
from vadflow.stores.frames import FrameStore
from vadflow.features.frames import cache_frames, sample_indices
from vadflow.video.pixels import resolve
from vadflow.stores.features import FeatureStoreError


@pytest.fixture()
def ped(tmp_path):
    root = ucsd_root(tmp_path)
    table, labels, _ = build_manifest({"kind": "ucsd", "root": str(root)}, probe=probe, progress=False)
    write_manifest(table, labels, tmp_path / "manifest.csv", tmp_path / "labels.h5")
    return root, tmp_path


CFG = {"name": "cae", "size": 8, "color": "gray", "region": [4, 0, 16, 36], "train_stride": 2, "train_cap": 4, "test_stride": 3}


def by_hand(i: int, region=(4, 0, 16, 36), size=8) -> np.ndarray:
    """Frame i of the fixtures: region cut, squash resized (shrinking: area), grey."""
    t, l, h, w = region
    return cv2.resize(level_image(i)[t : t + h, l : l + w], (size, size), interpolation=cv2.INTER_AREA)[..., None]


def run(ped, **over):
    root, tmp = ped
    return cache_frames(tmp / "manifest.csv", root, {**CFG, **over}, tmp / "frames.h5", tmp / "videos", threads=2, progress=False)


def test_sampling_stride_cap_and_seed():
    assert sample_indices(10, 3, 0, 0, "a").tolist() == [0, 3, 6, 9]
    capped = sample_indices(100, 2, 5, 0, "a")
    assert len(capped) == 5 and np.all(np.diff(capped) > 0) and np.all(capped % 2 == 0)
    assert np.array_equal(capped, sample_indices(100, 2, 5, 0, "a"))  # seeded
    assert not np.array_equal(capped, sample_indices(100, 2, 5, 0, "b"))  # per video
    assert resolve({"preset": "ped2"})["region"] == [80, 0, 160, 360] and resolve({"preset": "ped2"})["color"] == "gray"
    assert resolve({"preset": "ped2", "color": "rgb", "size": 64})["size"] == [64, 64]


def test_frames_by_hand_and_reuse(ped):
    root, tmp = ped
    stats = run(ped)
    assert stats["videos"] == 4 and stats["computed"] == 4
    with FrameStore(tmp / "frames.h5") as st:
        assert st.channels == 1 and st.size == (8, 8)
        tr = st.source("Train001")  # 12 frames, stride 2 -> 6, capped at 4: a seeded subset
        assert len(tr) == 4 and set(tr.index) <= set(range(0, 12, 2))
        assert np.array_equal(tr.index, sample_indices(12, 2, 4, 0, "Train001"))
        assert np.array_equal(tr.read(), np.stack([by_hand(i) for i in tr.index]))
        te = st.source("Test002")  # 8 frames, stride 3, no cap
        assert te.index.tolist() == [0, 3, 6] and te.n_frames == 8
        assert [b.shape[0] for b in te.batches(2)] == [2, 1]
        assert np.array_equal(te.read(), np.stack([by_hand(i) for i in (0, 3, 6)]))
    before = {p.name: p.stat().st_mtime_ns for p in (tmp / "videos").iterdir()}
    assert run(ped)["computed"] == 0  # everything reused
    assert run(ped, test_stride=1)["computed"] == 2  # only the test videos' sampling changed
    after = {p.name: p.stat().st_mtime_ns for p in (tmp / "videos").iterdir()}
    assert sorted(n for n in before if before[n] != after[n]) == ["Test001.h5", "Test002.h5"]


def test_test_frames_decoded_on_the_fly(ped):
    root, tmp = ped
    run(ped)
    with FrameStore(tmp / "frames.h5") as st:
        cached = st.source("Test001").read()
    assert run(ped, test="decode")["videos"] == 2  # only the training videos are stored
    with h5py.File(tmp / "frames.h5") as f:
        assert sorted(f.keys()) == ["Train001", "Train002"]
    with FrameStore(tmp / "frames.h5") as st:
        src = st.source("Test001")
        assert not src.cached and np.array_equal(src.read(), cached)
        assert "Test001" in st.ids()
        # a changed video is refused, not silently scored
        first = sorted((root / "Test" / "Test001").iterdir())[0]
        cv2.imwrite(str(first), np.zeros((24, 36), np.uint8))
        with pytest.raises(FeatureStoreError, match="Test001 changed"):
            st.source("Test001").read()


def test_a_broken_video_fails_alone(ped):
    root, tmp = ped
    (root / "Train" / "Train002" / "005.tif").write_bytes(b"not an image")
    stats = run(ped)
    assert stats["failed"] == 1 and stats["videos"] == 3
    with FrameStore(tmp / "frames.h5") as st:
        assert "Train002" in st.failed and "005.tif" in st.failed["Train002"]
        with pytest.raises(FeatureStoreError, match="Train002"):
            st.source("Train002")
    assert not any(p.name.endswith(".tmp") for p in (tmp / "videos").iterdir())
    assert not (tmp / "videos" / "Train002.h5").exists()
    os.remove(root / "Train" / "Train002" / "005.tif")
