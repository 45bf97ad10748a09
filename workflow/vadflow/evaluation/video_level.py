"""Video-level metrics from the SAS alarm (docs/methods/realtime.md §8): a video is flagged when its
sigmoidal anomaly score exceeds 0.5 at some update; VL-P, VL-R, VL-F1 over videos, and the
fractions of anomalous (TPR) and normal (FPR) videos flagged."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from vadflow.sas import sas_series


def vl_metrics(tp: int, n_pos: int, fp: int, n_neg: int) -> dict[str, float]:
    """VL-P = TP/(TP+FP), VL-R = VL-TPR = TP/n_pos, VL-F1 = 2/(1/P + 1/R) ([S] prints 1/R twice,
    a typo), VL-FPR = FP/n_neg. Undefined ratios are NaN."""
    def ratio(a: float, b: float) -> float:
        return float(a) / float(b) if b else float("nan")

    p, r = ratio(tp, tp + fp), ratio(tp, n_pos)
    f1 = 2.0 / (1.0 / p + 1.0 / r) if p > 0 and r > 0 else (0.0 if p == 0 or r == 0 else float("nan"))
    return {"vl_precision": p, "vl_recall": r, "vl_f1": f1, "vl_tpr": r, "vl_fpr": ratio(fp, n_neg),
            "tp": int(tp), "fp": int(fp), "n_anomalous": int(n_pos), "n_normal": int(n_neg)}


def video_level(scores: Mapping[str, np.ndarray], videos: pd.DataFrame, sas_cfg: Mapping[str, Any] | None = None
                ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-video SAS decisions (``videos``: columns id, anomalous) and the VL metrics over them."""
    rows = []
    for r in videos.itertuples():
        s = sas_series(scores[r.id], sas_cfg)
        flagged = bool((s > 0.5).any())
        first = int(np.argmax(s > 0.5)) if flagged else -1
        rows.append({"id": r.id, "anomalous": bool(r.anomalous), "flagged": flagged, "first_alarm_frame": first, "max_sas": float(s.max())})
    per_video = pd.DataFrame(rows)
    pos, neg = per_video[per_video["anomalous"]], per_video[~per_video["anomalous"]]
    summary = vl_metrics(int(pos["flagged"].sum()), len(pos), int(neg["flagged"].sum()), len(neg))
    return per_video, summary
