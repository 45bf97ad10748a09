"""Frame-level metrics on pooled test frames (docs/metrics.md §3–§6).

ROC-AUC, AP and the PR curve come from sklearn, which is exact and tie-aware. Written
here by hand only what sklearn does not provide:
* EER, interpolated on the ROC polyline exactly as §5 defines it;
* ``sultani_exact`` AUC, which deliberately reproduces MATLAB's stable sort + ``trapz``
  (tie order matters there, which no sklearn function imitates);
* false alarms and video alarms, which are plain counts.

Thresholds: FAR and video alarms use ``score ≥ τ`` (Sultani); false-alarm events per hour
count segments of the F1 binarisation ``score > τ`` (ADNet). Both τ are parameters.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import auc as _trapz_auc
from sklearn.metrics import average_precision_score, precision_recall_curve, precision_recall_fscore_support, roc_auc_score, roc_curve

from vadflow.evaluation.segments import binarise, count_runs

DEFAULT_FPS = 30.0
AUC_METHODS = ("sklearn", "sultani_exact")


def pool(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate per-video GT and scores in the given (manifest) order (§3: pooled, not a
    per-video mean)."""
    if len(labels) == 0:
        raise ValueError("no test videos to pool")
    gt = np.concatenate([np.asarray(g).reshape(-1) for g in labels]).astype(np.int8)
    sc = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1) for s in scores])
    if gt.shape != sc.shape:
        raise ValueError(f"pooled GT has {gt.size} frames but scores have {sc.size}")
    return gt, sc


def _check_both(gt: np.ndarray, what: str = "pooled GT") -> None:
    n_pos = int(np.count_nonzero(gt))
    if n_pos == 0 or n_pos == gt.size:
        raise ValueError(f"{what} needs both anomalous and normal frames ({n_pos} of {gt.size} positive)")


def sultani_exact_auc(gt: np.ndarray, score: np.ndarray) -> float:
    """Sultani's ``Evaluate_Anomaly_Detector.m``: stable descending sort, per-frame staircase,
    ``trapz``. Tied frames keep their pooled order, so unlike ``roc_auc_score`` the result
    depends on video order (B7; worked example: 205/253 instead of 191/253)."""
    gt = np.asarray(gt) != 0
    _check_both(gt)
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    g = gt[order]
    tpr = np.cumsum(g) / np.count_nonzero(g)
    fpr = np.cumsum(~g) / np.count_nonzero(~g)
    return float(np.trapezoid(tpr, fpr))


def roc_auc(gt: np.ndarray, score: np.ndarray, method: str = "sklearn") -> float:
    """Pooled ROC-AUC; ``method`` is ``sklearn`` (tie-aware, default) or ``sultani_exact``."""
    if method == "sultani_exact":
        return sultani_exact_auc(gt, score)
    if method != "sklearn":
        raise ValueError(f"unknown auc method {method!r} (expected one of {AUC_METHODS})")
    _check_both(np.asarray(gt))
    return float(roc_auc_score(gt, score))


def average_precision(gt: np.ndarray, score: np.ndarray) -> float:
    """Step-wise AP, no interpolation (§4 primary)."""
    _check_both(np.asarray(gt))
    return float(average_precision_score(gt, score))


def pr_auc_trapz(gt: np.ndarray, score: np.ndarray) -> float:
    """Trapezoid area under the PR curve: what RTFM/MGFN/UR-DMU print as "AP" (comparison
    only; it is usually higher than :func:`average_precision`)."""
    _check_both(np.asarray(gt))
    precision, recall, _ = precision_recall_curve(gt, score)
    return float(_trapz_auc(recall, precision))


