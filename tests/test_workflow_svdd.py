"""End to end: svdd_cae from the frame cache on a tiny synthetic dataset and on a tiny copy of
UCSD Ped2 written here in its published layout (frame folders, UCSDped2.m), whose test frames
are decoded on the fly by the score job."""
from __future__ import annotations

import copy

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest

from test_workflow import planned_jobs, snakemake, write_config

pytestmark = pytest.mark.e2e

TINY_METHOD = {"kind": "svdd_cae", "frames": "cae", "channels": [4, 8, 8, 8], "bottleneck_kernel": 3,
               "ae": {"epochs": 2, "batch_size": 32}, "svdd": {"epochs": 1, "batch_size": 32}}

CFG = {
    "dataset": "synthetic",
    "run_methods": ["svdd_cae"],
    "datasets": {
        "synthetic": {
            "kind": "synthetic",
            "generator": {"seed": 3, "n_train_normal": 3, "n_train_anomalous": 1, "n_test_normal": 1, "n_test_anomalous": 2,
                          "duration_s": [2, 3], "width": 80, "height": 64, "classes": ["Explosion"], "short_video_prob": 0.0},
            "overrides": {"frames": {"cae": {"size": 64, "color": "gray", "train_stride": 4, "test_stride": 2}}},
        },
        "ped2": {"kind": "ucsd", "root": "ped2data/UCSDped2",
                 "overrides": {"frames": {"cae": {"preset": "ped2", "size": 64, "train_stride": 1, "train_cap": 0, "test": "decode"}}}},
    },
    "features": {"i3d": {"backbone": "i3d", "clip_len": 16, "stride": 16}},
    "frames": {"cae": {"preset": "ucf_crime", "size": 128}},
    "methods": {"svdd_cae": TINY_METHOD},
}

PED2_M = "TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [4:7];\nTestVideoFile{end+1}.gt_frame = [1:3];\n"


def write_ped2(root) -> None:
    """Ped2's geometry (240x360 grey .tif frames, the preset crops rows 80-240), 3 + 2 short videos."""
    rng = np.random.default_rng(0)
    for folder, n in (("Train/Train001", 10), ("Train/Train002", 10), ("Train/Train003", 10), ("Test/Test001", 9), ("Test/Test002", 8)):
        d = root / folder
        d.mkdir(parents=True)
        for i in range(n):
            img = np.full((240, 360), 90, np.uint8)
            x = 20 + 15 * i
            img[150:170, x : x + 8] = 200  # a walker
            img += rng.integers(0, 4, img.shape, dtype=np.uint8)
            cv2.imwrite(str(d / f"{i + 1:03d}.tif"), img)
    (root / "Test" / "UCSDped2.m").write_text(PED2_M)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("svdd_wf")
    write_config(wd, CFG)
    write_ped2(wd / "ped2data" / "UCSDped2")
    snakemake(wd, "results/synthetic/summary.csv", "results/ped2/svdd_cae_auc.csv")
    return wd


def test_auc_csv_from_the_frame_cache(workdir):
    auc = pd.read_csv(workdir / "results/synthetic/svdd_cae_auc.csv")
    assert auc["score_set"].tolist() == ["global", "agg", "bcae1_agg", "bcae1_global"]
    assert auc["headline"].tolist().count(True) == 1 and auc.loc[auc["headline"], "score_set"].item() == "global"
    assert auc["auc"].between(0, 1).all() and auc["wavg_f1"].between(0, 1).all()
    summary = pd.read_csv(workdir / "results/synthetic/summary.csv")
    aucs = summary[summary["metric"] == "auc"].set_index("method")["value"]
    assert sorted(aucs.index) == ["svdd_cae", "svdd_cae:agg", "svdd_cae:bcae1_agg", "svdd_cae:bcae1_global"]
    assert aucs["svdd_cae:agg"] == pytest.approx(auc.loc[auc["score_set"] == "agg", "auc"].item(), abs=1e-6)
    assert "svdd_cae:bcae1_agg" in (workdir / "results/synthetic/report.html").read_text()
    man = pd.read_csv(workdir / "results/synthetic/manifest.csv")
    normal_train = man[(man["split"] == "train") & ~man["anomalous"]]
    with h5py.File(workdir / "results/synthetic/frames/cae.h5") as f:
        # normal training videos every 4th frame, test videos every 2nd; 64x64 grey; anomalous training videos left out
        expect = {r.id: -(-r.frames // 4) for r in normal_train.itertuples()}
        expect.update({r.id: -(-r.frames // 2) for r in man[man["split"] == "test"].itertuples()})
        assert {k: f[k].shape for k in f} == {k: (n, 64, 64, 1) for k, n in expect.items()}
    with h5py.File(workdir / "results/synthetic/svdd_cae/scores.h5") as f:
        assert sorted(f["sets"]) == ["agg", "bcae1_agg", "bcae1_global"] and "svdd_d" in f["logs"]
        test = man[man["split"] == "test"]
        assert {k: f[k].shape[0] for k in f if isinstance(f[k], h5py.Dataset)} == dict(zip(test["id"], test["frames"]))


def test_ped2_layout_is_one_command_with_test_frames_decoded_on_the_fly(workdir):
    auc = pd.read_csv(workdir / "results/ped2/svdd_cae_auc.csv")
    assert len(auc) == 4 and auc["n_frames"].eq(17).all()
    with h5py.File(workdir / "results/ped2/frames/cae.h5") as f:
        assert sorted(f) == ["Train001", "Train002", "Train003"]  # the test videos were never stored
        assert f["Train001"].shape == (10, 64, 64, 1)
    with h5py.File(workdir / "results/ped2/labels.h5") as f:
        assert f["Test001"][()].tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0]


def test_edits_rerun_only_what_depends_on_them(workdir):
    assert planned_jobs(workdir, "results/synthetic/svdd_cae_auc.csv") == {}
    cfg = copy.deepcopy(CFG)
    cfg["methods"]["svdd_cae"]["svdd"]["epochs"] = 2
    write_config(workdir, cfg)
    jobs = planned_jobs(workdir, "results/synthetic/svdd_cae_auc.csv")
    assert jobs == {"train": 1, "score": 1, "evaluate": 1}
    cfg = copy.deepcopy(CFG)
    cfg["datasets"]["synthetic"]["overrides"]["frames"]["cae"]["test_stride"] = 3
    write_config(workdir, cfg)
    jobs = planned_jobs(workdir, "results/synthetic/svdd_cae_auc.csv")
    assert jobs == {"frames": 1, "train": 1, "score": 1, "evaluate": 1}
    assert planned_jobs(workdir, "results/ped2/svdd_cae_auc.csv") == {}  # another dataset's override
    write_config(workdir, CFG)
