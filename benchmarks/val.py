"""Metrics on the synthetic VALIDATION videos: where settings for synthetic data are chosen.

The workflow trains every method on the training videos and reports the test videos only.
Settings tried on synthetic data (features, method overrides) must be judged without looking
at the test videos: this script builds the trained models with Snakemake, scores the
dataset's ``val`` split (generator keys ``n_val_normal``/``n_val_anomalous``) with each model,
and prints pooled frame AUC, AP and F1@k (abnormal segments), exactly as `evaluate` computes
them for test videos. Nothing is written under ``results/`` except what the workflow builds.

    python benchmarks/val.py --workdir /tmp/wd [--configfile my.yaml ...] [--methods adnet mil lof]
    python benchmarks/val.py --workdir /tmp/wd --no-build      # models already there

The work directory gets a ``config/config.yaml`` (the repository's default, merged with the
given config files, as Snakemake merges them) and the usual ``data/``, ``results/``.
"""
from __future__ import annotations

import argparse
import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

import vadflow.config as vc  # noqa: E402
from vadflow.data.manifest import read_labels, read_manifest  # noqa: E402
from vadflow.evaluation.tables import evaluate  # noqa: E402
from vadflow.jobs.videos import method_videos  # noqa: E402
from vadflow.methods import get_method, load_method  # noqa: E402


def load_config(configfiles: list[Path]) -> dict:
    """The default config with ``configfiles`` merged over it key by key, schema defaults filled."""
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for path in configfiles:
        cfg = vc.deep_merge(cfg, yaml.safe_load(Path(path).read_text()) or {})
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    vc.check(cfg)
    return cfg


def build(workdir: Path, cfg: dict, dataset: str, methods: list[str], cores: int) -> None:
    targets = [f"results/{dataset}/{m}/model.pt" for m in methods]
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", str(cores), *targets]
    subprocess.run(cmd, check=True)


def split_scores(model_path: Path, params: dict, res: Path, features: list, detections, split: str) -> dict[str, np.ndarray]:
    """Frame scores of the ``split`` videos of ``res/manifest.csv`` by the trained model at ``model_path``."""
    model = load_method(model_path)
    videos = method_videos(get_method(params["kind"]), params, res / "manifest.csv", res / "labels.h5", features, detections, split)
    # LOF's min-max constants are the test set's (kept in the model): the val scores use the same map
    return {v.id: model.score(v) for v in videos}


def pooled_metrics(scores: dict[str, np.ndarray], table: pd.DataFrame, labels: Path, cfg: dict) -> dict[str, float]:
    """Pooled frame AUC, AP and F1@k (abnormal segments) of ``scores``, exactly as `evaluate` computes them."""
    rows = table[table["id"].isin(list(scores))][["id", "cls", "anomalous", "fps"]].reset_index(drop=True)
    tables = evaluate(read_labels(labels, list(rows["id"])), scores, rows, cfg.get("evaluation"))
    auc, f1 = tables["auc"].iloc[0], tables["f1"]
    out = {"auc": float(auc["auc"]), "ap": float(auc["ap"])}
    for r in f1[f1["report"] == "abnormal"].itertuples():
        out[f"f1@{r.k:g}"] = float(r.f1)
    return out


def val_metrics(workdir: Path, cfg: dict, dataset: str, method: str) -> dict:
    """Pooled frame AUC, AP and F1@k (abnormal) of ``method``'s trained model on the val split."""
    params = vc.method_params(cfg, dataset, method)
    if params.get("train_split", "train") != "train":
        raise SystemExit(f"{method}: train_split {params['train_split']} trains on test videos; val metrics need train_split: train")
    res = workdir / "results" / dataset
    table = read_manifest(res / "manifest.csv")
    if not (table["split"] == "val").any():
        raise SystemExit(f"{res / 'manifest.csv'} has no val video: set datasets.{dataset}.generator.n_val_normal and n_val_anomalous")
    files = vc.method_inputs(cfg, dataset, method)
    scores = split_scores(res / method / "model.pt", params, res, [workdir / p for p in files["features"]],
                          workdir / files["detections"][0] if files["detections"] else None, "val")
    return {"method": method, "features": ",".join(vc.method_reads(cfg, dataset, method).features), "videos": len(scores),
            **pooled_metrics(scores, table, res / "labels.h5", cfg)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--configfile", type=Path, nargs="*", default=[], help="merged over config/config.yaml, in order")
    ap.add_argument("--dataset", default=None, help="default: the config's `dataset`")
    ap.add_argument("--methods", nargs="*", default=None, help="default: every method rule all runs")
    ap.add_argument("--no-build", action="store_true", help="do not run Snakemake; the models must exist")
    ap.add_argument("--cores", type=int, default=2)
    a = ap.parse_args()
    cfg = load_config(a.configfile)
    dataset = a.dataset or cfg["dataset"]
    methods = a.methods or vc.method_names(cfg)
    a.workdir.mkdir(parents=True, exist_ok=True)
    (a.workdir / "config").mkdir(exist_ok=True)
    written = copy.deepcopy(cfg)
    (a.workdir / "config" / "config.yaml").write_text(yaml.safe_dump(written, sort_keys=False))
    if not a.no_build:
        build(a.workdir, cfg, dataset, methods, a.cores)
    rows = [val_metrics(a.workdir, cfg, dataset, m) for m in methods]
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.round(4).to_string(index=False))
    if (df["videos"] == 0).any() or np.isnan(df["auc"]).any():
        raise SystemExit("some method has no val video scored")


if __name__ == "__main__":
    main()
