"""The fixed-camera street: geometry, static background, ambient walkers and traffic, lighting.

Sizes and speeds are given for the 160x120 reference frame and scaled with the frame, so a
small test video shows the same street in fewer pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from vadflow.data.synthetic import tracks
from vadflow.data.synthetic.layers import Z_CAR, Layer, Mover, car_sprite, pedestrian_sprite

# Lane 0 (nearer the camera) drives to the right, lane 1 to the left.
LANE_DIR = (1, -1)
WALK_SPEED = (1.0, 2.0)  # px/frame at 160 px width
CAR_SPEED = (3.0, 5.0)


@dataclass(frozen=True)
class Geometry:
    """Horizontal bands of the street, top to bottom, in pixel rows (floats)."""

    height: int
    width: int
    scale: float
    wall: tuple[float, float]  # plain wall at the foot of the buildings (graffiti goes here)
    upper_walk: tuple[float, float]
    road: tuple[float, float]
    lower_walk: tuple[float, float]
    parking: tuple[float, float]
    lanes: tuple[float, float]  # centre rows of lane 0 and lane 1
    parked: tuple[tuple[float, float], ...] = field(default=())  # (x, y) centres of parked cars

    def walk_y(self, rng: np.random.Generator, upper: bool) -> float:
        """A walking line (centre row) on the upper or lower sidewalk."""
        y0, y1 = self.upper_walk if upper else self.lower_walk
        band = y1 - y0
        return float(rng.uniform(y0 + 0.3 * band, y1 - 0.3 * band))

    def walk_speed(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(*WALK_SPEED) * self.scale)

    def exit_x(self, side: float) -> float:
        """A column just outside the frame on the left (``side < 0``) or right."""
        return -0.1 * self.width if side < 0 else 1.1 * self.width


@dataclass
class Staging:
    """What an event or distractor adds to a video: layers, and lanes it closes to traffic."""

    layers: list[Layer] = field(default_factory=list)
    blocked: list[tuple[int, float, float]] = field(default_factory=list)  # (lane, first frame, last frame)


def make_geometry(rng: np.random.Generator, height: int, width: int) -> Geometry:
    scale = min(width / 160, height / 120)
    off = rng.uniform(-0.03, 0.03) * height  # the camera sits a little higher or lower per video
    h = height
    road = (0.42 * h + off, 0.72 * h + off)
    lane_w = (road[1] - road[0]) / 2
    return Geometry(
        height=height,
        width=width,
        scale=scale,
        wall=(0.21 * h + off, 0.30 * h + off),
        upper_walk=(0.30 * h + off, road[0]),
        road=road,
        lower_walk=(road[1], 0.85 * h + off),
        parking=(0.85 * h + off, float(h)),
        lanes=(road[0] + 1.5 * lane_w, road[0] + 0.5 * lane_w),
    )


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Roughly unit-variance noise, bilinear between random values about ``cell`` pixels apart.

    It wraps around in both axes, so a texture read at moving offsets shows no seam.
    """
    gh, gw = max(1, round(height / cell)), max(1, round(width / cell))
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    yi, xi = np.arange(height) * gh / height, np.arange(width) * gw / width
    y0, x0 = yi.astype(int), xi.astype(int)
    fy, fx = (yi - y0)[:, None].astype(np.float32), (xi - x0)[None, :].astype(np.float32)
    rows = grid[y0] * (1 - fy) + grid[(y0 + 1) % gh] * fy
    return rows[:, x0] * (1 - fx) + rows[:, (x0 + 1) % gw] * fx


def _rows(a: float, b: float) -> slice:
    return slice(max(0, round(a)), max(0, round(b)))


def background(rng: np.random.Generator, geo: Geometry) -> tuple[np.ndarray, Geometry]:
    """The static street image ``[H, W, 3]`` float32, and the geometry with parked cars added."""
    h, w, s = geo.height, geo.width, geo.scale
    bg = np.zeros((h, w, 3), np.float32)

    # Buildings: a few facades with rows of windows, some lit, above a plain wall band.
    edges = [0, *sorted(int(x) for x in rng.uniform(0.15, 0.85, int(rng.integers(1, 4))) * w), w]
    win_h, win_w = max(1, round(5 * s)), max(1, round(4 * s))
    step_y, step_x = win_h + max(1, round(4 * s)), win_w + max(2, round(5 * s))
    for xa, xb in zip(edges[:-1], edges[1:]):
        facade = rng.uniform(70, 200, 3) * np.array([1.0, 0.9, 0.8]) + rng.uniform(-10, 10)
        bg[_rows(0, geo.wall[1]), xa:xb] = facade
        bg[_rows(*geo.wall), xa:xb] = facade * 0.8
        for y in range(max(1, round(3 * s)), round(geo.wall[0]) - win_h, step_y):
            for x in range(xa + max(1, round(2 * s)), xb - win_w, step_x):
                lit = rng.random() < 0.2
                bg[y : y + win_h, x : x + win_w] = (205, 190, 120) if lit else (45, 55, 70)

    # Sidewalks with tile joints, kerbs, asphalt with a dashed centre line, a parking strip.
    tile = max(3, round(8 * s))
    for band in (geo.upper_walk, geo.lower_walk):
        rows = _rows(*band)
        bg[rows] = rng.uniform(140, 175)
        bg[rows, ::tile] -= 18
    bg[_rows(*geo.road)] = rng.uniform(60, 90)
    for y in (geo.road[0], geo.road[1] - 1):
        bg[_rows(y, y + max(1, round(s)))] = 190
    mid = (geo.road[0] + geo.road[1]) / 2
    dash, period = max(2, round(10 * s)), max(4, round(18 * s))
    for x in range(int(rng.integers(0, period)) - period, w, period):
        bg[_rows(mid - 0.5 * s, mid + 0.5 * s + 0.5), max(0, x) : max(0, x + dash)] = 210
    bg[_rows(*geo.parking)] = rng.uniform(85, 105)
    bay = max(8, round(30 * s))
    bg[_rows(*geo.parking), int(rng.integers(0, bay)) :: bay] = 200

    grain = 6 * smooth_noise(rng, h, w, 6 * s) + 3 * rng.standard_normal((h, w)).astype(np.float32)
    bg += grain[..., None]

    # Parked cars are part of the static scene; their positions serve the headlight distractor.
    parked = []
    py = (geo.parking[0] + geo.parking[1]) / 2 + 0.5
    for x in rng.choice(np.arange(0.1, 0.9, 0.2), size=int(rng.integers(2, 4)), replace=False):
        car = car_sprite(rng, s)
        Mover(0, np.array([x * w]), np.array([py]), car).draw(bg, 0)
        parked.append((float(x * w), float(py)))
    return bg, replace(geo, parked=tuple(parked))


