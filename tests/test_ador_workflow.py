"""End to end: detections, I3D maps and ADOR with its two ablations on a tiny synthetic config
(the run itself is conftest's ``ador_workdir``, shared with test_workflow.py's rerun matrix)."""
from __future__ import annotations

import h5py
import pandas as pd
import pytest

from test_workflow import planned_jobs as planned

pytestmark = pytest.mark.e2e

ADOR_TINY = {"window": 8, "test_window": 16, "layers": 3, "stages": 2, "epochs": 2, "d_model": 16, "heads": 2, "ffn": 16,
             "half_layers": 1, "lr": 1.0e-3, "batch_size": 4, "encode_batch": 64}
TINY = {
    "dataset": "synthetic",
    "datasets": {
        "synthetic": {
            "kind": "synthetic",
            "generator": {"seed": 3, "n_train_normal": 3, "n_train_anomalous": 3, "n_test_normal": 2, "n_test_anomalous": 2,
                          "duration_s": [2, 3], "width": 80, "height": 64, "classes": ["Explosion", "Fighting"],
                          "short_video_prob": 0.0},
            "overrides": {"features": {"i3d_map": {"resize": 64, "crop": 64}}, "detectors": {"moving": {"resize": [48, 64]}}},
        },
    },
    "features": {"i3d_map": {"backbone": "i3d_map", "weights": "random", "clip_len": 16, "stride": 16, "resize": 256, "crop": 224,
                             "shards": 1}},
    "detectors": {"moving": {"backend": "background", "features": "i3d_map"}},
    "methods": {
        "ador": {"kind": "ador", "features": "i3d_map", "detections": "moving", **ADOR_TINY},
        "ador_action": {"kind": "ador", "encoder": "action", "features": "i3d_map", **ADOR_TINY},
        "ador_object": {"kind": "ador", "encoder": "object", "features": "i3d_map", "detections": "moving", **ADOR_TINY},
    },
}
TARGETS = [f"results/synthetic/{m}_f1.csv" for m in ("ador", "ador_action", "ador_object")]


@pytest.fixture
def workdir(ador_workdir):
    return ador_workdir  # conftest: TINY run to TARGETS once per session


def test_ador_and_ablations_end_to_end(workdir):
    for target in TARGETS:
        f1 = pd.read_csv(workdir / target)
        assert sorted(set(f1["report"])) == ["abnormal", "all", "normal"] and sorted(set(f1["k"])) == [10, 25, 50]
        auc = pd.read_csv(workdir / target.replace("_f1", "_auc"))
        assert 0.0 <= auc["auc"].iloc[0] <= 1.0
    man = pd.read_csv(workdir / "results/synthetic/manifest.csv")
    with h5py.File(workdir / "results/synthetic/detections/moving.h5") as f, \
            h5py.File(workdir / "results/synthetic/features/i3d_map.h5") as feats:
        assert sorted(f.keys()) == sorted(man.loc[man["status"] == "ok", "id"])
        for vid in f:
            assert f[vid]["valid"].shape == (feats[vid].shape[0], 36)  # one row per feature clip
            assert feats[vid].shape[1:] == (1024, 2, 2)  # a 64 px crop gives a 2x2 map
        assert f.attrs["backend"] == "background" and f.attrs["features"] == "i3d_map"
    # the scores say which detector their objects came from, and what it lacks (report.html's provenance)
    with h5py.File(workdir / "results/synthetic/ador/scores.h5") as f:
        assert f.attrs["detections"] == "moving: background (moving blobs without classes)"
    assert planned(workdir, *TARGETS) == {}

# Editing the detector: the `detector` row of test_workflow.py's rerun matrix (RERUNS).
