"""Robustness table: every method on the weight-free flow features and on random-init I3D,
over several synthetic generator seeds (issue 11).

For each seed a work directory gets the default config (plus ``--configfile`` files) with the
generator seed set, no validation videos (only test videos are reported), and every method
that reads ``flow`` or ``i3d`` on the synthetic dataset duplicated onto both extractors
(``<method>__flow``, ``<method>__i3d``; a LOF method with a trained head gets a head trained
on the same extractor). Methods reading other features (mil_xlstm: Xception-LSTM, about a
third of the run time) are left out unless ``--all-methods``. Snakemake builds every ``{method}_auc.csv`` / ``{method}_f1.csv``; the table gives pooled
frame AUC, AP and F1@10/25/50 (abnormal segments) as mean ± sample std (ddof 1) over seeds.

    python benchmarks/robustness.py --workdir /tmp/robust [--seeds 0 1 2] [--quick] [--all-methods] [--cores 2]

``--quick`` (a few minutes) shrinks the dataset (16 training, 6 test videos of 4-6 s): a smoke
test of the table, not its numbers. The full run (the default dataset, 3 seeds) takes about
as long as 3 default workflow runs with twice the methods.
"""
from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

import vadflow.config as vc  # noqa: E402

FEATURES = ("flow", "i3d")
DATASET = "synthetic"
QUICK_GENERATOR = {"n_train_normal": 6, "n_train_anomalous": 10, "n_test_normal": 3, "n_test_anomalous": 3, "duration_s": [4, 6]}


def load_config(configfiles: list[Path]) -> dict:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for path in configfiles:
        cfg = vc.deep_merge(cfg, yaml.safe_load(Path(path).read_text()) or {})
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return cfg


def variants(cfg: dict, all_methods: bool = False) -> tuple[dict, dict, list[tuple[str, str, str]]]:
    """``methods`` and ``heads`` sections holding every variant (resolved for the synthetic
    dataset, so no method override is left), and ``(variant, method, features)`` rows."""
    methods: dict[str, dict] = {}
    heads = {h: {k: v for k, v in vc.head_params(cfg, DATASET, h).items() if k != "name"} for h in cfg.get("heads") or {}}
    rows: list[tuple[str, str, str]] = []
    seen: dict[str, str] = {}
    for name in vc.method_names(cfg):
        params = {k: v for k, v in vc.method_params(cfg, DATASET, name).items() if k != "name"}
        own = params.get("features")  # svdd_cae reads a frame cache, no features
        if own not in FEATURES and not all_methods:
            continue
        options = FEATURES if own in FEATURES else (own,)
        for feats in options:
            p = {**params, "features": feats} if feats is not None else dict(params)
            head = p.get("head")
            if p["kind"] == "lof" and head in heads and heads[head]["features"] != feats:
                twin = f"{head}__{feats}"
                heads[twin] = {**heads[head], "features": feats}
                p["head"] = twin
            key = vc.as_json(p)
            if key in seen:  # e.g. adnet_i3d on flow is adnet on flow
                continue
            variant = f"{name}__{feats}" if len(options) > 1 else name
            seen[key] = variant
            methods[variant] = p
            rows.append((variant, name, feats))
    return methods, heads, rows


def seed_config(cfg: dict, seed: int, quick: bool, all_methods: bool = False) -> tuple[dict, list[tuple[str, str, str]]]:
    out = copy.deepcopy(cfg)
    methods, heads, rows = variants(cfg, all_methods)
    ds = out["datasets"][DATASET]
    ds["generator"].update(seed=seed, n_val_normal=0, n_val_anomalous=0, **(QUICK_GENERATOR if quick else {}))
    ds.setdefault("overrides", {})
    ds["overrides"]["methods"] = {}
    ds["overrides"]["heads"] = {}
    out.update(dataset=DATASET, methods=methods, heads=heads, run_methods=list(methods))
    return out, rows


def run_seed(workdir: Path, cfg: dict, variants_: list[str], cores: int) -> None:
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    targets = [f"results/{DATASET}/{v}_{t}.csv" for v in variants_ for t in ("auc", "f1")]
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", str(cores), *targets]
    with open(workdir / "snakemake.log", "w") as log:
        if subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"snakemake failed in {workdir}; see {workdir / 'snakemake.log'}")


def collect(workdir: Path, rows: list[tuple[str, str, str]], seed: int) -> list[dict]:
    out = []
    res = workdir / "results" / DATASET
    for variant, method, feats in rows:
        auc = pd.read_csv(res / f"{variant}_auc.csv").iloc[0]
        f1 = pd.read_csv(res / f"{variant}_f1.csv")
        rec = {"method": method, "features": feats, "seed": seed, "auc": auc["auc"], "ap": auc["ap"]}
        for r in f1[f1["report"] == "abnormal"].itertuples():
            rec[f"F1@{r.k:g}"] = r.f1
        out.append(rec)
    return out


def table(df: pd.DataFrame) -> str:
    """Markdown: one row per (method, features), ``mean ± std`` over seeds (AUC, AP as fractions, F1 in %)."""
    cols = ["auc", "ap"] + [c for c in df.columns if c.startswith("F1@")]
    lines = ["| method | features | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for (method, feats), g in df.groupby(["method", "features"], sort=False):
        cells = []
        for c in cols:
            digits = 3 if c in ("auc", "ap") else 1
            std = g[c].std(ddof=1) if len(g) > 1 else float("nan")
            cells.append(f"{g[c].mean():.{digits}f} ± {std:.{digits}f}")
        lines.append(f"| {method} | {feats} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, required=True, help="one sub-folder per seed is created here")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--configfile", type=Path, nargs="*", default=[], help="merged over config/config.yaml, in order")
    ap.add_argument("--quick", action="store_true", help="a small dataset: checks the table, not its numbers")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--all-methods", action="store_true", help="also methods reading neither flow nor i3d (mil_xlstm), as configured")
    a = ap.parse_args()
    base = load_config(a.configfile)
    records = []
    for seed in a.seeds:
        cfg, rows = seed_config(base, seed, a.quick, a.all_methods)
        wd = a.workdir / f"seed{seed}"
        t = time.perf_counter()
        run_seed(wd, cfg, [v for v, _, _ in rows], a.cores)
        print(f"seed {seed}: {len(rows)} method variants in {time.perf_counter() - t:.0f} s", flush=True)
        records += collect(wd, rows, seed)
    df = pd.DataFrame(records)
    df.to_csv(a.workdir / "robustness.csv", index=False)
    print(f"\n{len(a.seeds)} generator seeds {a.seeds}{' (quick)' if a.quick else ''}; per seed: {a.workdir}/robustness.csv\n")
    print(table(df))


if __name__ == "__main__":
    main()
