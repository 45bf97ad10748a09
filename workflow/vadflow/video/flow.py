"""Dense optical flow (OpenCV Farnebäck) and the weight-free motion descriptors built on it.

The one home of optical flow in vadflow: the ``flow`` clip extractor (features/backbones/
flow_stats.py) and any method that feeds flow to a network (the real-time two-stream motion
stream, docs/methods/realtime.md §2) both compute it here.

Descriptors follow dense-trajectory features (Wang et al. 2013), per cell of a spatial grid:

* HOF: orientation histogram of the flow vectors, weighted by their magnitude;
* MBH: orientation histograms of the spatial gradients of each flow component (MBHx of
  ``u``, MBHy of ``v``), weighted by the gradient magnitude: boundaries of moving objects,
  insensitive to camera-wide uniform motion;
* magnitude statistics: mean and max magnitude, and the fractions of pixels moving faster
  than given thresholds;
* ``diff``: the mean absolute frame difference (what flow misses: flashes, fire, colour
  changing in place), and ``accel``: the mean change of the flow vector between successive
  flow fields (jitter, sudden starts and stops). Both raised the validation AUC of ADNet,
  MIL and LOF on the synthetic dataset (3 generator seeds), so they are in the default.

Histograms are per-pixel averages over the cell (not L2-normalised as in dense trajectories):
how fast things move is the cue here, and a normalised histogram would drop it. Flow is in
pixels per frame of the working resolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

DESCRIPTORS = ("hof", "mbh", "mag", "diff", "accel")  # the default, and every known descriptor
KNOWN = DESCRIPTORS


@dataclass(frozen=True)
class Farneback:
    """``cv2.calcOpticalFlowFarneback`` parameters; the defaults are OpenCV's sample values,
    which docs/methods/realtime.md §2 uses too (0.5, 3, 15, 3, 5, 1.2, 0)."""

    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any] | None) -> "Farneback":
        cfg = dict(cfg or {})
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown Farnebäck parameters {sorted(unknown)}; known: {', '.join(cls.__dataclass_fields__)}")
        return cls(**cfg)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 ``[H, W, 3]`` -> grey uint8 ``[H, W]`` (OpenCV's BT.601 weights)."""
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def resize_gray(gray: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Grey frame at the working resolution ``size`` = (h, w); area averaging when shrinking."""
    if size is None or tuple(gray.shape[:2]) == tuple(size):
        return gray
    interp = cv2.INTER_AREA if size[0] * size[1] < gray.shape[0] * gray.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(gray, (int(size[1]), int(size[0])), interpolation=interp)


def farneback(prev: np.ndarray, nxt: np.ndarray, params: Farneback = Farneback(),
              size: tuple[int, int] | None = None) -> np.ndarray:
    """Flow ``[h, w, 2]`` float32 (``u`` = x, ``v`` = y, pixels) that carries ``prev`` to ``nxt``:
    ``prev[y, x] ~ nxt[y + v, x + u]``. Frames are grey uint8, or RGB (converted); ``size``
    = (h, w) resizes both first (the working resolution)."""
    a, b = (resize_gray(to_gray(f) if f.ndim == 3 else f, size) for f in (prev, nxt))
    if a.shape != b.shape:
        raise ValueError(f"flow between frames of different sizes {a.shape} and {b.shape}")
    p = params
    return cv2.calcOpticalFlowFarneback(a, b, None, p.pyr_scale, p.levels, p.winsize, p.iterations, p.poly_n, p.poly_sigma, 0)


def flow_image(prev: np.ndarray, nxt: np.ndarray, size: int | tuple[int, int] | None = 224) -> np.ndarray:
    """The flow image of docs/methods/realtime.md §2, BGR uint8 ``[s, s, 3]``: Farnebäck with the
    spec's parameters at the frames' own resolution; hue = direction (H = angle / 2, OpenCV's
    0-180 range), saturation 255, value = the frame's magnitude min-max scaled to 0-255;
    HSV -> BGR, then INTER_AREA to ``size`` (None keeps the frame size)."""
    return flow_to_image(farneback(prev, nxt, Farneback()), size)


def flow_to_image(flow: np.ndarray, size: int | tuple[int, int] | None = 224) -> np.ndarray:
    """The encoding half of :func:`flow_image`: a flow field ``[h, w, 2]`` -> BGR uint8. A field
    without motion (all zeros) is black; the fastest pixel of any other is at full value."""
    mag, ang = cv2.cartToPolar(np.ascontiguousarray(flow[..., 0], np.float32), np.ascontiguousarray(flow[..., 1], np.float32))
    hsv = np.empty((*flow.shape[:2], 3), np.uint8)
    hsv[..., 0] = ang * 180 / np.pi / 2
    hsv[..., 1] = 255
    hsv[..., 2] = cv2.normalize(mag, None, 0, 255, cv2.NORM_MINMAX)
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if size is None:
        return bgr
    h, w = (size, size) if isinstance(size, int) else size
    return cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)


# ------------------------------------------------------------------ per-cell descriptors
class CellGrid:
    """A ``rows x cols`` grid over an ``height x width`` field: per-cell sums, means and maxima.

    Cell borders are ``floor(i * size / n)``, so cells differ by at most one pixel. Cells are
    numbered row-major.
    """

    def __init__(self, height: int, width: int, grid: Sequence[int]) -> None:
        gy, gx = int(grid[0]), int(grid[1])
        if not (1 <= gy <= height and 1 <= gx <= width):
            raise ValueError(f"grid {gy}x{gx} does not fit a {height}x{width} flow field")
        self.shape = (height, width)
        self.n = gy * gx
        self.row_starts = -(-np.arange(gy) * height // gy)  # first row of each cell row
        self.col_starts = -(-np.arange(gx) * width // gx)
        rows = np.searchsorted(self.row_starts, np.arange(height), side="right") - 1
        cols = np.searchsorted(self.col_starts, np.arange(width), side="right") - 1
        self.index = (rows[:, None] * gx + cols[None, :]).ravel()  # cell of each pixel
        self.area = np.bincount(self.index, minlength=self.n).astype(np.float64)

    def mean(self, values: np.ndarray) -> np.ndarray:
        """``[n]``: per-cell mean of a ``[height, width]`` field."""
        return np.bincount(self.index, weights=values.ravel(), minlength=self.n) / self.area

    def max(self, values: np.ndarray) -> np.ndarray:
        """``[n]``: per-cell maximum of a ``[height, width]`` field."""
        m = np.maximum.reduceat(np.maximum.reduceat(values, self.row_starts, axis=0), self.col_starts, axis=1)
        return m.ravel().astype(np.float64)

    def histograms(self, dx: np.ndarray, dy: np.ndarray, bins: int) -> np.ndarray:
        """``[n, bins]``: per cell, the magnitudes of the vectors (dx, dy) falling in each
        orientation bin, summed and divided by the cell's pixel count."""
        mag, ang = cv2.cartToPolar(np.ascontiguousarray(dx, np.float32), np.ascontiguousarray(dy, np.float32))
        return self._histograms(mag, ang, bins)

    def _histograms(self, mag: np.ndarray, ang: np.ndarray, bins: int) -> np.ndarray:
        # Bins are centred on k * 2pi / bins (right, down, left and up each mid-bin); the
        # angle is >= 0, so truncation is floor.
        b = (ang.ravel() * (bins / (2 * np.pi)) + 0.5).astype(np.int64) % bins
        hist = np.bincount(self.index * bins + b, weights=mag.ravel(), minlength=self.n * bins)
        return hist.reshape(self.n, bins) / self.area[:, None]


def cell_index(height: int, width: int, grid: Sequence[int]) -> np.ndarray:
    """``[height, width]``: the cell of each pixel (see :class:`CellGrid`)."""
    return CellGrid(height, width, grid).index.reshape(height, width)


def hof(flow: np.ndarray, grid: CellGrid, bins: int) -> np.ndarray:
    """Histogram of optical flow, ``[cells, bins]`` (px/frame per pixel)."""
    return grid.histograms(flow[..., 0], flow[..., 1], bins)


def mbh(flow: np.ndarray, grid: CellGrid, bins: int) -> np.ndarray:
    """Motion boundary histograms ``[cells, 2 bins]``: MBHx (gradient of ``u``), then MBHy
    (gradient of ``v``); central differences ``[-1, 0, 1] / 2`` as in dense trajectories."""
    out = []
    for c in range(2):
        comp = np.ascontiguousarray(flow[..., c])
        gx = cv2.Sobel(comp, cv2.CV_32F, 1, 0, ksize=1, scale=0.5)
        gy = cv2.Sobel(comp, cv2.CV_32F, 0, 1, ksize=1, scale=0.5)
        out.append(grid.histograms(gx, gy, bins))
    return np.concatenate(out, axis=1)


def magnitude_stats(flow: np.ndarray, grid: CellGrid, thresholds: Sequence[float]) -> np.ndarray:
    """``[cells, 2 + len(thresholds)]``: mean and max flow magnitude, then the fraction of
    pixels moving faster than each threshold (px/frame)."""
    mag = cv2.magnitude(np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1]))
    cols = [grid.mean(mag), grid.max(mag)] + [grid.mean((mag > float(t)).astype(np.float32)) for t in thresholds]
    return np.stack(cols, axis=1)