def eer(gt: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """Equal error rate and its threshold (§5).

    Returns ``(eer, thresholds[i])`` where ``i`` is the first ROC point with FPR ≥ FNR.
    ``drop_intermediate=False`` keeps every ROC point: the interpolated EER is the same
    (dropped points are collinear), but ``i`` is then the first real crossing, so the
    threshold is the largest score at which FPR ≥ FNR rather than that of a later kept
    corner. The first ROC point (0, 0) has d = −1, so ``i ≥ 1`` always exists.
    """
    _check_both(np.asarray(gt))
    fpr, tpr, thr = roc_curve(gt, score, drop_intermediate=False)
    d = fpr - (1.0 - tpr)
    i = int(np.flatnonzero(d >= 0)[0])
    if d[i] == 0:
        value = fpr[i]
    else:
        t = d[i - 1] / (d[i - 1] - d[i])
        value = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    return float(value), float(thr[i])


def false_alarm_rate(normal_scores: Sequence[np.ndarray], threshold: float = 0.5) -> float:
    """Frames of normal videos with ``score ≥ τ`` over all their frames; NaN without
    normal videos."""
    n = sum(int(np.asarray(s).size) for s in normal_scores)
    if n == 0:
        return float("nan")
    hits = sum(int(np.count_nonzero(np.asarray(s) >= threshold)) for s in normal_scores)
    return hits / n


def video_alarms(
    scores: Sequence[np.ndarray], anomalous: Sequence[bool], threshold: float = 0.5
) -> dict[str, float]:
    """Video-level alarms (any frame ``≥ τ``) and VL-F1 from the same counts (§6).

    Percentages are 0–100; ``vl_f1`` is a fraction (0.8 in the worked example).
    """
    alarm = np.array([bool(np.any(np.asarray(s) >= threshold)) for s in scores], dtype=bool)
    anom = np.asarray(anomalous, dtype=bool)
    n_norm, n_anom = int(np.count_nonzero(~anom)), int(np.count_nonzero(anom))
    tp = int(np.count_nonzero(alarm & anom))
    fp = int(np.count_nonzero(alarm & ~anom))
    fn = n_anom - tp
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {
        "alarms_normal_pct": 100.0 * fp / n_norm if n_norm else float("nan"),
        "alarms_anomalous_pct": 100.0 * tp / n_anom if n_anom else float("nan"),
        "vl_f1": 2 * p * r / (p + r) if p + r else 0.0,
        "vl_tp": tp,
        "vl_fp": fp,
        "vl_fn": fn,
    }


def confusion_scores(tn: int, fp: int, fn: int, tp: int) -> dict[str, float]:
    """Accuracy and F1 of a frame confusion matrix (seed 001, docs/methods/mil.md §7, §7a; Table 2 -> Table 3)."""
    n = tn + fp + fn + tp
    return {"accuracy": (tp + tn) / n if n else float("nan"),
            "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0}


def frame_confusion(gt: np.ndarray, sc: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Seed 001's frame confusion matrix at ``score ≥ τ`` (docs/methods/mil.md §7) with its accuracy and F1."""
    from sklearn.metrics import confusion_matrix

    tn, fp, fn, tp = (int(v) for v in confusion_matrix(np.asarray(gt) > 0, np.asarray(sc) >= threshold, labels=[False, True]).ravel())
    return {"tn": tn, "fp": fp, "fn": fn, "tp": tp, **{f"frame_{k}": v for k, v in confusion_scores(tn, fp, fn, tp).items()}}


def youden_report(gt: np.ndarray, sc: np.ndarray, normal_scores: Sequence[np.ndarray] = ()) -> dict[str, float]:
    """Frame P/R/F1 at the Youden threshold t = argmax(TPR - FPR) over the ROC thresholds, frames
    with ``score >= t`` predicted anomalous (seed document 004's tables, docs/methods/svdd_cae.md §7 and
    A9): the support-weighted average over both classes (sklearn ``classification_report``'s
    "weighted avg", what the thesis reports) and the anomaly class alone, plus the false-alarm
    rate of the normal videos' frames at t."""
    gt = np.asarray(gt) != 0
    _check_both(gt)
    sc = np.asarray(sc, dtype=np.float64)
    fpr, tpr, thr = roc_curve(gt, sc)
    t = float(thr[int(np.argmax(tpr - fpr))])
    pred = sc >= t
    wp, wr, wf, _ = precision_recall_fscore_support(gt, pred, average="weighted", zero_division=0)
    ap, ar, af, _ = precision_recall_fscore_support(gt, pred, average="binary", zero_division=0)
    return {"youden_threshold": t, "wavg_precision": float(wp), "wavg_recall": float(wr), "wavg_f1": float(wf),
            "anomaly_precision": float(ap), "anomaly_recall": float(ar), "anomaly_f1": float(af),
            "youden_far": false_alarm_rate(normal_scores, t)}


def fps_or_default(v: object) -> float:
    """A usable fps: missing, NaN or non-positive values become 30 (UCF-Crime's rate)."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_FPS
    return f if np.isfinite(f) and f > 0 else DEFAULT_FPS


def false_alarms_per_hour(
    normal_scores: Sequence[np.ndarray], fps: Sequence[float] | None = None, threshold: float = 0.5
) -> float:
    """Abnormal segments of ``score > τ`` on normal videos per hour of normal video (§6).

    A missing or non-positive fps counts as 30."""
    if fps is None:
        fps = [DEFAULT_FPS] * len(normal_scores)
    hours = sum(np.asarray(s).size / fps_or_default(f) for s, f in zip(normal_scores, fps)) / 3600.0
    if hours == 0:
        return float("nan")
    events = int(count_runs([binarise(s, threshold) for s in normal_scores], 1).sum())
    return events / hours


def frame_metrics(
    labels: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    anomalous: Sequence[bool],
    fps: Sequence[float] | None = None,
    threshold: float = 0.5,
    alarm_threshold: float = 0.5,
    auc_method: str = "sklearn",
    scored: Sequence[bool] | None = None,
) -> dict[str, float]:
    """All pooled frame metrics of the ``{method}_auc.csv`` row.

    ``threshold`` is the F1 binarisation (``>``, used for false-alarm events per hour);
    ``alarm_threshold`` is Sultani's and seed 001's (``≥``, used for FAR, video alarms and the
    frame confusion matrix with its accuracy and F1).

    ``scored`` (default: all True) marks the videos the method scored. The others (a method's
    skipped videos, which carry all-zero scores) count in every frame metric but not in the
    video-level ones (alarm % and VL-F1), as in seed 001's evaluation (docs/methods/mil.md §2, A13).
    """
    gt, sc = pool(labels, scores)
    anom = np.asarray(anomalous, dtype=bool)
    normal_idx = np.flatnonzero(~anom)
    normal_scores = [scores[i] for i in normal_idx]
    normal_fps = None if fps is None else [fps[i] for i in normal_idx]
    e, e_thr = eer(gt, sc)
    keep = np.ones(len(scores), dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    va = video_alarms([scores[i] for i in np.flatnonzero(keep)], anom[keep], alarm_threshold)
    cm = frame_confusion(gt, sc, alarm_threshold)
    return {
        "auc": roc_auc(gt, sc, auc_method),
        "ap": average_precision(gt, sc),
        "pr_auc_trapz": pr_auc_trapz(gt, sc),
        "eer": e,
        "eer_threshold": e_thr,
        "far": false_alarm_rate(normal_scores, alarm_threshold),
        "alarms_normal_pct": va["alarms_normal_pct"],
        "alarms_anomalous_pct": va["alarms_anomalous_pct"],
        "vl_f1": va["vl_f1"],
        "false_alarms_per_hour": false_alarms_per_hour(normal_scores, normal_fps, threshold),
        **cm,
        **youden_report(gt, sc, normal_scores),
        "n_videos": len(labels),
        "n_frames": int(gt.size),
    }


def per_video_table(
    ids: Sequence[str],
    labels: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    alarm_threshold: float = 0.5,
) -> pd.DataFrame:
    """One row per video: frames, GT frames, AUC (NaN unless the video has both labels),
    max and mean score, alarm flag (any frame ``≥ τ``)."""
    rows = []
    for vid, g, s in zip(ids, labels, scores):
        g = np.asarray(g) != 0
        s = np.asarray(s, dtype=np.float64)
        n_pos = int(np.count_nonzero(g))
        both = 0 < n_pos < g.size
        rows.append(
            dict(
                id=vid,
                n_frames=int(g.size),
                n_gt_frames=n_pos,
                auc=float(roc_auc_score(g, s)) if both else float("nan"),
                max_score=float(s.max()),
                mean_score=float(s.mean()),
                alarm=bool(np.any(s >= alarm_threshold)),
            )
        )
    return pd.DataFrame(rows, columns=["id", "n_frames", "n_gt_frames", "auc", "max_score", "mean_score", "alarm"])


def _thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` curve points, evenly spread, both ends kept."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def pooled_curves(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], max_points: int = 1000) -> dict[str, dict[str, list[float]]]:
    """The pooled frame-level ROC and precision-recall curves, for plotting: ``{"roc": {"fpr",
    "tpr"}, "pr": {"recall", "precision"}}``, each thinned to ``max_points`` (a UCF-Crime test
    set has ~10^6 distinct scores; the report's figures need no more). The reported AUC and
    AP come from :func:`frame_metrics`, never from these thinned points."""
    gt, sc = pool(labels, scores)
    _check_both(gt)
    fpr, tpr, _ = roc_curve(gt, sc)
    precision, recall, _ = precision_recall_curve(gt, sc)
    r, p = _thin(fpr.size, max_points), _thin(recall.size, max_points)
    return {"roc": {"fpr": fpr[r].tolist(), "tpr": tpr[r].tolist()},
            "pr": {"recall": recall[p].tolist(), "precision": precision[p].tolist()}}
