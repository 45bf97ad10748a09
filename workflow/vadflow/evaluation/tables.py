"""File-level entry point of the evaluation stage: frame labels + frame scores → tables.

``evaluate`` is the one function the CLI calls; it validates inputs strictly (a wrong
score file must fail loudly, naming the video, rather than produce a plausible number).
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from vadflow.evaluation.field_metrics import anomalous_only, per_class_metrics
from vadflow.evaluation.frame_metrics import AUC_METHODS, frame_metrics, per_video_table, pooled_curves
from vadflow.evaluation.segments import DEFAULT_K, f1_table

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "threshold": 0.5,  # F1 binarisation, score > τ
    "f1_k": list(DEFAULT_K),  # percentages (fractions accepted when all ≤ 1)
    "alarm_threshold": 0.5,  # FAR / video alarms, score ≥ τ
    "auc": "sklearn",  # or "sultani_exact"
    "gt_span": "video",  # "clips" (T·16 frames) is not implemented
}

AUC_COLUMNS = [
    "auc", "ap", "pr_auc_trapz", "eer", "eer_threshold", "far", "alarms_normal_pct",
    "alarms_anomalous_pct", "vl_f1", "false_alarms_per_hour", "tn", "fp", "fn", "tp", "frame_accuracy", "frame_f1",
    "n_videos", "n_frames", "auc_method", "n_skipped_test", "n_skipped_train", "skipped_reason",
    # at the Youden threshold (seed 004's thresholding; frame_metrics.youden_report)
    "youden_threshold", "wavg_precision", "wavg_recall", "wavg_f1", "anomaly_precision", "anomaly_recall", "anomaly_f1",
    "youden_far",
    # the field's metrics (field_metrics.py, docs/metrics.md §12): the papers' trapezoid AP (= pr_auc_trapz),
    # AUC and both APs over the anomalous videos' frames, and the dataset's headline metric
    "ap_trapz", "auc_a", "ap_a", "ap_a_trapz", "headline_metric", "headline_value",
]

#: the metric each dataset kind's papers lead with; every other kind: frame AUC. XD-Violence's is the
#: trapezoid AP of XDVioDet / RTFM / UR-DMU / MGFN (VadCLIP's step-wise ``ap`` is the other one).
HEADLINE = {"xd_violence": "ap_trapz"}
#: label policies under which labels cover fewer frames than a video has (XD-Violence's GT rule):
#: scores are cut to the labelled span, with a warning per video (align_to_labels).
CUT_POLICIES = ("xd_official", "snippets_x16")


def headline_metric(kind: str | None) -> str:
    """The ``{method}_auc.csv`` column a dataset of ``kind`` reports first."""
    return HEADLINE.get(str(kind or ""), "auc")


def align_to_labels(labels: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray], policy: str
                    ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Scores cut to their video's labelled span where the label ``policy`` leaves frames
    unlabelled (XD-Violence's ``xd_official``: 16·⌊(n−1)/16⌋ of n frames), each cut warned about
    naming the video and the policy; ``{video: frames cut}``. Any other length difference is left
    for :func:`evaluate` to refuse: a wrong score file must fail, never be trimmed silently."""
    out, cut = dict(scores), {}
    if policy not in CUT_POLICIES:
        return out, cut
    for vid, s in scores.items():
        if vid in labels and np.asarray(s).size > np.asarray(labels[vid]).size:
            n, m = np.asarray(s).size, np.asarray(labels[vid]).size
            log.warning("video %s: %d frame scores, the labels (policy %s) cover %d frames; the last %d scores "
                        "are left out of the metrics", vid, n, policy, m, n - m)
            out[vid], cut[vid] = np.asarray(s).reshape(-1)[:m], n - m
    return out, cut


def _config(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    c = dict(DEFAULTS)
    c.update({k: v for k, v in (cfg or {}).items() if v is not None})
    if c["auc"] not in AUC_METHODS:
        raise ValueError(f"evaluation auc: {c['auc']!r} is not one of {AUC_METHODS}")
    if c["gt_span"] != "video":
        # T·16 spans need each method's clip count, which frame-level score files do not
        # carry; reproduce RTFM-style numbers by truncating upstream instead.
        raise ValueError(f"evaluation gt_span: {c['gt_span']!r} is not supported (only 'video')")
    return c


def _inputs(
    labels: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray], videos: pd.DataFrame
) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    for col in ("id", "cls", "anomalous"):
        if col not in videos.columns:
            raise ValueError(f"videos table lacks column {col!r}")
    ids = [str(v) for v in videos["id"]]
    if len(set(ids)) != len(ids):
        raise ValueError("videos table lists a video twice")
    gts, scs = [], []
    for vid in ids:
        if vid not in labels:
            raise ValueError(f"video {vid!r}: no frame labels")
        if vid not in scores:
            raise ValueError(f"video {vid!r}: no scores")
        g = np.asarray(labels[vid]).reshape(-1)
        s = np.asarray(scores[vid], dtype=np.float64).reshape(-1)
        if g.size == 0:
            raise ValueError(f"video {vid!r}: zero frames")
        if g.size != s.size:
            raise ValueError(f"video {vid!r}: {g.size} labelled frames but {s.size} scores")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"video {vid!r}: scores contain NaN or inf")
        if not np.all((g == 0) | (g == 1)):
            raise ValueError(f"video {vid!r}: frame labels must be 0 or 1")
        gts.append(g.astype(np.uint8, copy=False))
        scs.append(s)
    return ids, gts, scs


