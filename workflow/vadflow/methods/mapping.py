"""Clip (or window, segment) scores to one score per original frame: the mapping every method
shares, so that all of them are judged by the same evaluation code on the same frames
(docs/metrics.md §2)."""
from __future__ import annotations

import numpy as np


def clip_to_frames(
    clip_scores: np.ndarray,
    n_frames: int,
    clip_len: int,
    stride: int,
    mapping: str = "average",
) -> np.ndarray:
    """Map ``K`` clip scores to ``n_frames`` frame scores.

    Clip *i* covers frames ``[i*stride, i*stride + clip_len)``.

    * ``average`` (default): each frame takes the mean score of the clips that cover it;
      frames covered by no clip (after the last clip, or in gaps when stride > clip_len)
      take the score of the stride cell they fall in, so the tail gets the last score.
    * ``cell``: frame *j* takes clip ``min(j // stride, K-1)`` (docs/metrics.md §2).

    With ``clip_len == stride`` both rules give ``np.repeat(scores, stride)`` plus the
    tail padded with the last score.
    """
    s = np.asarray(clip_scores, dtype=np.float64).reshape(-1)
    k = s.shape[0]
    if k == 0:
        raise ValueError("clip_to_frames: no clip scores (a video shorter than one clip must be padded upstream)")
    if n_frames <= 0:
        raise ValueError(f"clip_to_frames: n_frames must be positive, got {n_frames}")
    j = np.arange(n_frames)
    cell = s[np.minimum(j // stride, k - 1)]
    if mapping == "cell":
        return cell
    if mapping != "average":
        raise ValueError(f"unknown clip->frame mapping {mapping!r} (expected 'average' or 'cell')")
    # Difference arrays give the per-frame sum and count of covering clips in O(N + K).
    starts = np.arange(k) * stride
    ends = np.minimum(starts + clip_len, n_frames)
    valid = starts < n_frames
    acc = np.zeros(n_frames + 1)
    cnt = np.zeros(n_frames + 1)
    np.add.at(acc, starts[valid], s[valid])
    np.add.at(acc, ends[valid], -s[valid])
    np.add.at(cnt, starts[valid], 1)
    np.add.at(cnt, ends[valid], -1)
    tot = np.cumsum(acc)[:n_frames]
    num = np.cumsum(cnt)[:n_frames]
    out = cell.copy()
    covered = num > 0.5
    out[covered] = tot[covered] / num[covered]
    return out
