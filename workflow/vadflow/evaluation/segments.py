"""Segment-level F1@k (docs/metrics.md §7–§9, docs/methods/adnet.md §8).

sklearn has no segmental F1, so the MS-TCN ``f_score`` matching is written here by hand.
It is vectorised over *all videos at once* (COMPASS P4: 1.1 M frames in ≤ 2 s):

* Every video's frames are laid end to end, and segments are cut at label changes
  (``np.flatnonzero(np.diff(...))``) **and** at video boundaries, so no segment crosses
  two videos. Segments of one class then form one sorted list of disjoint intervals.
* A predicted and a GT segment from different videos never overlap, so their IoU is
  ≤ 0 and, for k > 0, they can never match. That is why the global pass gives exactly
  the per-video counts, and why a video with no GT segment (B1) counts every predicted
  segment as an FP without a special case.
* MS-TCN's greedy loop marks a prediction TP iff its best GT (first argmax of IoU) clears
  k and is not already hit. The best GT depends only on the prediction, not on the loop
  state, so the loop reduces to: per GT, the first qualifying prediction whose best GT it
  is gets the TP. TP = number of distinct best-GT indices among qualifying predictions.
  This keeps MS-TCN's greedy quirk (an earlier prediction can take a GT whose second-best
  partner would have matched a later one) and is checked against a literal port in
  tests/test_metrics.py.

Reports: ``abnormal`` scores runs of 1 (bg = {0}), ``normal`` runs of 0 (bg = {1}), and
``all`` is the sum of the two reports' counts (equal to MS-TCN with bg = {} because the
IoU with a GT of the other label is 0 < k).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

REPORTS = ("abnormal", "normal", "all")
DEFAULT_K = (10, 25, 50)


def normalise_k(ks: Iterable[float]) -> tuple[np.ndarray, list[float]]:
    """Return ``(fractions, percents)`` for a k list.

    The config gives percentages (``[10, 25, 50]``, as in ADNet's tables); metrics.md writes
    fractions (``0.10`` …). If every value is ≤ 1 the list is read as fractions, otherwise as
    percentages. (So ``[1]`` alone means IoU ≥ 1.0, i.e. exact matches.)
    """
    vals = [float(k) for k in ks]
    if not vals:
        raise ValueError("F1@k: empty k list")
    as_fraction = all(v <= 1.0 for v in vals)
    pct = [v * 100.0 if as_fraction else v for v in vals]
    # round() removes 0.1*100-style noise so the table shows 10, not 10.000000000000002.
    pct = [round(p, 9) for p in pct]
    frac = np.array([p / 100.0 for p in pct], dtype=np.float64)
    if np.any(frac <= 0) or np.any(frac > 1):
        # k ≤ 0 would let disjoint or touching segments (IoU ≤ 0) match, which breaks the
        # cross-video vectorisation above and has no meaning for F1@k.
        raise ValueError(f"F1@k: every k must be in (0, 100] percent, got {list(ks)}")
    return frac, pct


def segments(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of one sequence as ``(starts, ends, values)``; ``end`` is exclusive and the last
    run ends at ``len(labels)`` (B3). An empty sequence has no segments (B2)."""
    lab = np.asarray(labels).reshape(-1)
    if lab.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), lab[:0]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(lab.astype(np.int16))) + 1)).astype(np.int64)
    ends = np.append(starts[1:], lab.size).astype(np.int64)
    return starts, ends, lab[starts]


