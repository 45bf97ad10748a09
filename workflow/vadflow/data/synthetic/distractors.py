"""Near-miss distractors for normal videos (docs/datasets.md §4.3).

Each looks like part of an anomaly for a moment (fast motion, a stop, a light burst, two
people or a crowd together) but lacks what defines it over several clips, so single-frame
or single-clip thresholds raise false alarms.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from vadflow.data.synthetic.layers import Z_CAR, Layer, car_sprite, pedestrian_sprite
from vadflow.data.synthetic.scene import CAR_SPEED, LANE_DIR, Geometry, Staging, walker
from vadflow.data.synthetic.tracks import glow, mover, path_mover, span

HEADLIGHT = np.array([1.0, 1.0, 0.85], np.float32)


def jogger(rng: np.random.Generator, geo: Geometry, n: int, fps: int) -> Staging:
    """A pedestrian crossing at twice walking speed."""
    return Staging(walker(rng, geo, rng.uniform(-0.2, 0.8) * n, n, speed=2 * geo.walk_speed(rng)))


def _cosine_ramp(u: np.ndarray) -> np.ndarray:
    return (1 - np.cos(np.pi * np.clip(u, 0, 1))) / 2


def braking_car(rng: np.random.Generator, geo: Geometry, n: int, fps: int) -> Staging:
    """A car brakes smoothly to a stop, waits, and pulls away smoothly."""
    s, w = geo.scale, geo.width
    lane = int(rng.integers(2))
    direction = LANE_DIR[lane]
    v = rng.uniform(*CAR_SPEED) * s
    car_w = max(6, round(24 * s))
    brake, wait, pull = rng.uniform(1, 2) * fps, rng.uniform(1, 3) * fps, rng.uniform(1.5, 2.5) * fps
    stop_x, t_stop = rng.uniform(0.3, 0.7) * w, rng.uniform(0.2, 0.7) * n
    f = span(t_stop - brake - 2 * w / v, t_stop + wait + pull + 2 * w / v)
    tau = f - t_stop
    speed = v * np.where(tau < 0, _cosine_ramp(-tau / brake), _cosine_ramp((tau - wait) / pull))
    travelled = np.cumsum(speed)
    x = stop_x + direction * (travelled - np.interp(t_stop, f, travelled))
    seen = np.flatnonzero(np.abs(x - w / 2) <= w / 2 + car_w)
    f, x = f[seen[0] : seen[-1] + 1], x[seen[0] : seen[-1] + 1]
    layers = mover(f[0], x, np.full(len(x), geo.lanes[lane]), n, car_sprite(rng, s), Z_CAR)
    return Staging(layers, [(lane, f[0] - fps, f[-1] + fps)])


def headlight_flicker(rng: np.random.Generator, geo: Geometry, n: int, fps: int) -> Staging:
    """A parked car's lights flicker on and off for one to two and a half seconds."""
    s = geo.scale
    x, y = geo.parked[int(rng.integers(len(geo.parked)))]
    car_w = max(6, round(24 * s))
    duration = rng.uniform(1, 2.5) * fps
    t0 = rng.uniform(0, max(1.0, n - duration))
    f = span(t0, t0 + duration)
    # On/off runs of 2..fps/4 frames: a 4-8 Hz flicker, irregular like a loose contact.
    runs = rng.integers(2, max(3, fps // 4) + 1, len(f))
    state = np.repeat(np.arange(len(runs)) % 2 == 0, runs)[: len(f)]
    level = 150 * state
    layers: list[Layer] = []
    for end in (-1, 1):
        layers += glow(f, n, x + end * 0.45 * car_w, y, 3 * s + 1, level, HEADLIGHT)
    return Staging(layers)


def close_pass(rng: np.random.Generator, geo: Geometry, n: int, fps: int) -> Staging:
    """Two pedestrians walking towards each other pass within a pixel or two."""
    s, w = geo.scale, geo.width
    y = geo.walk_y(rng, upper=bool(rng.random() < 0.5))
    xm, t_meet = rng.uniform(0.3, 0.7) * w, rng.uniform(0.1, 0.9) * n
    layers: list[Layer] = []
    for side in (-1, 1):
        v = geo.walk_speed(rng)
        x_from, x_to = geo.exit_x(side), geo.exit_x(-side)
        times = [t_meet - abs(xm - x_from) / v, t_meet, t_meet + abs(x_to - xm) / v]
        yi = y + side * 0.6 * s
        layers += path_mover(times, [x_from, xm, x_to], [yi] * 3, n, pedestrian_sprite(rng, s))
    return Staging(layers)


def crowd_crossing(rng: np.random.Generator, geo: Geometry, n: int, fps: int) -> Staging:
    """Five to ten pedestrians walk along a sidewalk, cross the road together and walk on."""
    s, w = geo.scale, geo.width
    xg, t_cross = rng.uniform(0.25, 0.75) * w, rng.uniform(0.1, 0.8) * n
    down = bool(rng.random() < 0.5)
    side = 1 if rng.random() < 0.5 else -1
    layers: list[Layer] = []
    first, last = math.inf, -math.inf
    for _ in range(int(rng.integers(5, 11))):
        v = geo.walk_speed(rng)
        xc = xg + rng.normal(0, 0.05 * w)
        ya, yb = geo.walk_y(rng, upper=down), geo.walk_y(rng, upper=not down)
        t_a = t_cross + rng.uniform(0, 1) * fps
        t_b = t_a + abs(yb - ya) / v
        x_from, x_to = geo.exit_x(-side), geo.exit_x(side)
        times = [t_a - abs(xc - x_from) / v, t_a, t_b, t_b + abs(x_to - xc) / v]
        layers += path_mover(times, [x_from, xc, xc + side * 2 * s, x_to], [ya, ya, yb, yb], n, pedestrian_sprite(rng, s))
        first, last = min(first, t_a), max(last, t_b)
    return Staging(layers, [(lane, first - fps, last + fps) for lane in (0, 1)])


DistractorBuilder = Callable[[np.random.Generator, Geometry, int, int], Staging]

DISTRACTORS: dict[str, DistractorBuilder] = {
    "jogger": jogger,
    "braking_car": braking_car,
    "headlight_flicker": headlight_flicker,
    "close_pass": close_pass,
    "crowd_crossing": crowd_crossing,
}