def frame_difference(prev: np.ndarray, nxt: np.ndarray, grid: CellGrid) -> np.ndarray:
    """``[cells, 1]``: mean absolute grey-level change between the two frames, / 255. Not flow:
    it sees what flow misses (flashes, fire, a patch changing colour in place)."""
    return (grid.mean(cv2.absdiff(prev, nxt).astype(np.float32)) / 255.0)[:, None]


def flow_change(flow: np.ndarray, prev: np.ndarray, grid: CellGrid) -> np.ndarray:
    """``[cells, 1]``: mean magnitude of the change of the flow vector from the previous flow
    field (px/frame): near 0 for steady motion, large for jitter and sudden speed changes."""
    d = flow - prev
    return grid.mean(cv2.magnitude(np.ascontiguousarray(d[..., 0]), np.ascontiguousarray(d[..., 1])))[:, None]


def descriptor_sizes(bins: int, thresholds: Sequence[float]) -> dict[str, int]:
    return {"hof": bins, "mbh": 2 * bins, "mag": 2 + len(thresholds), "diff": 1, "accel": 1}


def cell_dim(bins: int, thresholds: Sequence[float], descriptors: Sequence[str] = DESCRIPTORS) -> int:
    """Length of one cell's descriptor."""
    sizes = descriptor_sizes(bins, thresholds)
    unknown = [d for d in descriptors if d not in sizes]
    if unknown or not descriptors or len(set(descriptors)) != len(descriptors):
        raise ValueError(f"flow descriptors {list(descriptors)}: expected distinct names among {', '.join(sizes)}")
    return sum(sizes[d] for d in descriptors)