def illumination(rng: np.random.Generator, n: int, fps: int) -> np.ndarray:
    """Global gain per frame: slow drift, plus a short flicker about every 8 seconds."""
    t = np.arange(n)
    gain = 1.0 + rng.uniform(0.02, 0.06) * np.sin(2 * np.pi * t / (rng.uniform(20, 60) * fps) + rng.uniform(0, 2 * np.pi))
    for _ in range(int(rng.poisson(n / (8 * fps)))):
        t0 = int(rng.integers(0, n))
        gain[t0 : t0 + int(rng.integers(1, 4))] *= rng.uniform(0.88, 1.12)
    return gain.astype(np.float32)


def walker(rng: np.random.Generator, geo: Geometry, t_enter: float, n: int, speed: float | None = None) -> list[Layer]:
    """A pedestrian crossing the frame along a sidewalk, entering at frame ``t_enter``."""
    s, w = geo.scale, geo.width
    upper = bool(rng.random() < 0.5)
    direction = 1 if rng.random() < 0.5 else -1
    speed = geo.walk_speed(rng) if speed is None else speed
    y = geo.walk_y(rng, upper)
    sprite = pedestrian_sprite(rng, s)
    margin = sprite.size[1]
    x0, x1 = (-margin, w + margin) if direction > 0 else (w + margin, -margin)
    return tracks.path_mover([t_enter, t_enter + (w + 2 * margin) / speed], [x0, x1], [y, y], n, sprite)


def ambient_walkers(rng: np.random.Generator, geo: Geometry, n: int, fps: int) -> list[Layer]:
    """Pedestrians arriving at random; the process starts early so the street is busy at frame 0."""
    rate = rng.uniform(0.5, 1.2) / fps  # arrivals per frame, both sidewalks
    t = -(geo.width + 20 * geo.scale) / (WALK_SPEED[0] * geo.scale)
    movers: list[Layer] = []
    while True:
        t += rng.exponential(1 / rate)
        if t >= n:
            return movers
        movers += walker(rng, geo, t, n)


def ambient_cars(rng: np.random.Generator, geo: Geometry, n: int, fps: int, blocked: list[tuple[int, float, float]]) -> list[Layer]:
    """Through traffic in both lanes, skipping cars that would be visible while a lane is closed.

    All cars of a lane share one smoothly varying speed profile (a traffic flow), so they
    keep their spacing and never drive through each other.
    """
    s, w = geo.scale, geo.width
    movers: list[Layer] = []
    for lane, direction in enumerate(LANE_DIR):
        base = rng.uniform(*CAR_SPEED) * s
        amp, period, phase = rng.uniform(0.05, 0.15), rng.uniform(3, 8) * fps, rng.uniform(0, 2 * np.pi)
        car_w = max(6, round(24 * s))
        span = w + 2 * car_w
        lead = math.ceil(span / (base * (1 - amp)))
        frames = np.arange(-lead, n)
        flow = np.cumsum(base * (1 + amp * np.sin(2 * np.pi * frames / period + phase)))
        headway = 2.0 * car_w / (base * (1 - amp))
        rate = rng.uniform(0.15, 0.35) / fps
        closed = [(a, b) for ln, a, b in blocked if ln == lane]
        t, last = float(-lead), -math.inf
        while True:
            t += rng.exponential(1 / rate)
            spawn = math.ceil(t)
            if spawn >= n:
                break
            sprite = car_sprite(rng, s)
            d = flow[spawn + lead :] - flow[spawn + lead]
            end = spawn + int(np.searchsorted(d, span))
            if spawn - last < headway or any(spawn <= b and end >= a for a, b in closed):
                continue
            last = spawn
            x = -car_w + d[: end - spawn] if direction > 0 else w + car_w - d[: end - spawn]
            movers += tracks.mover(spawn, x, np.full(len(x), geo.lanes[lane]), n, sprite, Z_CAR)
    return movers
