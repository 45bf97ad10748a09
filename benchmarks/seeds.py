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
from vadflow.data.manifest import read_manifest  # noqa: E402
from vadflow.jobs import methods as jobs  # noqa: E402
from vadflow.stores.features import FeatureStoreError  # noqa: E402
from vadflow.stores.scores import read_scores  # noqa: E402

from val import load_config, pooled_metrics, split_scores  # noqa: E402  (benchmarks/val.py: the same config and metrics)

QUICK = ["adnet", "mil", "rtfm", "urdmu"]


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
    out.update(pooled_metrics(read_scores(scores_path), table[table["split"] == "test"], res / "labels.h5", cfg))
    if ((table["split"] == "val") & (table["status"] == "ok")).any():
        try:
            vs = split_scores(model_path, params, res, files["features"], det, "val")
        except FeatureStoreError as e:
            # a frame cache holds the videos its method's jobs read; a kind that reads no validation
            # videos (SVDD-CAE) has none cached, so it gets test metrics only
            print(f"{method}: no validation metrics ({e})", flush=True)
            return out
        out.update({f"val_{k}": v for k, v in pooled_metrics(vs, table, res / "labels.h5", cfg).items()})
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