def cell_descriptors(flow: np.ndarray, grid: CellGrid, bins: int, thresholds: Sequence[float],
                     descriptors: Sequence[str] = DESCRIPTORS, frames: tuple[np.ndarray, np.ndarray] | None = None,
                     prev_flow: np.ndarray | None = None) -> np.ndarray:
    """``[cells, cell_dim]``: the chosen descriptors of one flow field, concatenated per cell;
    ``frames`` (the grey pair the flow came from) is needed by ``diff``, the previous flow
    field by ``accel``."""
    parts = []
    for name in descriptors:
        if name == "hof":
            parts.append(hof(flow, grid, bins))
        elif name == "mbh":
            parts.append(mbh(flow, grid, bins))
        elif name == "mag":
            parts.append(magnitude_stats(flow, grid, thresholds))
        elif name == "diff":
            if frames is None:
                raise ValueError("flow descriptor diff needs the frame pair")
            parts.append(frame_difference(*frames, grid))
        elif name == "accel":
            if prev_flow is None:
                raise ValueError("flow descriptor accel needs the previous flow field")
            parts.append(flow_change(flow, prev_flow, grid))
        else:
            raise ValueError(f"unknown flow descriptor {name!r}; known: {', '.join(KNOWN)}")
    return np.concatenate(parts, axis=1)


