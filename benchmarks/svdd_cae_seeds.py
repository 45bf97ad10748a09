"""SVDD-CAE: frame AUC of BCAE1 alone against BCAE1 + SVDD fine-tuning, both protocols, over seeds.

Run from a work directory where the frame cache exists (a default run, or
``snakemake --cores 2 results/synthetic/frames/cae.h5``):

    python benchmarks/svdd_cae_seeds.py [--dataset synthetic] [--method svdd_cae] [--seeds 0 1 2] [--quick]

For each seed (spec A13: 3 runs, mean and std) it fits the method exactly as the pipeline's
``train`` job does, with the config the pipeline would use for that dataset (``--config``,
default config/config.yaml, dataset overrides merged), and scores the test videos. One fit
gives both models: the BCAE1 before fine-tuning and the fine-tuned one, scored on the same
frames. Each is evaluated under protocol B (``global``: raw e(t) pooled over videos, the
headline) and protocol A (``agg``: the thesis's per-video regularity with Savitzky-Golay) by
the evaluation code of the ``evaluate`` job. ``--quick``: 3 BCAE1 epochs and 2 SVDD epochs.

``--ablation`` adds two fine-tunes of the same BCAE1 per seed, to say where a difference comes
from: ``SVDD bn=eval`` (the loss alone: BatchNorm statistics frozen) and ``BN refresh`` (the
fine-tune's passes with lr 1e-12: weights still, only the train-mode BatchNorm running
statistics move).
Prints a table (mean ± sample std over seeds) and the per-seed rows; ``--out`` writes them as CSV.
"""
from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import pandas as pd
import yaml

from vadflow.config import deep_merge, method_params
from vadflow.evaluation.frame_metrics import frame_metrics
from vadflow.jobs.videos import load_videos
from vadflow.methods.svdd_cae.method import SVDDCAE

#: score set of the method -> (model, protocol)
SETS = {"global": ("BCAE1+SVDD", "B global"), "agg": ("BCAE1+SVDD", "A agg"),
        "bcae1_global": ("BCAE1", "B global"), "bcae1_agg": ("BCAE1", "A agg")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--method", default="svdd_cae", help="a methods: entry of kind svdd_cae")
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--quick", action="store_true", help="3 BCAE1 epochs, 2 SVDD epochs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ablation", action="store_true", help="also SVDD with bn: eval, and a BN-statistics-only refresh")
    p.add_argument("--out", default=None)
    a = p.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)  # as the CLI does: denormals made CPU steps ~10x slower
    config = yaml.safe_load(open(a.config))
    cfg = method_params(config, a.dataset, a.method)
    if a.quick:
        cfg = deep_merge(cfg, {"ae": {"epochs": 3}, "svdd": {"epochs": 2}})
    root = f"results/{a.dataset}"
    frames = f"{root}/frames/{cfg['frames']}.h5"
    train = load_videos(f"{root}/manifest.csv", f"{root}/labels.h5", frames, split="train", layouts=("frames",))
    test = load_videos(f"{root}/manifest.csv", f"{root}/labels.h5", frames, split="test", layouts=("frames",))
    print(f"{frames}: {sum(not v.anomalous for v in train)} normal training videos, {len(test)} test videos; "
          f"method config {dict((k, cfg[k]) for k in ('channels', 'bottleneck_kernel', 'ae', 'svdd') if k in cfg)}")
    rows = []
    for seed in a.seeds:
        t0 = time.perf_counter()
        model = SVDDCAE({**cfg, "seed": seed})
        model.fit(train)
        main_scores = {v.id: model.score(v) for v in test}
        sets = {"global": main_scores, **model.score_sets()}
        scored = [(name, which, protocol) for name, (which, protocol) in SETS.items()]
        if a.ablation:
            by_id = {v.id: v for v in train}
            x_fit = np.concatenate([by_id[i].frames.read() for i in model.history["split"]["fit"]])
            val = model.history["split"]["validation"]
            ref = np.concatenate([by_id[i].frames.read() for i in val]) if val else x_fit
            for label, over in (("SVDD bn=eval", {"bn": "eval"}), ("BN refresh", {"lr": 1e-12})):
                v = copy.deepcopy(model)
                v.cfg = deep_merge(v.cfg, {"svdd": over, "compare_bcae1": False})
                v.models = {"bcae1": model.models["bcae1"]}
                v._sets, v._logs = {}, {}
                v.tune_svdd(x_fit, np.random.default_rng(seed))
                v.calibrate(ref)
                sets[f"{label}:global"] = {t.id: v.score(t) for t in test}
                sets[f"{label}:agg"] = v.score_sets()["agg"]
                scored += [(f"{label}:global", label, "B global"), (f"{label}:agg", label, "A agg")]
        for name, which, protocol in scored:
            m = frame_metrics([v.frame_labels for v in test], [sets[name][v.id] for v in test], [v.anomalous for v in test])
            rows.append({"seed": seed, "model": which, "protocol": protocol, "auc": m["auc"], "eer": m["eer"],
                         "wavg_f1": m["wavg_f1"], "seconds": time.perf_counter() - t0})
        print(pd.DataFrame(rows[-len(scored):]).to_string(index=False), flush=True)
    df = pd.DataFrame(rows)
    table = df.groupby(["protocol", "model"]).agg(auc_mean=("auc", "mean"), auc_std=("auc", "std"),
                                                  eer_mean=("eer", "mean"), wavg_f1_mean=("wavg_f1", "mean"))
    wide = df.pivot_table(index=["seed", "protocol"], columns="model", values="auc")
    gain = pd.DataFrame({f"{m} - BCAE1": wide[m] - wide["BCAE1"] for m in wide.columns if m != "BCAE1"})
    print("\nFrame AUC over seeds", a.seeds, "(std = sample std)")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    print("\nAUC gain over BCAE1 alone (mean, std over seeds), per protocol:")
    print(gain.groupby("protocol").agg(["mean", "std"]).to_string(float_format=lambda v: f"{v:+.4f}"))
    if a.out:
        df.to_csv(a.out, index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
