"""The weakly supervised VAD field's frame metrics, as its public test scripts compute them.

All take per-video frame labels and frame scores (the pooling order is the caller's), like
:mod:`vadflow.evaluation.frame_metrics`. What each paper's number is:

**Frame AP, two ways.** They differ and are not interchangeable:

* :func:`ap_trapezoid`, ``sklearn.metrics.auc(recall, precision)`` over
  ``precision_recall_curve(gt, np.repeat(snippet_scores, 16))``: the trapezoid area under
  the PR curve, including its appended end point (recall 0, precision 1). It is what
  XDVioDet (``test.py``, the XD-Violence paper's AP), RTFM (``test_10crop.py``), UR-DMU
  (``xd_test.py``), MGFN (``test.py``), CLIP-TSA (``test_10crop.py``), PEL4VAD (``test.py``)
  and BN-WVAD (``infer.py``) print as "AP" / "pr_auc". Linear interpolation between PR
  points overstates precision, so it is usually the higher of the two.
* :func:`ap_stepwise`, ``sklearn.metrics.average_precision_score``: Σ (R_n − R_{n−1})·P_n, no
  interpolation. VadCLIP (``src/xd_test.py``: ``average_precision_score(gt, np.repeat(ap, 16))``)
  reports this one; so does this project's ``ap`` column (docs/metrics.md §4).

Neither is comparable with the other; a table must say which. Both are computed on the
frames the caller gives: the published XD scripts expand snippet scores with
``np.repeat(scores, 16)`` (:func:`snippet_scores_to_frames`) and compare with the
``gt.npy`` of :func:`vadflow.data.xd_violence.gt_length` (16 frames per snippet).

**AUC** is ``roc_auc_score`` (equal to ``auc(fpr, tpr)`` of ``roc_curve``, which the scripts
call: dropping collinear ROC points changes no area).

**AUC_A / AP_A** (:func:`anomalous_only`): the same metrics over the pooled frames of the
anomalous test videos only (BN-WVAD ``infer.py`` ``get_sub_metrics``: ``AUC_sub``/``AP_sub``
over ``xd_anomaly_mask``), which measures localisation inside anomalous videos.

**False-alarm rate** (:func:`false_alarm_rate`): frames of normal test videos scored
``≥ 0.5`` over all their frames (PEL4VAD ``test.py`` ``cal_false_alarm``: ``preds >= 0.5`` on the
frames of the videos whose GT has no positive frame, ``fp / (fp + tn)``). Code descended from
MIST / WSAL (``cal_false_alarm(scores, labels)``) binarises with ``score > 0.5`` instead:
``comparison=">"``. RTFM's and UR-DMU's published test scripts compute no false-alarm rate.

**Per class** (:func:`per_class_metrics`): for each anomaly class, that class's anomalous
videos plus **all** normal test videos (docs/metrics.md §3.4: the per-class table of every
dataset's evaluation); a video with several classes (XD-Violence's
``_label_B2-G-B6``) counts in every one of them, all its annotated frames positive for each.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import auc as _trapz_auc
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from vadflow.evaluation.frame_metrics import pool

#: frames per snippet in the published XD-Violence / UCF-Crime test scripts.
SNIPPET = 16
COMPARISONS = (">=", ">")


def _both(gt: np.ndarray, what: str) -> None:
    n_pos = int(np.count_nonzero(gt))
    if n_pos == 0 or n_pos == gt.size:
        raise ValueError(f"{what} needs both anomalous and normal frames ({n_pos} of {gt.size} positive)")


def snippet_scores_to_frames(scores: np.ndarray, clip_len: int = SNIPPET) -> np.ndarray:
    """One score per snippet -> one per frame, as the public scripts do (``np.repeat``)."""
    return np.repeat(np.asarray(scores, dtype=np.float64).reshape(-1), clip_len)


def ap_stepwise(gt: np.ndarray, score: np.ndarray) -> float:
    """Step-wise AP (``average_precision_score``): VadCLIP's XD-Violence AP, this project's ``ap``."""
    gt = np.asarray(gt).reshape(-1) != 0
    _both(gt, "AP")
    return float(average_precision_score(gt, np.asarray(score, dtype=np.float64).reshape(-1)))


def ap_trapezoid(gt: np.ndarray, score: np.ndarray) -> float:
    """Trapezoid PR area ``auc(recall, precision)``: the XD-Violence paper's AP, and RTFM's,
    UR-DMU's, MGFN's, CLIP-TSA's, PEL4VAD's and BN-WVAD's."""
    gt = np.asarray(gt).reshape(-1) != 0
    _both(gt, "AP")
    precision, recall, _ = precision_recall_curve(gt, np.asarray(score, dtype=np.float64).reshape(-1))
    return float(_trapz_auc(recall, precision))


def _auc(gt: np.ndarray, score: np.ndarray, what: str = "AUC") -> float:
    gt = np.asarray(gt).reshape(-1) != 0
    _both(gt, what)
    return float(roc_auc_score(gt, np.asarray(score, dtype=np.float64).reshape(-1)))


