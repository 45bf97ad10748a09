"""The spread over training seeds: every chosen method trained N times on the same features, each
model scored and evaluated by the workflow's own jobs, mean ± sample std of its metrics.

One run, one machine: the inputs (the synthetic dataset, its features, detections) are built
once with Snakemake from the repository's config (merged with ``--configfile``), then for each
method and seed the train, score and evaluate jobs run in this process with ``seed`` set to
``seed0 + i`` (exactly what ``repeats`` does in the workflow). Test metrics are printed, and
validation metrics beside them (settings for synthetic data are chosen on those).

    python benchmarks/seeds.py --workdir /tmp/seeds [--methods adnet mil rtfm urdmu mgfn] [--seeds 3]
    python benchmarks/seeds.py --workdir /tmp/seeds --quick         # adnet, mil, rtfm, urdmu; 2 seeds
"""
from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

import vadflow.config as vc  # noqa: E402
from vadflow.data.manifest import read_labels, read_manifest  # noqa: E402
from vadflow.evaluation.tables import evaluate  # noqa: E402
from vadflow.jobs import methods as jobs  # noqa: E402
from vadflow.jobs.videos import method_videos  # noqa: E402
from vadflow.methods import get_method, load_method  # noqa: E402
from vadflow.stores.features import FeatureStoreError  # noqa: E402
from vadflow.stores.scores import read_scores  # noqa: E402

QUICK = ["adnet", "mil", "rtfm", "urdmu"]
METRICS = ("auc", "ap", "f1@10", "f1@25", "f1@50")


def load_config(configfiles: list[Path]) -> dict:
    from snakemake.utils import validate

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for path in configfiles:
        cfg = vc.deep_merge(cfg, yaml.safe_load(Path(path).read_text()) or {})
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    vc.check(cfg)
    return cfg


def build_inputs(workdir: Path, cfg: dict, dataset: str, methods: list[str], cores: int) -> None:
    """Snakemake builds exactly the inputs of the methods' train jobs (features, detections, heads)."""
    targets = [f"results/{dataset}/manifest.csv"]
    for m in methods:
        files = vc.method_inputs(cfg, dataset, m)
        targets += files["features"] + files["detections"] + files["head"]
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", str(cores),
                    *dict.fromkeys(targets)], check=True)


def metrics_of(tables: dict) -> dict[str, float]:
    auc, f1 = tables["auc"].iloc[0], tables["f1"]
    out = {"auc": float(auc["auc"]), "ap": float(auc["ap"])}
    for r in f1[f1["report"] == "abnormal"].itertuples():
        out[f"f1@{r.k:g}"] = float(r.f1)
    return out


def run_one(workdir: Path, cfg: dict, dataset: str, method: str, seed: int, tmp: Path, threads: int) -> dict[str, float]:
    """Train, score and evaluate one seed of ``method`` with the workflow's jobs; test and val metrics."""
    res = workdir / "results" / dataset
    params = {**vc.method_params(cfg, dataset, method), "seed": seed}
    files = {k: [str(workdir / p) for p in v] for k, v in vc.method_inputs(cfg, dataset, method).items()}
    det = files["detections"][0] if files["detections"] else None
    head = files["head"][0] if files["head"] else None
    model_path, scores_path = tmp / f"{method}-{seed}.pt", tmp / f"{method}-{seed}.h5"
    t0 = time.perf_counter()
    jobs.train(params, str(res / "manifest.csv"), str(res / "labels.h5"), files["features"], str(model_path), detections=det,
               head=head, threads=threads)
    jobs.score(params, str(model_path), str(res / "manifest.csv"), str(res / "labels.h5"), files["features"], str(scores_path),
               detections=det, threads=threads, progress=False)
    seconds = time.perf_counter() - t0
    table = read_manifest(res / "manifest.csv")
    out: dict[str, float] = {"seconds": seconds}
    scores = read_scores(scores_path)
    rows = table[(table["split"] == "test") & table["id"].isin(list(scores))][["id", "cls", "anomalous", "fps"]].reset_index(drop=True)
    out.update(metrics_of(evaluate(read_labels(res / "labels.h5", list(rows["id"])), scores, rows, cfg.get("evaluation"))))
    if ((table["split"] == "val") & (table["status"] == "ok")).any():
        model = load_method(model_path)
        cls = get_method(params["kind"])
        try:
            val = method_videos(cls, params, res / "manifest.csv", res / "labels.h5", files["features"], det, "val")
        except FeatureStoreError as e:
            # a frame cache holds the videos its method's jobs read; a kind that reads no validation
            # videos (SVDD-CAE) has none cached, so it gets test metrics only
            print(f"{method}: no validation metrics ({e})", flush=True)
            return out
        vs = {v.id: model.score(v) for v in val}
        vrows = table[table["id"].isin(list(vs))][["id", "cls", "anomalous", "fps"]].reset_index(drop=True)
        out.update({f"val_{k}": v for k, v in metrics_of(evaluate(read_labels(res / "labels.h5", list(vrows["id"])), vs, vrows,
                                                                  cfg.get("evaluation"))).items()})
    return out


def summarise(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    cols = [c for c in df.columns if c not in ("method", "seed")]
    agg = df.groupby("method", sort=False)[cols].agg(["mean", "std"])
    out = pd.DataFrame(index=agg.index)
    for c in cols:
        fmt = "{:.3f} ± {:.3f}" if c != "seconds" and not c.startswith(("f1", "val_f1")) else "{:.1f} ± {:.1f}"
        out[c] = ["n/a" if np.isnan(m) else fmt.format(m, 0.0 if np.isnan(s) else s) for m, s in zip(agg[(c, "mean")], agg[(c, "std")])]
    out.insert(0, "seeds", df.groupby("method", sort=False).size())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--configfile", type=Path, nargs="*", default=[])
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--methods", nargs="*", default=None, help="default: every method of rule all (--quick: adnet mil rtfm urdmu)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed0", type=int, default=None, help="first seed (default: each method's configured seed)")
    ap.add_argument("--quick", action="store_true", help="adnet, mil, rtfm and urdmu, 2 seeds")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="also write the per-seed rows to this CSV")
    a = ap.parse_args()
    cfg = load_config(a.configfile)
    dataset = a.dataset or cfg["dataset"]
    methods = a.methods or (QUICK if a.quick else vc.method_names(cfg))
    n_seeds = 2 if a.quick and a.seeds == 3 else a.seeds
    build_inputs(a.workdir, copy.deepcopy(cfg), dataset, methods, a.cores)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in methods:
            seed0 = a.seed0 if a.seed0 is not None else int(vc.method_params(cfg, dataset, m).get("seed", 0))
            for i in range(n_seeds):
                rec = run_one(a.workdir, cfg, dataset, m, seed0 + i, Path(tmp), a.cores)
                rows.append({"method": m, "seed": seed0 + i, **rec})
                if a.out:  # after every seed, so that a long run's finished rows survive a later failure
                    pd.DataFrame(rows).to_csv(a.out, index=False, float_format="%.6g")
                print(f"{m} seed {seed0 + i}: " + ", ".join(f"{k} {v:.4f}" for k, v in rec.items()), flush=True)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(summarise(rows).to_string())


if __name__ == "__main__":
    main()
