"""LOF with a random projection head vs embedding dimension: a small mirror of the thesis's Table 3.3.

Run (after a default run has written the synthetic features):

    python benchmarks/lof_dim_sweep.py [--dataset synthetic] [--features i3d] [--dims 8 64 256 0] [--seeds 0 1 2 3 4]

For each ``embedding_dim`` (0 = no head, LOF on the raw features) and each seed (the random head's
seed), fits the LOF method exactly as the pipeline's ``train`` job does (standard protocol: all
snippets of the normal training videos) and reports
* frame AUC: pooled frame-level ROC-AUC over the test videos (what ``{method}_auc.csv`` reports);
* thesis AUC: the thesis protocol's snippet-level AUC (80 % of the normal snippets of the annotated
  anomalous test videos fitted, the rest plus every anomalous snippet scored; split seed = head seed),
  the protocol Table 3.3 used;
each as mean ± std over the seeds. Reads only the files; writes nothing unless ``--out`` is given.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from vadflow.evaluation.frame_metrics import pool, roc_auc
from vadflow.jobs.videos import load_videos
from vadflow.methods.lof.method import LOF, run_thesis

THESIS_TABLE_3_3 = {1: 0.500, 2: 0.520, 8: 0.637, 64: 0.676, 128: 0.681, 256: 0.696, 512: 0.673, 0: 0.577}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--features", default="i3d", help="extractor name: results/<dataset>/features/<name>.h5")
    p.add_argument("--dims", type=int, nargs="+", default=[8, 64, 256, 0], help="0 = no head (raw features)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--standardize", action="store_true", help="z-score the embeddings before LOF (spec default: off)")
    p.add_argument("--out", default=None, help="optional CSV path for the table")
    a = p.parse_args()

    root = f"results/{a.dataset}"
    feats = f"{root}/features/{a.features}.h5"
    train = load_videos(f"{root}/manifest.csv", f"{root}/labels.h5", feats, split="train")
    test = load_videos(f"{root}/manifest.csv", f"{root}/labels.h5", feats, split="test")
    raw_dim = int(train[0].features.shape[1])
    print(f"{feats}: {len(train)} training videos ({sum(not v.anomalous for v in train)} normal, "
          f"{sum(len(v.features) for v in train if not v.anomalous)} normal snippets), {len(test)} test videos, {raw_dim}-d")

    rows = []
    for dim in a.dims:
        t0 = time.perf_counter()
        frame_aucs = []
        for seed in a.seeds:
            cfg = {"kind": "lof", "features": a.features, "head": "random", "embedding_dim": dim, "seed": seed,
                   "standardize": a.standardize}
            model = LOF(cfg)
            model.fit(train)
            model.calibrate(test)  # the test-set min-max, as the train job computes it
            scores = {v.id: model.score(v) for v in test}
            gt, sc = pool([v.frame_labels for v in test], [scores[v.id] for v in test])
            frame_aucs.append(roc_auc(gt, sc))
        thesis = run_thesis({"kind": "lof", "head": "random", "embedding_dim": dim, "thesis_seeds": a.seeds,
                             "standardize": a.standardize}, test)
        th = thesis[thesis["seed"] == "mean"].iloc[0]
        rows.append({"d": dim or f"{raw_dim} (no head)", "frame_auc": np.mean(frame_aucs), "frame_auc_std": np.std(frame_aucs, ddof=1),
                     "thesis_auc": th["auc"], "thesis_auc_std": th["auc_std"],
                     "thesis_table_3_3": THESIS_TABLE_3_3.get(dim), "seconds": time.perf_counter() - t0})
    df = pd.DataFrame(rows)
    print(f"\nLOF (k=20), random head, seeds {a.seeds}; standardize={a.standardize}")
    print("| d | frame AUC | thesis-protocol snippet AUC | [T] Table 3.3 (UCF-Crime, R(2+1)D-50, thesis protocol) |")
    print("|---|---|---|---|")
    for r in rows:
        ref = "" if r["thesis_table_3_3"] is None else f"{r['thesis_table_3_3']:.3f}"
        print(f"| {r['d']} | {r['frame_auc']:.3f} ± {r['frame_auc_std']:.3f} | {r['thesis_auc']:.3f} ± {r['thesis_auc_std']:.3f} | {ref} |")
    if a.out:
        df.to_csv(a.out, index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
