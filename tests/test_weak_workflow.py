"""RTFM, UR-DMU and MGFN through Snakemake on tiny synthetic flow features, and through
``vadflow watch``; a test-selected instance is marked in every output (docs/methods/weak.md §3)."""
from __future__ import annotations

import csv
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from test_weak import TINY
from test_workflow import snakemake, write_config

pytestmark = pytest.mark.e2e

CFG = {
    "dataset": "synthetic",
    "datasets": {"synthetic": {"kind": "synthetic", "generator": {
        "seed": 4, "n_train_normal": 4, "n_train_anomalous": 4, "n_test_normal": 2, "n_test_anomalous": 2,
        "n_val_normal": 2, "n_val_anomalous": 2, "duration_s": [2, 3], "width": 80, "height": 64,
        "classes": ["Explosion", "Fighting"], "short_video_prob": 0.0}}},
    "features": {"flow": {"backbone": "flow", "clip_len": 16, "stride": 16, "resize": 64, "shards": 1}},
    "methods": {
        "rtfm": {"kind": "rtfm", "features": "flow", "standardize": True, "test_window": 4, **TINY["rtfm"]},
        "urdmu": {"kind": "urdmu", "features": "flow", "standardize": True, **TINY["urdmu"]},
        "mgfn": {"kind": "mgfn", "features": "flow", "standardize": True, **TINY["mgfn"]},
        "rtfm_test": {"kind": "rtfm", "features": "flow", "standardize": True, "select": "test_best", **TINY["rtfm"]},
    },
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("weak")
    write_config(wd, CFG)
    snakemake(wd)
    return wd


def test_each_kind_trains_scores_and_is_evaluated(run):
    res = run / "results/synthetic"
    man = pd.read_csv(res / "manifest.csv")
    test = sorted(man[(man["split"] == "test") & (man["status"] == "ok")]["id"])
    for m in CFG["methods"]:
        auc = pd.read_csv(res / f"{m}_auc.csv")
        assert 0.0 <= float(auc["auc"].iloc[0]) <= 1.0, m
        with h5py.File(res / m / "scores.h5") as f:
            assert sorted(k for k in f.keys() if isinstance(f[k], h5py.Dataset)) == test
            assert f.attrs["selection"] in ("val_best", "test_best") and int(f.attrs["selected_step"]) >= 1


def test_a_test_selected_model_is_marked_in_the_csvs_the_summary_and_the_report(run):
    res = run / "results/synthetic"
    for m, marked in (("rtfm", False), ("rtfm_test", True)):
        for table in ("auc", "f1"):
            df = pd.read_csv(res / f"{m}_{table}.csv")
            assert df["test_selected"].tolist() == [marked] * len(df), (m, table)
            assert set(df["selection"]) == {"test_best" if marked else "val_best"}
    summary = pd.read_csv(res / "summary.csv")
    metrics = summary[summary["metric"].isin(["auc", "ap"])]
    assert set(metrics[metrics["test_selected"] == True]["method"]) == {"rtfm_test"}  # noqa: E712
    html = (res / "report.html").read_text()
    assert "rtfm_test (test-selected)" in html and "Checkpoints chosen on the test set" in html


def test_vadflow_watch_reproduces_the_windowed_scores_exactly(run, tmp_path):
    res = run / "results/synthetic"
    man = pd.read_csv(res / "manifest.csv")
    row = man[(man["split"] == "test") & man["anomalous"]].iloc[0]
    out = tmp_path / "w.csv"
    proc = subprocess.run([sys.executable, "-m", "vadflow", "watch", "--model", str(res / "rtfm/model.pt"),
                           str(run / "data/synthetic" / row["path"]), "--windows", "exact", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out) as f:
        online = np.array([float(r["score"]) for r in csv.DictReader(f)])
    with h5py.File(res / "rtfm/scores.h5") as f:
        offline = f[row["id"]][()]
    assert len(online) == len(offline)
    np.testing.assert_allclose(online, offline, atol=1e-5)


@pytest.mark.parametrize("method", ["urdmu", "mgfn"])
def test_vadflow_watch_scores_whole_video_models_in_windows(run, tmp_path, method):
    """Whole-video offline scoring cannot be streamed exactly: watch runs windows of
    online_window snippets and must still give one finite score per frame."""
    res = run / "results/synthetic"
    man = pd.read_csv(res / "manifest.csv")
    row = man[(man["split"] == "test") & man["anomalous"]].iloc[0]
    out = tmp_path / "w.csv"
    proc = subprocess.run([sys.executable, "-m", "vadflow", "watch", "--model", str(res / method / "model.pt"),
                           str(run / "data/synthetic" / row["path"]), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out) as f:
        online = np.array([float(r["score"]) for r in csv.DictReader(f)])
    assert len(online) == int(row["frames"]) and np.all(np.isfinite(online))