def evaluate(
    labels: Mapping[str, np.ndarray],
    scores: Mapping[str, np.ndarray],
    videos: pd.DataFrame,
    cfg: Mapping[str, Any] | None = None,
    skipped: Mapping[str, str] | None = None,
    skipped_train: Mapping[str, str] | None = None,
    headline: str = "auc",
) -> dict[str, Any]:
    """Evaluate one method's frame scores on the test videos listed in ``videos``.

    ``videos``: one row per test video, columns ``id, cls, anomalous`` and optionally
    ``fps`` (default 30) and ``classes`` (every class, ``|``-joined: a video counts in each
    of them per class; default ``cls``); its row order is the pooling order. Videos present in
    ``labels`` or ``scores`` but not in ``videos`` are ignored. ``headline``: the auc column the
    dataset reports first (:func:`headline_metric`), named and repeated in ``headline_*``.

    ``skipped`` / ``skipped_train``: ``{id: reason}`` of the test / training videos the
    method skipped (the scores file's record). A skipped test video must hold all-zero
    scores: it counts in the frame metrics with them, not in the video-level ones
    (docs/methods/mil.md §2). The auc row states both counts and the reasons.

    Returns ``{"auc", "f1", "per_video", "per_class"}`` DataFrames (see the module docs
    of :mod:`frame_metrics` and :mod:`segments`) and ``"curves"``, the pooled ROC and PR
    curves (:func:`pooled_curves`).
    """
    c = _config(cfg)
    ids, gts, scs = _inputs(labels, scores, videos)
    listed = set(ids)
    skipped = {vid: r for vid, r in (skipped or {}).items() if vid in listed}
    for vid, s in zip(ids, scs):
        if vid in skipped and np.any(s != 0):
            raise ValueError(f"video {vid!r} is recorded as skipped ({skipped[vid]}) but has non-zero scores")
    scored = np.array([vid not in skipped for vid in ids], dtype=bool)
    anomalous = videos["anomalous"].astype(bool).to_numpy()
    fps = videos["fps"].tolist() if "fps" in videos.columns else None
    fm = frame_metrics(
        gts, scs, anomalous, fps,
        threshold=float(c["threshold"]),
        alarm_threshold=float(c["alarm_threshold"]),
        auc_method=c["auc"],
        scored=scored,
    )
    fm["ap_trapz"] = fm["pr_auc_trapz"]
    fm.update({k: v for k, v in anomalous_only(gts, scs, anomalous).items() if k != "n_frames_a"})
    fm["headline_metric"], fm["headline_value"] = headline, fm[headline]
    fm["auc_method"] = c["auc"]
    fm["n_skipped_test"] = len(skipped)
    fm["n_skipped_train"] = len(skipped_train or {})
    fm["skipped_reason"] = "; ".join(sorted(set(skipped.values()) | set((skipped_train or {}).values())))
    auc = pd.DataFrame([fm], columns=AUC_COLUMNS)
    f1 = f1_table(gts, scs, threshold=float(c["threshold"]), ks=c["f1_k"])
    pv = per_video_table(ids, gts, scs, alarm_threshold=float(c["alarm_threshold"]))
    pv.insert(1, "cls", videos["cls"].astype(str).to_numpy())
    pv.insert(2, "anomalous", anomalous)
    pv["skipped"] = ~scored
    classes = videos["classes"] if "classes" in videos.columns else videos["cls"]
    pc = per_class_metrics(classes.astype(str).tolist(), anomalous, gts, scs)
    return {"auc": auc, "f1": f1, "per_video": pv, "per_class": pc, "curves": pooled_curves(gts, scs)}


def left_out(table: pd.DataFrame, scored: Sequence[str], reasons: Mapping[str, str]) -> pd.DataFrame:
    """The test videos of the manifest ``table`` that have no scores: ``id, cls, status, error``.

    The manifest's status and error say why a video was never decoded (corrupt, too_short,
    ...); a video the manifest calls ok but that has no scores failed later (extraction, an
    import without its file) and takes status ``no_features`` and the score job's
    ``reasons`` entry.
    """
    test = table[table["split"] == "test"]
    out = test[~test["id"].isin(list(scored))][["id", "cls", "status", "error"]].copy()
    later = out["status"] == "ok"
    out.loc[later, "error"] = [reasons.get(v, "no scores") for v in out.loc[later, "id"]]
    out.loc[later, "status"] = "no_features"
    return out.reset_index(drop=True)
