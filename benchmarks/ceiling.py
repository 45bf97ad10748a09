"""How far can a feature file's clips separate anomalous from normal frames at all? A fully
supervised probe as a ceiling for the weakly supervised detectors (issue 11's evidence).

The probes (sklearn: logistic regression on z-scored features, and gradient-boosted trees)
train on the *training* videos' clips with their true frame labels, which the weakly supervised
methods never see (they get one label per video). Each clip's label is whether most of its
frames are anomalous. Clip scores map to frames as the methods' ``mapping: cell`` does
(``min(j // stride, K - 1)``), and the pooled frame AUC is computed over the validation and
the test videos. A detector near the probe's AUC is limited by its features, not by its training.

    python benchmarks/ceiling.py --workdir /tmp/default [--features flow i3d] [--methods adnet mil]

``--methods`` adds those methods' test AUC from the workflow's ``<method>_auc.csv`` for comparison.
Nothing here chooses a setting: the test column is evidence, read after the choices were made.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def clips(features: h5py.File, labels: h5py.File, vid: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A video's clip features, clip labels (majority of the clip's frames), frame labels, and stride."""
    x = features[vid][()].astype(np.float32)
    stride = int(features[vid].attrs.get("stride", features.attrs.get("stride", 16)))
    y = labels[vid][()].astype(np.int64)
    clip_len = int(features[vid].attrs.get("clip_len", 16))
    cl = np.array([y[k * stride:k * stride + clip_len].mean() > 0.5 if k * stride < len(y) else 0 for k in range(len(x))], np.int64)
    return x.reshape(len(x), -1), cl, y, stride


def frame_scores(clip_scores: np.ndarray, n_frames: int, stride: int) -> np.ndarray:
    return clip_scores[np.minimum(np.arange(n_frames) // stride, len(clip_scores) - 1)]


def probe_table(workdir: Path, dataset: str, extractor: str) -> list[dict]:
    res = workdir / "results" / dataset
    man = pd.read_csv(res / "manifest.csv")
    man = man[man["status"] == "ok"]
    with h5py.File(res / "features" / f"{extractor}.h5") as f, h5py.File(res / "labels.h5") as lab:
        data = {vid: clips(f, lab, vid) for vid in man["id"] if vid in f and vid in lab}
    split = dict(zip(man["id"], man["split"]))
    train = [v for v in data if split[v] == "train"]
    x = np.concatenate([data[v][0] for v in train])
    y = np.concatenate([data[v][1] for v in train])
    probes = {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0)),
        "boosted trees": HistGradientBoostingClassifier(random_state=0),
    }
    rows = []
    for name, model in probes.items():
        model.fit(x, y)
        row = {"features": extractor, "probe": name, "train clips": len(y), "anomalous": int(y.sum())}
        for part in ("val", "test"):
            vids = [v for v in data if split[v] == part]
            if not vids:
                continue
            s = np.concatenate([frame_scores(model.predict_proba(data[v][0])[:, 1], len(data[v][2]), data[v][3]) for v in vids])
            t = np.concatenate([data[v][2] for v in vids])
            row[f"{part} frame AUC"] = round(float(roc_auc_score(t, s)), 3)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True, help="a finished workflow run (results/<dataset>/...)")
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--features", nargs="+", default=["flow", "i3d"])
    ap.add_argument("--methods", nargs="*", default=["adnet", "adnet_i3d", "mlp", "edtcn", "mil", "lof"])
    a = ap.parse_args(argv)
    rows = [r for ext in a.features for r in probe_table(a.workdir, a.dataset, ext)]
    print(pd.DataFrame(rows).to_string(index=False))
    res = a.workdir / "results" / a.dataset
    found = [pd.read_csv(res / f"{m}_auc.csv").iloc[[0]][["method", "auc"]] for m in a.methods if (res / f"{m}_auc.csv").exists()]
    if found:
        print("\nweakly supervised detectors, test frame AUC:")
        print(pd.concat(found).round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
