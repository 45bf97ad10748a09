"""Turning per-frame trajectories into layers cut to the video.

Events and distractors are staged on their own time axis, which may start before frame 0
(an event already in progress) or run past the last frame; these helpers keep the part
inside ``[0, n)``.
"""
from __future__ import annotations

import math

import numpy as np

from vadflow.data.synthetic.layers import Z_PEDESTRIAN, Glow, Layer, Mover, Patch, Sprite


def span(a: float, b: float) -> np.ndarray:
    """Integer frames ``ceil(a)..floor(b)``."""
    return np.arange(math.ceil(a), math.floor(b) + 1)


def path(times: list[float], xs: list[float], ys: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames and positions along the piecewise-linear path through the knots ``(times[i], xs[i], ys[i])``."""
    f = span(times[0], times[-1])
    return f, np.interp(f, times, xs), np.interp(f, times, ys)


def _inside(f: np.ndarray, n: int) -> slice | None:
    keep = np.flatnonzero((f >= 0) & (f < n))
    return slice(int(keep[0]), int(keep[-1]) + 1) if keep.size else None


def mover(t0: float, xs: np.ndarray, ys: np.ndarray, n: int, sprite: Sprite, z: int = Z_PEDESTRIAN) -> list[Layer]:
    """A sprite at ``(xs[i], ys[i])`` on frame ``t0 + i`` (``t0`` an integer), cut to the video."""
    t0 = int(t0)
    lo, hi = max(0, -t0), min(len(xs), n - t0)
    if hi <= lo:
        return []
    return [Mover(t0 + lo, np.asarray(xs[lo:hi]), np.asarray(ys[lo:hi]), sprite, z)]


def path_mover(times: list[float], xs: list[float], ys: list[float], n: int, sprite: Sprite, z: int = Z_PEDESTRIAN) -> list[Layer]:
    """A sprite moving along a piecewise-linear path, cut to the video."""
    f, x, y = path(times, xs, ys)
    return mover(f[0], x, y, n, sprite, z) if len(f) else []


def glow(f: np.ndarray, n: int, xs, ys, radius, level, color: np.ndarray, shift: np.ndarray | None = None, **kw) -> list[Layer]:
    """A :class:`Glow` over frames ``f`` (scalars broadcast to every frame), cut to the video."""
    sl = _inside(f, n)
    if sl is None:
        return []
    arr = [np.broadcast_to(np.asarray(v, np.float64), f.shape)[sl] for v in (xs, ys, radius, level)]
    return [Glow(int(f[sl.start]), *arr, color=np.asarray(color, np.float32), shift=None if shift is None else shift[sl], **kw)]


def patch(f: np.ndarray, n: int, top: int, left: int, rgb: np.ndarray, alpha: np.ndarray, index: np.ndarray, level: np.ndarray, **kw) -> list[Layer]:
    """A :class:`Patch` over frames ``f``, cut to the video."""
    sl = _inside(f, n)
    if sl is None:
        return []
    return [Patch(int(f[sl.start]), top, left, rgb, alpha, index[sl], level[sl], **kw)]
