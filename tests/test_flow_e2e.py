"""End to end on a tiny synthetic dataset: ADNet on the weight-free flow features beats the
same ADNet on random-init I3D features, in one Snakemake run.

The dataset holds only motion-defined classes (Fighting: jitter; Robbery: a sudden sprint),
which a single frame does not show: the comparison tests that the flow path carries the
motion signal end to end (decode -> flow -> cache -> ADNet -> frame scores -> AUC), not a
lucky seed. Both instances share every setting but the extractor. About 1.5 CPU-minutes.
"""
from __future__ import annotations

import pandas as pd
import pytest

from test_workflow import snakemake, write_config

pytestmark = pytest.mark.e2e

ADNET = {"kind": "adnet", "window": 8, "stages": 2, "layers": 3, "epochs": 15, "standardize": True}
CONFIG = {
    "dataset": "synthetic",
    "datasets": {
        "synthetic": {
            "kind": "synthetic",
            "generator": {"seed": 1, "n_train_normal": 4, "n_train_anomalous": 6, "n_test_normal": 3, "n_test_anomalous": 3,
                          "duration_s": [3, 5], "width": 96, "height": 72, "classes": ["Fighting", "Robbery"],
                          "short_video_prob": 0.0},
        },
    },
    "features": {
        "flow": {"backbone": "flow", "resize": 72, "shards": 1},
        "i3d": {"backbone": "i3d", "weights": "random", "resize": 64, "crop": 64, "shards": 1},
    },
    "methods": {"adnet": {**ADNET, "features": "flow"}, "adnet_i3d": {**ADNET, "features": "i3d"}},
}


def test_adnet_on_flow_beats_adnet_on_random_i3d(tmp_path):
    write_config(tmp_path, CONFIG)
    snakemake(tmp_path, "results/synthetic/adnet_auc.csv", "results/synthetic/adnet_i3d_auc.csv")
    auc = {m: pd.read_csv(tmp_path / f"results/synthetic/{m}_auc.csv")["auc"].iloc[0] for m in ("adnet", "adnet_i3d")}
    # Measured on one machine: 0.71 against 0.52; zeroed flow features give 0.58 and fail.
    # ADNet's epochs and lr here were chosen on 8 validation videos of this generator config.
    assert auc["adnet"] > auc["adnet_i3d"] + 0.1, auc
