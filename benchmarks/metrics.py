"""Benchmark: vectorised F1@k + pooled AUC vs a literal per-video pure-Python implementation.

Run:  python benchmarks/metrics.py [--videos 290] [--frames 1100000] [--repeat 3]

Builds UCF-Crime-sized synthetic data (≈1.1 M frames over 290 test videos, half of them
anomalous with one or two events; clip-level noisy scores so predictions flicker as real
ones do), then times
* ours: ``vadflow.evaluation.segments.f1_table`` (3 k × 3 reports) + ``roc_auc_score`` on
  the pooled frames;
* baseline: the literal MS-TCN ``get_labels_start_end_time``/``f_score`` port (per-frame
  Python walk, called per video × report × k as MS-TCN's ``main`` does; B1 patched), and a
  pure-Python tie-aware Mann–Whitney AUC;
prints both times and the ratio, and checks that every count and the AUC agree.
COMPASS P4 asks for ≤ 2 s on 1.1 M frames.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from vadflow.evaluation.segments import f1_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from mstcn_reference import ref_f_score, ref_get_labels_start_end_time  # noqa: E402

KS = (10, 25, 50)
BG = {"abnormal": [0], "normal": [1], "all": []}


def f_score(recognized, ground_truth, overlap, bg_class):
    """MS-TCN's f_score with the project's B1 rule: without GT segments, every prediction is an FP."""
    try:
        return ref_f_score(recognized, ground_truth, overlap, bg_class)
    except ValueError:  # argmax of an empty IoU array: no GT segment (B1)
        return 0.0, float(len(ref_get_labels_start_end_time(recognized, bg_class)[0])), 0.0


def baseline(gts: list[np.ndarray], scores: list[np.ndarray], thr: float = 0.5):
    counts = {}
    gl = [g.tolist() for g in gts]
    pl = [[1 if x > thr else 0 for x in s.tolist()] for s in scores]
    for report, bg in BG.items():
        for k in KS:
            tot = [0, 0, 0]
            for g, p in zip(gl, pl):
                tp, fp, fn = f_score(p, g, k / 100, bg)
                tot[0] += int(tp)
                tot[1] += int(fp)
                tot[2] += int(fn)
            counts[(report, k)] = tuple(tot)
    # Pure-Python tie-aware AUC (Mann–Whitney U with mid-ranks).
    pooled = []
    for g, s in zip(gl, scores):
        pooled.extend(zip(s.tolist(), g))
    pooled.sort(key=lambda t: t[0])
    n_pos = sum(g for _, g in pooled)
    n_neg = len(pooled) - n_pos
    rank_sum, i = 0.0, 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        mid = (i + j) / 2 + 1
        rank_sum += mid * sum(pooled[t][1] for t in range(i, j + 1))
        i = j + 1
    auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return counts, auc


def ours(gts: list[np.ndarray], scores: list[np.ndarray], thr: float = 0.5):
    df = f1_table(gts, scores, thr, KS)
    counts = {(r.report, r.k): (r.tp, r.fp, r.fn) for r in df.itertuples()}
    auc = roc_auc_score(np.concatenate(gts), np.concatenate(scores))
    return counts, float(auc)


def synthetic(n_videos: int, n_frames: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lens = rng.gamma(2.0, 1.0, n_videos)
    lens = np.maximum(64, np.round(lens / lens.sum() * n_frames)).astype(int)
    gts, scores = [], []
    for v, n in enumerate(lens):
        g = np.zeros(n, np.uint8)
        if v % 2 == 0:  # anomalous: one or two events
            for _ in range(1 + (v % 6 == 0)):
                a = int(rng.integers(0, n - 16))
                g[a : a + int(rng.integers(16, max(17, n // 4)))] = 1
        k = -(-n // 16)
        clip_gt = np.array([g[i * 16 : (i + 1) * 16].mean() for i in range(k)])
        noise = np.zeros(k)
        for i in range(1, k):  # AR(1): scores drift, so predictions flicker in runs
            noise[i] = 0.8 * noise[i - 1] + rng.normal(0, 0.12)
        clip = np.clip(0.3 + 0.35 * clip_gt + noise, 0, 1).round(3)  # rounding makes ties
        scores.append(np.repeat(clip, 16)[:n].astype(np.float32).astype(np.float64))
        gts.append(g)
    return gts, scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=290)
    ap.add_argument("--frames", type=int, default=1_100_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    gts, scores = synthetic(a.videos, a.frames)
    n = sum(g.size for g in gts)
    print(f"{len(gts)} videos, {n:,} frames, {sum(int(g.any()) for g in gts)} anomalous")

    t_ours = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        c_ours, auc_ours = ours(gts, scores)
        t_ours.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    c_base, auc_base = baseline(gts, scores)
    t_base = time.perf_counter() - t0

    best = min(t_ours)
    t0 = time.perf_counter()
    f1_table(gts, scores, 0.5, KS)
    t_f1 = time.perf_counter() - t0
    print(f"ours (vectorised, best of {a.repeat}): {best:8.3f} s   (all runs: {', '.join(f'{t:.3f}' for t in t_ours)})")
    print(f"  of which F1@k alone: {t_f1:.3f} s; pooled roc_auc_score the rest")
    print(f"baseline (MS-TCN per-frame Python):   {t_base:8.3f} s")
    print(f"speed-up: {t_base / best:.1f}x")
    ok = c_ours == c_base and abs(auc_ours - auc_base) < 1e-9
    for key in sorted(c_ours):
        print(f"  {key[0]:9s} F1@{key[1]:<3d} tp/fp/fn ours {c_ours[key]}  baseline {c_base[key]}")
    print(f"  AUC ours {auc_ours:.9f}  baseline {auc_base:.9f}")
    print("agree:", ok)
    print("P4 (<= 2 s):", "met" if best <= 2.0 else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