def grid_pool(cells: np.ndarray) -> np.ndarray:
    """``[cells, D]`` -> ``[2 D]``: max over cells, then mean over cells. Location-invariant:
    an event looks alike in whichever cell it happens."""
    return np.concatenate([cells.max(axis=0), cells.mean(axis=0)])


# ------------------------------------------------------------------ one clip
@dataclass(frozen=True)
class FlowStatsConfig:
    """How a clip becomes a motion descriptor (the ``flow`` extractor's keys)."""

    frame_step: int = 1  # flow between frames t and t + 1, for t = 0, frame_step, 2 frame_step, ...
    farneback: Farneback = Farneback()
    grid: tuple[int, int] = (4, 4)
    bins: int = 8
    thresholds: tuple[float, ...] = (1.0, 3.0)  # px/frame
    descriptors: tuple[str, ...] = DESCRIPTORS

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any]) -> "FlowStatsConfig":
        d = cls()
        out = cls(frame_step=int(cfg.get("frame_step", d.frame_step)), farneback=Farneback.from_cfg(cfg.get("farneback")),
                  grid=tuple(int(g) for g in cfg.get("grid", d.grid)), bins=int(cfg.get("bins", d.bins)),
                  thresholds=tuple(float(t) for t in cfg.get("thresholds", d.thresholds)),
                  descriptors=tuple(cfg.get("descriptors", d.descriptors)))
        if out.frame_step < 1 or out.bins < 1 or len(out.grid) != 2:
            raise ValueError(f"flow extractor: frame_step and bins must be >= 1 and grid [rows, cols], got {out}")
        cell_dim(out.bins, out.thresholds, out.descriptors)  # names an unknown descriptor
        return out

    @property
    def dim(self) -> int:
        return 2 * cell_dim(self.bins, self.thresholds, self.descriptors)


def pairs(n_frames: int, frame_step: int = 1) -> list[tuple[int, int]]:
    """The frame pairs ``(t, t + 1)`` of a clip of ``n_frames`` frames whose flow describes it:
    consecutive frames, one pair every ``frame_step`` frames."""
    return [(t, t + 1) for t in range(0, n_frames - 1, frame_step)]


def clip_descriptor(frames: np.ndarray, cfg: FlowStatsConfig = FlowStatsConfig()) -> np.ndarray:
    """One clip ``[T, H, W, 3]`` RGB or ``[T, H, W]`` grey uint8 -> ``[cfg.dim]`` float32.

    Per frame pair (:func:`pairs`), per cell: the descriptors of the flow, averaged over the
    pairs (``accel`` over the successive pairs), then pooled over the cells by
    :func:`grid_pool`. A one-frame clip has no motion. Each clip is computed on its own, so a
    clip's descriptor never depends on its batch.
    """
    gray = [to_gray(f) if f.ndim == 3 else f for f in frames]
    grid = CellGrid(*gray[0].shape, cfg.grid)
    per_field = [d for d in cfg.descriptors if d != "accel"]
    sums = np.zeros((grid.n, cell_dim(cfg.bins, cfg.thresholds, per_field) if per_field else 0), np.float64)
    change = np.zeros((grid.n, 1), np.float64)
    todo = pairs(len(gray), cfg.frame_step)
    prev = None
    for a, b in todo:
        flow = farneback(gray[a], gray[b], cfg.farneback)
        if per_field:
            sums += cell_descriptors(flow, grid, cfg.bins, cfg.thresholds, per_field, (gray[a], gray[b]))
        if "accel" in cfg.descriptors and prev is not None:
            change += flow_change(flow, prev, grid)
        prev = flow
    sums /= max(1, len(todo))
    change /= max(1, len(todo) - 1)
    # Back into the configured order: the per-field descriptors, with accel where it is listed.
    parts, at = [], 0
    sizes = descriptor_sizes(cfg.bins, cfg.thresholds)
    for name in cfg.descriptors:
        if name == "accel":
            parts.append(change)
        else:
            parts.append(sums[:, at: at + sizes[name]])
            at += sizes[name]
    return grid_pool(np.concatenate(parts, axis=1)).astype(np.float32)
