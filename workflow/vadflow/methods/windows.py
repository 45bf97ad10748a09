"""Half-overlapping temporal windows over a clip sequence (docs/methods/adnet.md §4).

Window k covers clips [k*W/2, k*W/2 + W). The sequence is padded to
max(ceil(T/(W/2))*W/2, W) with empty clips (zero features, mask 0, label -1).
``width == 0`` means one window over the whole sequence ("ADNet w/o Window").
"""
from __future__ import annotations

import math

import numpy as np

LABEL_PAD = -1.0


def _check(width: int) -> None:
    if width < 0 or width % 2:
        raise ValueError(f"window width must be 0 (whole sequence) or a positive even number, got {width}")


def layers_for_window(window: int, kernel: int = 3) -> int:
    """Formula 10 (docs/methods/adnet.md §3): L = ceil(log2(W / floor(K/2))), the deepest stack of
    dilated layers (dilation 2^l) whose every layer still reaches a clip of a W-clip window:
    layer l's taps sit floor(K/2)*2^l clips away, so past L they fall on padding only."""
    if kernel < 3 or kernel % 2 == 0:
        raise ValueError(f"kernel must be odd and >= 3, got {kernel}")
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    return math.ceil(math.log2(window / (kernel // 2)))


def window_starts(n: int, width: int) -> np.ndarray:
    """Start clip of every window for a sequence of ``n`` clips."""
    _check(width)
    if n < 1:
        raise ValueError(f"cannot window an empty sequence (n={n})")
    if width == 0:
        return np.zeros(1, dtype=np.int64)
    half = width // 2
    n_windows = max(-(-n // half) - 1, 1)
    return np.arange(n_windows, dtype=np.int64) * half


def padded_length(n: int, width: int) -> int:
    _check(width)
    if width == 0:
        return n
    half = width // 2
    return max(-(-n // half) * half, width)


def cut(seq: np.ndarray, start: int, width: int, fill: float) -> np.ndarray:
    """``seq[start:start+width]`` along axis 0, padded with ``fill`` to exactly ``width`` rows."""
    part = seq[start : start + width]
    if len(part) == width:
        return part
    pad = np.full((width - len(part),) + seq.shape[1:], fill, dtype=seq.dtype)
    return np.concatenate([part, pad])


def split(seq: np.ndarray, width: int, fill: float = 0.0) -> np.ndarray:
    """All windows of ``seq`` [T, ...] stacked as [n_windows, W, ...] (W = T when width is 0)."""
    w = width or len(seq)
    return np.stack([cut(seq, int(s), w, fill) for s in window_starts(len(seq), width)])


def merge(values: np.ndarray, n: int, width: int) -> np.ndarray:
    """Per-clip mean of window outputs [n_windows, >=W] over the windows containing each clip."""
    starts = window_starts(n, width)
    w = width or n
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] != len(starts) or values.shape[1] < w:
        raise ValueError(f"expected window outputs [{len(starts)}, >={w}], got {list(values.shape)}")
    total = np.zeros(padded_length(n, width))
    count = np.zeros_like(total)
    for s, row in zip(starts, values):
        total[s : s + w] += row[:w]
        count[s : s + w] += 1
    return total[:n] / count[:n]
