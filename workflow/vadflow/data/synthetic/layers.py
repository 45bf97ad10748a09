"""Drawable layers: sprites on tracks, radial lights/smoke and textured patches.

Every random choice is made when a layer is built (in the plan), so drawing is a pure
function of the frame index. That lets the renderer draw the same video with and without
its event layers, which the annotation-consistency test relies on.

Canvases are float32 ``[H, W, 3]`` in grey levels (0..255); layers draw into a canvas in
place, clipped to the frame, with numpy slicing only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Draw order (low first): wall and ground marks, cars, pedestrians, small flying objects,
# then lights and smoke, which must cover whatever stands under them.
Z_GROUND, Z_CAR, Z_PEDESTRIAN, Z_OBJECT, Z_LIGHT = 0, 1, 2, 3, 4


def _boxes(y0: int, x0: int, h: int, w: int, height: int, width: int) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """Destination and source slices of an ``h x w`` box at ``(y0, x0)`` clipped to the frame."""
    ya, xa = max(y0, 0), max(x0, 0)
    yb, xb = min(y0 + h, height), min(x0 + w, width)
    if ya >= yb or xa >= xb:
        return None
    return (slice(ya, yb), slice(xa, xb)), (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0))


@dataclass
class Sprite:
    """An RGB image with an alpha matte, drawn centred on a point."""

    rgb: np.ndarray  # [h, w, 3] float32 grey levels
    alpha: np.ndarray  # [h, w, 1] float32 in 0..1

    @property
    def size(self) -> tuple[int, int]:
        return self.alpha.shape[0], self.alpha.shape[1]


@dataclass
class Mover:
    """A sprite following a track: centre ``(xs[i], ys[i])`` at frame ``t0 + i``."""

    t0: int
    xs: np.ndarray
    ys: np.ndarray
    sprite: Sprite
    z: int = Z_PEDESTRIAN
    _top: np.ndarray = field(init=False, repr=False)
    _left: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        h, w = self.sprite.size
        self._top = np.rint(np.asarray(self.ys, np.float64) - h / 2).astype(np.int64)
        self._left = np.rint(np.asarray(self.xs, np.float64) - w / 2).astype(np.int64)

    @property
    def t1(self) -> int:
        return self.t0 + len(self.xs)

    def draw(self, canvas: np.ndarray, t: int) -> None:
        i = t - self.t0
        h, w = self.sprite.size
        box = _boxes(int(self._top[i]), int(self._left[i]), h, w, canvas.shape[0], canvas.shape[1])
        if box is None:
            return
        dst, src = box
        a = self.sprite.alpha[src]
        canvas[dst] += a * (self.sprite.rgb[src] - canvas[dst])


@dataclass
class Glow:
    """A radial light (added) or a soft disc of smoke (blended), per-frame centre/radius/level.

    The profile is ``clip((1 - d / r) * sharpness, 0, 1)``: sharpness 1 gives a cone that
    fades to the rim (a light), larger values a flat disc with a soft edge (a fireball).
    ``level`` is grey levels added at full profile, or the blend opacity when ``blend``.
    An optional tiled ``texture`` (0..1) multiplies the profile, read at per-frame
    offsets ``shift`` (rows, cols): jumping offsets make flames flicker, creeping ones
    make smoke billow.
    """

    t0: int
    xs: np.ndarray
    ys: np.ndarray
    radius: np.ndarray
    level: np.ndarray
    color: np.ndarray  # [3]; a gain per channel when adding, the target colour when blending
    sharpness: float = 1.0
    blend: bool = False
    z: int = Z_LIGHT
    texture: np.ndarray | None = None  # [th, tw]
    shift: np.ndarray | None = None  # [T, 2] int

    @property
    def t1(self) -> int:
        return self.t0 + len(self.level)

    def draw(self, canvas: np.ndarray, t: int) -> None:
        i = t - self.t0
        r, level = float(self.radius[i]), float(self.level[i])
        if r < 0.5 or level <= 0.0:
            return
        cx, cy = float(self.xs[i]), float(self.ys[i])
        ri = int(np.ceil(r))
        y0, x0 = int(np.floor(cy)) - ri, int(np.floor(cx)) - ri
        box = _boxes(y0, x0, 2 * ri + 2, 2 * ri + 2, canvas.shape[0], canvas.shape[1])
        if box is None:
            return
        dst, _ = box
        dy = np.arange(dst[0].start, dst[0].stop, dtype=np.float32) + 0.5 - cy
        dx = np.arange(dst[1].start, dst[1].stop, dtype=np.float32) + 0.5 - cx
        d = np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2)
        m = np.clip((1.0 - d / r) * self.sharpness, 0.0, 1.0)
        if self.texture is not None:
            th, tw = self.texture.shape
            rows = (np.arange(dst[0].start, dst[0].stop) + int(self.shift[i, 0])) % th
            cols = (np.arange(dst[1].start, dst[1].stop) + int(self.shift[i, 1])) % tw
            m = m * self.texture[np.ix_(rows, cols)]
        m = m[..., None]
        if self.blend:
            canvas[dst] += (m * level) * (self.color - canvas[dst])
        else:
            canvas[dst] += (m * level) * self.color


@dataclass
class Patch:
    """A fixed-place texture chosen per frame from a bank, scaled by a per-frame level.

    Fire flickers by jumping between bank entries; graffiti grows by stepping through
    cumulative ones. Added (lights) or blended (paint) like :class:`Glow`.
    """

    t0: int
    top: int
    left: int
    rgb: np.ndarray  # [K, h, w, 3]
    alpha: np.ndarray  # [K, h, w, 1]
    index: np.ndarray  # [T] int, bank entry per frame
    level: np.ndarray  # [T]
    blend: bool = False
    z: int = Z_GROUND

    @property
    def t1(self) -> int:
        return self.t0 + len(self.level)

    def draw(self, canvas: np.ndarray, t: int) -> None:
        i = t - self.t0
        level = float(self.level[i])
        if level <= 0.0:
            return
        k = int(self.index[i])
        box = _boxes(self.top, self.left, self.alpha.shape[1], self.alpha.shape[2], canvas.shape[0], canvas.shape[1])
        if box is None:
            return
        dst, src = box
        a = self.alpha[k][src] * level
        if self.blend:
            canvas[dst] += a * (self.rgb[k][src] - canvas[dst])
        else:
            canvas[dst] += a * self.rgb[k][src]


Layer = Mover | Glow | Patch


def ellipse_alpha(h: int, w: int) -> np.ndarray:
    """Soft-edged filled ellipse matte ``[h, w, 1]``."""
    yy = (np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1
    xx = (np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1
    d = np.sqrt(yy[:, None] ** 2 + xx[None, :] ** 2)
    return np.clip((1.0 - d) * max(h, w) / 2 + 0.5, 0.0, 1.0)[..., None]


def pedestrian_sprite(rng: np.random.Generator, scale: float) -> Sprite:
    """A small upright blob: clothes body, skin-tone head; every walker uses this."""
    h, w = max(3, round(11 * scale)), max(2, round(5 * scale))
    alpha = ellipse_alpha(h, w)
    rgb = np.empty((h, w, 3), np.float32)
    rgb[:] = rng.uniform(15, 235, 3)
    head = max(1, round(h * 0.3))
    rgb[:head] = rng.uniform(150, 215) * np.array([1.0, 0.78, 0.62], np.float32)
    return Sprite(rgb, alpha)


def car_sprite(rng: np.random.Generator, scale: float) -> Sprite:
    """A rectangle car seen from the side: body colour, a dark window band, dark wheels."""
    h, w = max(3, round(11 * scale)), max(6, round(24 * scale))
    rgb = np.empty((h, w, 3), np.float32)
    rgb[:] = rng.uniform(20, 235, 3)
    wy0, wy1 = round(h * 0.15), max(round(h * 0.15) + 1, round(h * 0.45))
    rgb[wy0:wy1, round(w * 0.2) : round(w * 0.8)] = (55, 65, 80)
    wheel_h = max(1, round(h * 0.25))
    for cx in (round(w * 0.22), round(w * 0.78)):
        half = max(1, round(w * 0.08))
        rgb[h - wheel_h :, max(cx - half, 0) : cx + half] = 25
    alpha = np.ones((h, w, 1), np.float32)
    alpha[0, 0] = alpha[0, -1] = alpha[-1, 0] = alpha[-1, -1] = 0.0
    return Sprite(rgb, alpha)


def dot_sprite(color: np.ndarray | tuple[float, float, float], size: int) -> Sprite:
    """A small solid square (a bag, debris, a bottle)."""
    size = max(1, size)
    return Sprite(np.broadcast_to(np.asarray(color, np.float32), (size, size, 3)).copy(), np.ones((size, size, 1), np.float32))
