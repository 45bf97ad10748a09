"""repeats: N (every repeat its own model and scores, the metrics their mean ± std) and the
reproduction tables (docs/reproduction.md), through Snakemake on a tiny synthetic run."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from test_workflow import planned_jobs, snakemake, write_config

pytestmark = pytest.mark.e2e

CFG = {
    "dataset": "synthetic",
    "datasets": {"synthetic": {"kind": "synthetic", "generator": {
        "seed": 6, "n_train_normal": 4, "n_train_anomalous": 4, "n_test_normal": 2, "n_test_anomalous": 2,
        "duration_s": [2, 3], "width": 80, "height": 64, "classes": ["Explosion", "Fighting"], "short_video_prob": 0.0}}},
    "features": {"flow": {"backbone": "flow", "clip_len": 16, "stride": 16, "resize": 64, "shards": 1}},
    "methods": {
        "mlp": {"kind": "mlp", "features": "flow", "window": 4, "epochs": 2, "standardize": True, "repeats": 3},
        "adnet": {"kind": "adnet", "features": "flow", "window": 4, "stages": 1, "layers": 2, "epochs": 2, "standardize": True},
    },
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("repeats")
    write_config(wd, CFG)
    snakemake(wd)
    return wd


def test_every_repeat_is_its_own_model_and_scores(run):
    import h5py
    import torch

    res = run / "results/synthetic"
    seeds, scores = [], []
    for i in range(3):
        blob = torch.load(res / f"mlp@r{i}/model.pt", weights_only=True)
        seeds.append(blob["cfg"]["seed"])
        with h5py.File(res / f"mlp@r{i}/scores.h5") as f:
            assert f.attrs["method"] == f"mlp@r{i}"
            scores.append(np.concatenate([f[k][()] for k in sorted(f.keys()) if isinstance(f[k], h5py.Dataset)]))
    assert seeds == [123, 124, 125]
    assert not np.array_equal(scores[0], scores[1])  # other seeds, other models
    assert not (res / "mlp/model.pt").exists() and (res / "adnet/model.pt").is_file()


def test_the_metrics_hold_every_repeat_and_their_mean_and_std(run):
    res = run / "results/synthetic"
    auc = pd.read_csv(res / "mlp_auc.csv", dtype={"repeat": str})
    main = auc[auc["score_set"] == "main"]
    per = main[main["repeat"].isin(["0", "1", "2"])]
    assert per["seed"].tolist() == [123, 124, 125] and not per["headline"].any()
    for col in ("auc", "ap", "eer"):
        values = [float(pd.read_csv(res / f"mlp@r{i}_auc.csv")[col].iloc[0]) for i in range(3)]
        np.testing.assert_allclose(per[col].to_numpy(), values, rtol=1e-6)
        mean = float(main[main["repeat"] == "mean"][col].iloc[0])
        std = float(main[main["repeat"] == "std"][col].iloc[0])
        assert mean == pytest.approx(sum(values) / 3, rel=1e-5)  # by hand
        assert std == pytest.approx((sum((v - sum(values) / 3) ** 2 for v in values) / 2) ** 0.5, rel=1e-4, abs=1e-6)
    assert main[main["repeat"] == "mean"]["headline"].tolist() == [True]
    f1 = pd.read_csv(res / "mlp_f1.csv", dtype={"repeat": str})
    r = f1[(f1["k"] == 25) & (f1["report"] == "abnormal")]
    vals = r[r["repeat"].isin(["0", "1", "2"])]["f1"].to_numpy()
    assert float(r[r["repeat"] == "mean"]["f1"].iloc[0]) == pytest.approx(vals.mean(), rel=1e-5)
    summary = pd.read_csv(res / "summary.csv")
    row = summary[(summary["method"] == "mlp") & (summary["metric"] == "auc")].iloc[0]
    assert row["value"] == pytest.approx(float(main[main["repeat"] == "mean"]["auc"].iloc[0]), rel=1e-5)
    assert row["n_repeats"] == 3 and row["std"] == pytest.approx(float(main[main["repeat"] == "std"]["auc"].iloc[0]), rel=1e-4)
    assert "±" in (res / "report.html").read_text()


def test_editing_repeats_reruns_only_that_method(run):
    cfg = copy.deepcopy(CFG)
    cfg["methods"]["mlp"]["repeats"] = 4
    write_config(run, cfg)
    try:
        jobs = planned_jobs(run, "results/synthetic/summary.csv")
        # only the new repeat trains, scores and is evaluated; the other repeats and adnet are untouched
        assert jobs == {"train": 1, "score": 1, "evaluate": 1, "repeats": 1, "summary": 1}, jobs
        cfg = copy.deepcopy(CFG)
        cfg["methods"]["adnet"]["epochs"] = 3
        write_config(run, cfg)
        assert planned_jobs(run, "results/synthetic/summary.csv") == {"train": 1, "score": 1, "evaluate": 1, "summary": 1}
    finally:
        write_config(run, CFG)


def test_reproduction_tables_on_synthetic_data_are_marked_not_comparable(run):
    res = run / "results/synthetic"
    table = pd.read_csv(res / "reproduction.csv")
    assert len(table) > 0 and set(table["flag"]) == {"not comparable (synthetic)"}
    assert {"adnet", "mlp"} >= set(table["method"])
    html = (res / "report.html").read_text()
    assert "Published figures beside ours" in html
    # one command per group: exactly the metric files its figures need, then its table
    assert planned_jobs(run, "results/synthetic/reproduce_seed002.html") == {"reproduce": 1}
    snakemake(run, "results/synthetic/reproduce_seed002.html")
    group = pd.read_csv(res / "reproduce_seed002.csv")
    assert set(group["group"]) == {"seed002"} and set(group["method"]) <= {"adnet", "mlp"}
    mlp = group[(group["method"] == "mlp") & (group["metric"] == "f1@10_abnormal")]
    assert len(mlp) == 1 and mlp["n_repeats"].iloc[0] == 3  # ours: the mean over the repeats
    assert "not comparable" in (res / "reproduce_seed002.html").read_text()
