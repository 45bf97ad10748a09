"""32-segment bags from clip features and the segment -> frame mapping (docs/methods/mil.md §2, §6).

Pure numpy; used by :mod:`vadflow.methods.mil.method` for training bags and for scoring.
"""
from __future__ import annotations

import numpy as np

T = 32
RULES = ("sultani", "seed001", "seed001_demo")
MAPPINGS = ("auto", "clip_aligned", "sultani_exact", "nearest")
#: the frame map each segment rule uses when ``mapping32: auto`` (docs/methods/mil.md §9 A5).
PRESET_MAPPING = {"sultani": "clip_aligned", "seed001": "nearest", "seed001_demo": "nearest"}
#: what happens to a video with fewer than 32 clips (docs/methods/mil.md §2 ``seed001``): ``pad`` keeps it
#: (segments repeat clips); ``skip_like_seed001`` leaves it out of training and scoring, as
#: the seed authors' ``transform_into_segments`` raises for it.
SHORT_VIDEOS = ("pad", "skip_like_seed001")


def short_video_reason(k: int, policy: str) -> str | None:
    """Why a video of ``k`` clips is skipped under ``policy``, or None when it is kept."""
    if policy not in SHORT_VIDEOS:
        raise ValueError(f"unknown short_videos policy {policy!r} (expected one of {SHORT_VIDEOS})")
    if policy == "skip_like_seed001" and k < T:
        return f"fewer than {T} clips (short_videos: skip_like_seed001, as seed 001's transform_into_segments)"
    return None


def boundaries(k: int, rule: str = "sultani") -> np.ndarray:
    """The 33 clip boundaries b_0..b_32 of a video with ``k`` clips.

    ``sultani``: b_i = rnd(i·(k−1)/32), computed in integers ((2i(k−1) + 32) // 64) so no
    float error can move a .5 case. ``seed001``: ⌊i·k/32⌋ (the cuts of the authors'
    ``numpy.linspace(0, k, 32, dtype=int, endpoint=False)`` plus b_32 = k), in integers.
    ``seed001_demo``: numpy.round(linspace(0, k−1, 33)).
    """
    if k < 1:
        raise ValueError(f"need at least one clip, got k={k}")
    i = np.arange(T + 1, dtype=np.int64)
    if rule == "sultani":
        return (2 * i * (k - 1) + T) // (2 * T)
    if rule == "seed001":
        return (i * k) // T
    if rule == "seed001_demo":
        return np.round(np.linspace(0, k - 1, T + 1)).astype(np.int64)
    raise ValueError(f"unknown segment rule {rule!r} (expected one of {RULES})")


def _l2(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation; rows of norm 0 stay all-zero (they are kept, never dropped)."""
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def make_bag(features: np.ndarray, rule: str = "sultani") -> np.ndarray:
    """Clip features ``[k, D]`` -> bag ``[32, D]`` float32 (docs/methods/mil.md §2).

    * ``sultani`` [O]: segment i = mean(F[b_i:b_{i+1}]) (half-open) if b_{i+1} > b_i else
      F[b_i]. For k ≤ 17, b_31 = k−1 and segment 31 is F[k−1] alone; for k ≥ 18 the last clip
      is never used (kept quirk). Then L2 per segment.
    * ``seed001`` [A] (``transform_into_segments``, the authors' train and test bags): the 32
      disjoint runs F[b_i:b_{i+1}], b_i = ⌊i·k/32⌋, so every clip is used once; segment i = the
      run's mean; then L2 per segment (no clip L2). For k < 32 the authors skip the video
      (``short_videos``); here an empty run (b_i == b_{i+1}) lies wholly inside clip b_i and
      repeats it, the nearest clip.
    * ``seed001_demo`` [A] (``display_predictions.py`` ``interpolate()``, their demo only):
      L2 per clip first; segment i = mean(F[b_i : b_{i+1}+1]) (both ends inclusive, so
      neighbours share a clip); then L2 per segment.

    A segment whose norm is 0 (e.g. all-zero clips) is kept as a row of zeros: the bag always
    has exactly 32 rows, in order ([O] stops with an error there; the PyTorch port divides by
    the zero norm and writes a NaN row).
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) == 0:
        raise ValueError(f"expected clip features [k>0, D], got shape {list(f.shape)}")
    k = len(f)
    b = boundaries(k, rule)
    if rule == "seed001_demo":
        f = _l2(f)
        lo, hi = b[:-1], b[1:] + 1
    else:
        # sultani and seed001 share the half-open runs; an empty run takes its first clip
        lo, hi = b[:-1], np.maximum(b[1:], b[:-1] + 1)
    # cumulative sums give every run mean in one pass
    c = np.concatenate([np.zeros((1, f.shape[1])), np.cumsum(f, axis=0)])
    seg = (c[hi] - c[lo]) / (hi - lo)[:, None]
    return _l2(seg).astype(np.float32)


def n_clips(n_frames: int, clip_len: int, stride: int) -> int:
    """Clip count of a video of ``n_frames`` frames (≥ 1: short videos are padded to one clip)."""
    if n_frames < clip_len:
        return 1
    return (n_frames - clip_len) // stride + 1


def segments_to_frames(
    seg_scores: np.ndarray, n_frames: int, k: int, stride: int = 16, rule: str = "sultani", mapping: str = "auto"
) -> np.ndarray:
    """32 segment scores -> ``n_frames`` frame scores (docs/methods/mil.md §6).

    * ``clip_aligned`` [O]: segment i covers clips [b_i, max(b_{i+1}, b_i+1)), i.e. frames
      stride·b_i … stride·max(b_{i+1}, b_i+1) − 1, written in order i = 0..31 (later segments
      overwrite overlaps). Frames no segment covers (last clip, incomplete tail) take segment
      31's score. ``b`` are the boundaries of ``rule`` for ``k`` clips.
    * ``sultani_exact``: as ``clip_aligned`` but uncovered frames stay 0, as in [O].
    * ``nearest`` [A]: frame t takes seg[numpy.round(linspace(0, 31, n))[t]].
    * ``auto``: ``clip_aligned`` for the sultani rule, ``nearest`` for seed001 and seed001_demo.
    """
    s = np.asarray(seg_scores, dtype=np.float64).reshape(-1)
    if len(s) != T:
        raise ValueError(f"expected {T} segment scores, got {len(s)}")
    if n_frames <= 0:
        raise ValueError(f"n_frames must be positive, got {n_frames}")
    if mapping == "auto":
        mapping = PRESET_MAPPING[rule]
    if mapping == "nearest":
        return s[np.round(np.linspace(0, T - 1, n_frames)).astype(np.int64)]
    if mapping not in ("clip_aligned", "sultani_exact"):
        raise ValueError(f"unknown segment->frame mapping {mapping!r} (expected one of {MAPPINGS})")
    b = boundaries(k, rule)
    out = np.full(n_frames, s[-1] if mapping == "clip_aligned" else 0.0)
    for i in range(T):
        lo = stride * b[i]
        hi = stride * max(b[i + 1], b[i] + 1)
        out[lo:min(hi, n_frames)] = s[i]
    return out
