"""HDF5 feature store: round trip, attrs, merge, atomic writes."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from vadflow.features.cache import VideoCache
from vadflow.stores.features import FeatureStore, FeatureStoreError
from vadflow.features.writer import FeatureWriter, merge, write_receipt

ATTRS = {"extractor": "i3d", "clip_len": 16, "stride": 16, "fps": 30.0, "n_frames": 100, "config_hash": "abc",
         "weights": "random-init", "layout": "clips"}


def test_round_trip_and_attrs(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 8)).astype(np.float32), rng.normal(size=(1, 8)).astype(np.float32)
    with FeatureWriter(tmp_path / "s.h5", {"extractor": "i3d"}) as w:
        w.add("va", a, ATTRS)
        w.add("vb", b, {**ATTRS, "n_frames": 10}, dtype="float32")
        w.fail("vc", "vc.mp4: cannot decode")
    with FeatureStore(tmp_path / "s.h5") as st:
        assert sorted(st.ids()) == ["va", "vb"]
        fa, attrs = st.get("va")
        assert fa.dtype == np.float32 and np.allclose(fa, a.astype(np.float16).astype(np.float32))
        assert attrs["n_clips"] == 6 and attrs["weights"] == "random-init" and attrs["n_frames"] == 100
        assert np.array_equal(st.get("vb")[0], b)  # float32 storage is exact
        assert st.failed == {"vc": "vc.mp4: cannot decode"}
        st.check("va", {"clip_len": 16, "config_hash": "abc"})
        with pytest.raises(FeatureStoreError, match="attr config_hash"):
            st.check("va", {"config_hash": "other"})
        with pytest.raises(FeatureStoreError, match="vc.*cannot decode"):
            st.get("vc")
    with h5py.File(tmp_path / "s.h5") as f:
        assert f["va"].dtype == np.float16


def test_failed_write_leaves_nothing(tmp_path):
    out = tmp_path / "f.h5"
    with pytest.raises(RuntimeError):
        with FeatureWriter(out) as w:
            w.add("va", np.ones((2, 3), np.float32), ATTRS)
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FeatureStoreError, match="missing"):
        with FeatureWriter(out) as w:
            w.add("va", np.ones((2, 3), np.float32), {"extractor": "i3d"})
    assert not out.exists()


def test_merge(tmp_path):
    cache = VideoCache(tmp_path / "videos")
    for i, vids in enumerate([["a", "b"], ["c"]]):
        paths = {v: cache.write(v, np.full((2, 4), i, np.float32), ATTRS) for v in vids}
        write_receipt(tmp_path / f"s{i}.json", f"{i}-of-2", {"extractor": "i3d", "config_hash": "abc"}, paths,
                      {"d": "broken"} if i else {}, {})
    stats = merge([tmp_path / "s0.json", tmp_path / "s1.json"], tmp_path / "m.h5")
    assert stats == {"videos": 3, "failed": 1}
    with FeatureStore(tmp_path / "m.h5") as st:
        assert sorted(st.ids()) == ["a", "b", "c"] and st.get("c")[0][0, 0] == 1 and st.get("c")[1]["clip_len"] == 16
        assert st.attrs["config_hash"] == "abc" and json.loads(st.attrs["failed"]) == {"d": "broken"}
    write_receipt(tmp_path / "s2.json", "1-of-2", {"extractor": "i3d", "config_hash": "zzz"}, {}, {}, {})
    with pytest.raises(FeatureStoreError, match="differ"):
        merge([tmp_path / "s0.json", tmp_path / "s2.json"], tmp_path / "m2.h5")
    assert not (tmp_path / "m2.h5").exists()


def test_multidimensional_features_and_size(tmp_path):
    """Map features keep their shape; a file of many small videos stays close to the raw bytes."""
    maps = np.random.default_rng(0).normal(size=(3, 16, 7, 7)).astype(np.float32)
    with FeatureWriter(tmp_path / "maps.h5") as w:
        w.add("m", maps, ATTRS)
    with FeatureStore(tmp_path / "maps.h5") as st:
        assert st.get("m")[0].shape == (3, 16, 7, 7)
    with FeatureWriter(tmp_path / "many.h5") as w:
        for i in range(50):
            w.add(f"v{i}", np.ones((25, 1024), np.float32), ATTRS)
    raw = 50 * 25 * 1024 * 2
    assert (tmp_path / "many.h5").stat().st_size / raw < 1.05