def anomalous_only(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], anomalous: Sequence[bool]) -> dict[str, float]:
    """AUC_A, AP_A (step-wise) and AP_A (trapezoid) over the pooled frames of the anomalous
    videos only; NaN without anomalous videos or when their frames are all positive."""
    idx = np.flatnonzero(np.asarray(anomalous, dtype=bool))
    nan = {"auc_a": float("nan"), "ap_a": float("nan"), "ap_a_trapz": float("nan"), "n_frames_a": 0}
    if idx.size == 0:
        return nan
    gt, sc = pool([labels[i] for i in idx], [scores[i] for i in idx])
    n_pos = int(np.count_nonzero(gt))
    if n_pos in (0, gt.size):
        return {**nan, "n_frames_a": int(gt.size)}
    return {"auc_a": _auc(gt, sc, "AUC_A"), "ap_a": ap_stepwise(gt, sc), "ap_a_trapz": ap_trapezoid(gt, sc),
            "n_frames_a": int(gt.size)}


def false_alarm_rate(scores: Sequence[np.ndarray], anomalous: Sequence[bool], threshold: float = 0.5,
                     comparison: str = ">=") -> float:
    """Frames of the normal videos (``anomalous`` False) scored ``≥ threshold`` (or ``>``) over
    all their frames; NaN without normal videos."""
    if comparison not in COMPARISONS:
        raise ValueError(f"false-alarm comparison {comparison!r}: expected one of {COMPARISONS}")
    normal = [np.asarray(scores[i], dtype=np.float64).reshape(-1) for i in np.flatnonzero(~np.asarray(anomalous, dtype=bool))]
    n = sum(s.size for s in normal)
    if n == 0:
        return float("nan")
    hits = sum(int(np.count_nonzero(s >= threshold if comparison == ">=" else s > threshold)) for s in normal)
    return hits / n


def _class_sets(classes: Sequence[str | Sequence[str]]) -> list[tuple[str, ...]]:
    from vadflow.data.xd_violence import split_classes

    return [split_classes(c) for c in classes]


def per_class_metrics(
    classes: Sequence[str | Sequence[str]],
    anomalous: Sequence[bool],
    labels: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
) -> pd.DataFrame:
    """Per anomaly class: pooled AUC, step-wise AP and trapezoid AP of the class's videos plus
    all normal videos.

    ``classes[i]`` is video i's class list, or one string joined by
    :data:`vadflow.data.xd_violence.CLASS_SEP` (``"Shooting|Explosion"``; a plain UCF-Crime
    class name is a one-class list). A video counts in each of its classes (column
    ``n_multi``: how many of the class's videos have other classes too). Classes are sorted by
    name; a class whose pool lacks one label gets NaN.
    """
    anom = np.asarray(anomalous, dtype=bool)
    sets = _class_sets(classes)
    if not (len(sets) == anom.size == len(labels) == len(scores)):
        raise ValueError(f"per-class metrics: {len(sets)} class entries, {anom.size} flags, {len(labels)} labels, "
                         f"{len(scores)} scores; one of each per video")
    normal_idx = np.flatnonzero(~anom)
    rows = []
    for c in sorted({c for s, a in zip(sets, anom) if a for c in s}):
        members = np.array([i for i, (s, a) in enumerate(zip(sets, anom)) if a and c in s], dtype=int)
        idx = np.sort(np.concatenate([members, normal_idx]))
        gt, sc = pool([labels[i] for i in idx], [scores[i] for i in idx])
        n_pos = int(np.count_nonzero(gt))
        ok = 0 < n_pos < gt.size
        rows.append(dict(
            cls=c,
            n_videos=int(members.size),
            n_multi=int(sum(len(sets[i]) > 1 for i in members)),
            n_normal_videos=int(normal_idx.size),
            n_frames=int(gt.size),
            n_positive_frames=n_pos,
            auc=_auc(gt, sc) if ok else float("nan"),
            ap=ap_stepwise(gt, sc) if ok else float("nan"),
            ap_trapz=ap_trapezoid(gt, sc) if ok else float("nan"),
        ))
    return pd.DataFrame(rows, columns=["cls", "n_videos", "n_multi", "n_normal_videos", "n_frames", "n_positive_frames",
                                       "auc", "ap", "ap_trapz"])


def field_metrics(
    labels: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    anomalous: Sequence[bool],
    threshold: float = 0.5,
    comparison: str = ">=",
) -> dict[str, float | str]:
    """One row of the field's metrics: pooled AUC, both APs, AUC_A / AP_A and the false-alarm
    rate on normal videos (the module docs say which paper reports which)."""
    gt, sc = pool(labels, scores)
    return {
        "auc": _auc(gt, sc),
        "ap": ap_stepwise(gt, sc),
        "ap_trapz": ap_trapezoid(gt, sc),
        **anomalous_only(labels, scores, anomalous),
        "far": false_alarm_rate(scores, anomalous, threshold, comparison),
        "far_threshold": float(threshold),
        "far_comparison": comparison,
        "n_videos": len(labels),
        "n_frames": int(gt.size),
    }
