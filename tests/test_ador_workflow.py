"""End to end: detections, I3D maps and ADOR with its two ablations on a tiny synthetic config;
editing the detector reruns exactly the detection and the methods that read it."""
from __future__ import annotations

import re

import h5py
import pandas as pd
import pytest

from test_workflow import snakemake, write_config

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


def planned(workdir, *targets: str) -> dict[str, int]:
    """Jobs a dry run of ``targets`` would execute, from Snakemake's job-stats table."""
    out = snakemake(workdir, "-n", *targets).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("ador_wf")
    write_config(wd, TINY)
    return wd


def test_ador_and_ablations_end_to_end(workdir):
    snakemake(workdir, *TARGETS)
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
    assert planned(workdir, *TARGETS) == {}


def test_editing_the_detector_reruns_only_what_reads_it(workdir):
    cfg = {**TINY, "detectors": {"moving": {"backend": "background", "features": "i3d_map", "background": {"min_area": 0.01}}}}
    write_config(workdir, cfg)
    try:
        jobs = planned(workdir, *TARGETS)
    finally:
        write_config(workdir, TINY)
    # ador_action reads no objects: its model, scores and metrics stay
    assert jobs == {"detect": 1, "train": 2, "score": 2, "evaluate": 2}