class _Segs:
    """Segments of many binary sequences laid end to end (see module docstring)."""

    __slots__ = ("start", "end", "value", "video")

    def __init__(self, seqs: Sequence[np.ndarray]):
        lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        total = int(offsets[-1])
        if total == 0:
            z = np.zeros(0, dtype=np.int64)
            self.start, self.end, self.value, self.video = z, z.copy(), z.astype(np.int8), z.copy()
            return
        flat = np.concatenate([np.asarray(s, dtype=np.int8).reshape(-1) for s in seqs])
        cuts = np.union1d(np.flatnonzero(np.diff(flat)) + 1, offsets[1:-1])
        cuts = cuts[(cuts > 0) & (cuts < total)]
        self.start = np.concatenate(([0], cuts)).astype(np.int64)
        self.end = np.append(self.start[1:], total)
        self.value = flat[self.start]
        # side="right" skips empty videos, whose offset equals the next video's.
        self.video = np.searchsorted(offsets, self.start, side="right") - 1

    def of(self, value: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.value == value
        return self.start[m], self.end[m], self.video[m]


def _best_gt(ps: np.ndarray, pe: np.ndarray, gs: np.ndarray, ge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each predicted segment: index of its best GT segment (first argmax of IoU, as
    MS-TCN) and that IoU; ``-1`` / ``-inf`` when it overlaps none (then it can never match)."""
    n = ps.size
    best_g = np.full(n, -1, dtype=np.int64)
    best_iou = np.full(n, -np.inf)
    if n == 0 or gs.size == 0:
        return best_g, best_iou
    # Same-class GT segments are sorted and disjoint, so those overlapping a prediction
    # form the contiguous range [lo, hi); the pairs number at most n_pred + n_gt.
    lo = np.searchsorted(ge, ps, side="right")
    hi = np.searchsorted(gs, pe, side="left")
    cnt = np.maximum(hi - lo, 0)
    n_pairs = int(cnt.sum())
    if n_pairs == 0:
        return best_g, best_iou
    group_start = np.cumsum(cnt) - cnt
    p_idx = np.repeat(np.arange(n), cnt)
    g_idx = np.arange(n_pairs) - np.repeat(group_start - lo, cnt)
    inter = np.minimum(pe[p_idx], ge[g_idx]) - np.maximum(ps[p_idx], gs[g_idx])
    union = np.maximum(pe[p_idx], ge[g_idx]) - np.minimum(ps[p_idx], gs[g_idx])
    iou = inter / union  # same float expression as MS-TCN, so ties and k-boundaries agree
    has = cnt > 0
    best_iou[has] = np.maximum.reduceat(iou, group_start[has])
    cand = np.flatnonzero(iou == best_iou[p_idx])
    cp = p_idx[cand]
    first = np.ones(cand.size, dtype=bool)
    first[1:] = cp[1:] != cp[:-1]
    best_g[cp[first]] = g_idx[cand[first]]
    return best_g, best_iou


def segment_counts(
    gts: Sequence[np.ndarray],
    preds: Sequence[np.ndarray],
    ks: Iterable[float] = DEFAULT_K,
    per_video: bool = False,
) -> dict[str, np.ndarray]:
    """TP/FP/FN per report and k from binary GT and binary predictions.

    Returns ``{report: int64 array}`` with shape ``[n_k, 3]`` (columns tp, fp, fn, summed
    over videos), or ``[n_k, n_videos, 3]`` with ``per_video=True``.
    """
    if len(gts) != len(preds):
        raise ValueError(f"segment_counts: {len(gts)} GT sequences but {len(preds)} predictions")
    for i, (g, p) in enumerate(zip(gts, preds)):
        if len(g) != len(p):
            raise ValueError(f"segment_counts: sequence {i} has {len(g)} GT frames but {len(p)} predictions")
    frac, _ = normalise_k(ks)
    n_vid = len(gts)
    G, P = _Segs(gts), _Segs(preds)
    out: dict[str, np.ndarray] = {}
    for report, value in (("abnormal", 1), ("normal", 0)):
        gs, ge, gv = G.of(value)
        ps, pe, pv = P.of(value)
        best_g, best_iou = _best_gt(ps, pe, gs, ge)
        n_gt_v = np.bincount(gv, minlength=n_vid)
        n_pr_v = np.bincount(pv, minlength=n_vid)
        res = np.zeros((frac.size, n_vid, 3), dtype=np.int64)
        for i, k in enumerate(frac):
            hit = np.unique(best_g[best_iou >= k])
            tp_v = np.bincount(gv[hit], minlength=n_vid)
            res[i, :, 0] = tp_v
            res[i, :, 1] = n_pr_v - tp_v
            res[i, :, 2] = n_gt_v - tp_v
        out[report] = res
    out["all"] = out["abnormal"] + out["normal"]
    if not per_video:
        out = {r: v.sum(axis=1) for r, v in out.items()}
    return out


def prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """Precision, recall (fractions) and F1 (×100), 0 where undefined (B6)."""
    p = tp / (tp + fp) if tp + fp > 0 else 0.0
    r = tp / (tp + fn) if tp + fn > 0 else 0.0
    f = 100.0 * 2.0 * p * r / (p + r) if p + r > 0 else 0.0
    return float(p), float(r), float(f)


def binarise(scores: np.ndarray, threshold: float) -> np.ndarray:
    """``score > τ`` into a new array; the raw scores are never modified (B4)."""
    return np.asarray(scores) > threshold


def f1_table(
    gts: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    threshold: float = 0.5,
    ks: Iterable[float] = DEFAULT_K,
) -> pd.DataFrame:
    """The ``{method}_f1.csv`` table: columns ``report, k, tp, fp, fn, precision, recall, f1``.

    ``k`` is written in percent; precision and recall are fractions and f1 is ×100, as in
    the tables of docs/metrics.md §10.
    """
    ks = list(ks)
    _, pct = normalise_k(ks)
    preds = [binarise(s, threshold) for s in scores]
    counts = segment_counts([np.asarray(g) != 0 for g in gts], preds, ks)
    k_col = [int(p) if float(p).is_integer() else p for p in pct]
    rows = []
    for report in REPORTS:
        for i, k in enumerate(k_col):
            tp, fp, fn = (int(x) for x in counts[report][i])
            p, r, f = prf(tp, fp, fn)
            rows.append(dict(report=report, k=k, tp=tp, fp=fp, fn=fn, precision=p, recall=r, f1=f))
    return pd.DataFrame(rows, columns=["report", "k", "tp", "fp", "fn", "precision", "recall", "f1"])


def count_runs(seqs: Sequence[np.ndarray], value: int = 1) -> np.ndarray:
    """Number of maximal runs of ``value`` in each binary sequence (vectorised)."""
    out = np.zeros(len(seqs), dtype=np.int64)
    for i, s in enumerate(seqs):
        b = np.asarray(s).reshape(-1) == value
        if b.size:
            out[i] = int(b[0]) + int(np.count_nonzero(b[1:] & ~b[:-1]))
    return out
