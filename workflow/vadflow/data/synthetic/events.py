"""Anomaly events, one builder per class (docs/datasets.md §4.2).

A builder stages one :class:`Event`: the movers and effects that make it, timed so that
the action ramps in around ``event.mid_in`` and out around ``event.mid_out``. Anomalous
movers use the same sprites and walking speeds as everyone else; what differs is how
they move and, for the fire-like classes, the light. ``strength`` (0..1) scales the
amplitudes: jitter, run speed-up, light levels, smoke and paint opacity.

Frames may run before 0 or past the end (an event in progress at the first frame is
staged from its latent start); the layers are cut to the video.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from vadflow.data.synthetic.layers import Z_CAR, Z_GROUND, Z_LIGHT, Z_OBJECT, Layer, car_sprite, dot_sprite, pedestrian_sprite
from vadflow.data.synthetic.scene import Geometry, Staging, smooth_noise
from vadflow.data.synthetic.tracks import glow, mover, patch, path, path_mover, span
from vadflow.data.synthetic.timeline import Event

TAU = 2 * np.pi
WARM = np.array([1.0, 0.85, 0.55], np.float32)
FIRE = np.array([255, 150, 40], np.float32)
AMBER = np.array([1.0, 0.8, 0.25], np.float32)
SPRAY = ((250, 60, 160), (60, 230, 90), (250, 220, 40), (40, 200, 240), (245, 245, 245))


def fighting(rng: np.random.Generator, geo: Geometry, ev: Event, n: int, fps: int, strength: float) -> Staging:
    """Two to five pedestrians meet, scuffle (±3 px at 6-10 Hz, irregular) and walk apart.

    A few passers-by stop at a distance to watch, as they do at real fights: the fighters
    are tiny, and a random-init backbone sees the gathering better than the jitter.
    """
    s, w = geo.scale, geo.width
    layers: list[Layer] = []
    y = geo.walk_y(rng, upper=bool(rng.random() < 0.5))
    xm = rng.uniform(0.35, 0.65) * w
    freq = rng.uniform(6, 10)
    amp = 3.0 * s * strength
    for i in range(2 + int(rng.binomial(3, 0.4))):
        side = -1 if i % 2 == 0 else 1
        slot = xm + side * (1 + i // 2) * 2.5 * s
        v = geo.walk_speed(rng)
        x_from = slot + side * rng.uniform(0.3, 0.6) * w
        arrive = ev.onset - rng.uniform(0, 0.3) * fps
        leave = ev.offset + rng.uniform(0, 0.3) * fps
        x_to = geo.exit_x(side)
        yi = y + rng.uniform(-1, 1) * s
        f, x, yy = path(
            [arrive - abs(slot - x_from) / v, arrive, leave, leave + abs(x_to - slot) / v],
            [x_from, slot, slot, x_to],
            [yi] * 4,
        )
        a = amp * ev.envelope(f)
        phase = rng.uniform(0, TAU, 2)
        # Blows and dodges: a 6-10 Hz swing with random kicks, mostly at full reach.
        kick = rng.uniform(-0.6, 0.6, (2, len(f)))
        x = x + a * np.clip(np.sin(TAU * freq * f / fps + phase[0]) + kick[0], -1, 1)
        yy = yy + 0.8 * a * np.clip(np.sin(TAU * 0.8 * freq * f / fps + phase[1]) + kick[1], -1, 1)
        layers += mover(f[0], x, yy, n, pedestrian_sprite(rng, s))
    for _ in range(round(strength * int(rng.integers(2, 6)))):
        side = 1 if rng.random() < 0.5 else -1
        v = geo.walk_speed(rng)
        spot = xm + side * rng.uniform(8, 16) * s
        x_from, x_to = geo.exit_x(side), geo.exit_x(-side)
        stop = ev.onset + rng.uniform(0, 1) * ev.ramp
        go = ev.mid_out - ev.ramp / 2 + rng.uniform(0, 1) * ev.ramp
        yi = y + rng.uniform(-3, 3) * s
        layers += path_mover([stop - abs(spot - x_from) / v, stop, go, go + abs(x_to - spot) / v], [x_from, spot, spot, x_to], [yi] * 4, n, pedestrian_sprite(rng, s))
    return Staging(layers)


def _run(rng: np.random.Generator, geo: Geometry, ev: Event, start: tuple[float, float], heading: float, v: float, boost: float, n: int, tail: int) -> np.ndarray:
    """Per-frame ``[T, 2]`` positions of a fleeing runner from frame ``ceil(ev.mid_in)``.

    During the event the runner zig-zags at ``boost`` times walking speed inside the middle
    of the street; afterwards it slows to walking pace and heads off the nearer side. The
    path goes on ``tail`` frames after leaving the frame, for a chaser that lags behind.
    """
    w = geo.width
    x_lo, x_hi = 0.12 * w, 0.88 * w
    y_lo, y_hi = sum(geo.upper_walk) / 2, sum(geo.lower_walk) / 2
    x, y = start
    pts = []
    t, gone = math.ceil(ev.mid_in), 0
    while t < n and gone <= tail:
        speed = v * (1 + (boost - 1) * float(ev.envelope(t)))
        if t < ev.offset:
            heading += rng.normal(0, 0.15)
            if not x_lo <= x + speed * math.cos(heading) <= x_hi:
                heading = math.pi - heading
            if not y_lo <= y + speed * math.sin(heading) <= y_hi:
                heading = -heading
        else:
            target_y = min((sum(geo.upper_walk) / 2, sum(geo.lower_walk) / 2), key=lambda c: abs(c - y))
            target_x = geo.exit_x(math.cos(heading))
            goal = math.atan2(target_y - y, target_x - x)
            heading += 0.2 * math.atan2(math.sin(goal - heading), math.cos(goal - heading))
        x, y = x + speed * math.cos(heading), y + speed * math.sin(heading)
        pts.append((x, y))
        gone += t > ev.offset and not -0.1 * w <= x <= 1.1 * w
        t += 1
    return np.array(pts, np.float64).reshape(-1, 2)


def robbery(rng: np.random.Generator, geo: Geometry, ev: Event, n: int, fps: int, strength: float) -> Staging:
    """A walker is followed, robbed of a bag, and chases the robber, who runs at 3-4x speed."""
    s, w = geo.scale, geo.width
    side = 1 if rng.random() < 0.5 else -1
    y = geo.walk_y(rng, upper=bool(rng.random() < 0.5))
    x0 = rng.uniform(0.35, 0.65) * w
    v = geo.walk_speed(rng)
    lag = max(1, round(rng.uniform(0.3, 0.6) * fps))
    dist = rng.uniform(0.4, 0.7) * w
    t_from = ev.mid_in - dist / v
    # Before the snatch: the victim walks to x0, the robber catches up from behind.
    f_pre = span(t_from, math.ceil(ev.mid_in) - 1)
    victim_pre = np.interp(f_pre, [t_from, ev.mid_in], [x0 - side * dist, x0])
    robber_pre = np.interp(f_pre, [t_from, ev.mid_in], [x0 - side * (dist + 8 * s), x0 - side * 2 * s])
    run = _run(rng, geo, ev, (x0, y), 0.0 if side > 0 else math.pi, v, rng.uniform(3, 4) ** strength, n, lag)
    chase = np.concatenate([np.tile([[x0, y]], (min(lag, len(run)), 1)), run[: max(0, len(run) - lag)]])
    f0 = int(f_pre[0]) if len(f_pre) else math.ceil(ev.mid_in)
    layers: list[Layer] = []
    paths = {}
    for name, pre, route in (("victim", victim_pre, chase), ("robber", robber_pre, run)):
        xs = np.concatenate([pre, route[:, 0]])
        ys = np.concatenate([np.full(len(pre), y), route[:, 1]])
        paths[name] = (xs, ys)
        layers += mover(f0, xs, ys, n, pedestrian_sprite(rng, s))
    # The bag changes hands at the snatch.
    held = np.arange(len(paths["victim"][0])) < len(f_pre)
    bag_x = np.where(held, paths["victim"][0], paths["robber"][0]) + 2 * s
    bag_y = np.where(held, paths["victim"][1], paths["robber"][1]) + 1 * s
    layers += mover(f0, bag_x, bag_y, n, dot_sprite(rng.uniform(60, 240, 3), round(2 * s)), Z_OBJECT)
    return Staging(layers)


def _texture(rng: np.random.Generator, size: int, cell: float, contrast: float) -> np.ndarray:
    """A tileable ``size x size`` noise texture in 0..1 around 0.6."""
    return np.clip(0.6 + contrast * smooth_noise(rng, size, size, cell), 0.0, 1.0)


def explosion(rng: np.random.Generator, geo: Geometry, ev: Event, n: int, fps: int, strength: float) -> Staging:
    """A flash and a flickering fireball that expands fast and fades, then billowing smoke that lingers."""
    w, h, s = geo.width, geo.height, geo.scale
    cx = rng.uniform(0.3, 0.7) * w
    on_road = bool(rng.random() < 0.5)
    cy = rng.uniform(*geo.road) if on_road else geo.walk_y(rng, upper=bool(rng.random() < 0.5))
    rmax = rng.uniform(0.25, 0.35) * h * (0.6 + 0.4 * strength)
    f = span(ev.onset, ev.offset)
    age = f - ev.onset
    a = ev.envelope(f)
    burn = max(0.6 * fps, 0.35 * (ev.mid_out - ev.mid_in))
    radius = rmax * (1 - np.exp(-age / (0.15 * fps)))
    heat = strength * a * rng.uniform(0.7, 1.0, len(f)) * (0.5 + 0.5 * np.exp(-age / burn))
    size = 2 * math.ceil(1.5 * rmax) + 4
    flames = _texture(rng, size, 4 * s, 0.6)
    flame_shift = rng.integers(0, size, (len(f), 2))
    # Smoke contrasts with what it covers: pale over asphalt, dark over paving.
    smoke = np.full(3, rng.uniform(150, 175) if on_road else rng.uniform(35, 60), np.float32)
    billows = _texture(rng, size, 6 * s, 0.5)
    creep = np.stack([0.6 * s * age, 0.2 * s * age], axis=1).astype(int)
    ff = span(ev.onset, ev.onset + 0.6 * fps)
    layers = [
        *glow(
            f, n, cx, cy - 0.15 * h * np.minimum(1, age / (4 * fps)), rmax * (0.8 + 0.6 * np.minimum(1, age / (2 * fps))),
            0.85 * strength * a * np.minimum(1, age / (0.6 * fps)), smoke, sharpness=1.5, blend=True, z=Z_OBJECT, texture=billows, shift=creep,
        ),
        *glow(f, n, cx, cy, radius, heat, FIRE, sharpness=3.0, blend=True, texture=flames, shift=flame_shift),
        *glow(f, n, cx, cy, 0.5 * radius, 120 * heat, WARM, sharpness=2.0),
        *glow(ff, n, cx, cy, 1.5 * w, 70 * strength * ev.envelope(ff) * np.exp(-(ff - ev.onset) / (0.3 * fps)), WARM),
    ]
    return Staging(layers)


def road_accident(rng: np.random.Generator, geo: Geometry, ev: Event, n: int, fps: int, strength: float) -> Staging:
    """Two oncoming cars swerve together, stop dead overlapped, blink hazards, then drive off."""
    s, w = geo.scale, geo.width
    layers: list[Layer] = []
    car_w = max(6, round(24 * s))
    xc = rng.uniform(0.35, 0.65) * w
    hit = ev.mid_in
    swerve = max(ev.ramp, 0.5 * fps)
    go = ev.offset
    gap = geo.lanes[0] - geo.lanes[1]
    first, last = math.inf, -math.inf
    for lane, direction in ((0, 1), (1, -1)):
        v = rng.uniform(3, 5) * s
        x_hit = xc - direction * 0.35 * car_w
        x_from = x_hit - direction * (x_hit + car_w if direction > 0 else w + car_w - x_hit)
        t_from = hit - abs(x_hit - x_from) / v
        y_lane, y_hit = geo.lanes[lane], geo.lanes[0] - (0.25 if lane == 0 else 0.45) * gap
        drive_off = 1.5 * fps
        t_out = go + drive_off + (w + 2 * car_w) / v
        f = span(t_from, t_out)
        x = np.interp(f, [t_from, hit], [x_from, x_hit])
        after = np.maximum(f - go, 0)
        # Drive off: accelerate smoothly to speed v over drive_off frames, then cruise.
        x += direction * np.where(after < drive_off, 0.5 * v / drive_off * after**2, v * (after - drive_off / 2))
        jolt = 2 * s * strength * np.exp(-np.maximum(f - hit, 0) / (0.1 * fps)) * np.cos(TAU * 8 * (f - hit) / fps)
        x -= direction * np.where(f >= hit, jolt, 0)
        y = np.interp(f, [hit - swerve, hit, go, go + fps], [y_lane, y_hit, y_hit, y_lane])
        layers += mover(f[0], x, y, n, car_sprite(rng, s), Z_CAR)
        first, last = min(first, t_from), max(last, t_out)
        # Hazard lights blink at 2 Hz on both ends of the wreck while the cars stand.
        fs = span(hit, go)
        blink = (np.sin(TAU * 2 * fs / fps) > 0) * 140 * strength * ev.envelope(fs)
        for end in (-1, 1):
            layers += glow(fs, n, x_hit + end * car_w / 2, y_hit, 2.5 * s + 1, blink, AMBER)
    # Debris scatters from the impact and settles.
    fd = span(hit, go)
    for _ in range(int(round(6 * strength))):
        vel = rng.normal(0, 1.5 * s, 2)
        travel = 0.4 * fps * (1 - np.exp(-(fd - hit) / (0.4 * fps)))
        layers += mover(fd[0], xc + vel[0] * travel, geo.lanes[0] - 0.35 * gap + vel[1] * travel, n, dot_sprite(rng.uniform(40, 200, 3), round(1.5 * s)), Z_OBJECT)
    blocked = [(lane, first - fps, last + fps) for lane in (0, 1)]
    return Staging(layers, blocked)


def _graffiti(rng: np.random.Generator, h: int, w: int, k: int, thick: float, opacity: float) -> tuple[np.ndarray, np.ndarray]:
    """``k + 1`` cumulative states of a spray-painted patch: state ``i`` holds ``i`` strokes."""
    rgb = np.zeros((k + 1, h, w, 3), np.float32)
    alpha = np.zeros((k + 1, h, w, 1), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    for i in range(1, k + 1):
        (y0, x0), (y1, x1) = rng.uniform(0, 1, (2, 2)) * (h, w)
        d = np.array([y1 - y0, x1 - x0])
        u = np.clip(((yy - y0) * d[0] + (xx - x0) * d[1]) / max(float(d @ d), 1e-6), 0, 1)
        dist = np.hypot(yy - y0 - u * d[0], xx - x0 - u * d[1])
        stroke = np.clip(thick + 0.5 - dist, 0, 1)[..., None] * opacity
        rgb[i] = rgb[i - 1] * (1 - stroke) + np.asarray(SPRAY[int(rng.integers(len(SPRAY)))], np.float32) * stroke
        alpha[i] = alpha[i - 1] * (1 - stroke) + stroke
    # Colours were composited premultiplied by coverage; divide it back out for blending.
    rgb /= np.maximum(alpha, 1e-6)
    return rgb, alpha


def vandalism(rng: np.random.Generator, geo: Geometry, ev: Event, n: int, fps: int, strength: float) -> Staging:
    """A pedestrian stops by the wall and sprays a patch stroke by stroke; the paint stays."""
    s, w = geo.scale, geo.width
    layers: list[Layer] = []
    xv = rng.uniform(0.25, 0.75) * w
    y = geo.upper_walk[0] + 0.3 * (geo.upper_walk[1] - geo.upper_walk[0])
    v = geo.walk_speed(rng)
    side = 1 if rng.random() < 0.5 else -1
    x_from, x_to = geo.exit_x(-side), geo.exit_x(side)
    arrive = ev.onset - rng.uniform(0, 0.5) * fps
    leave = ev.offset + rng.uniform(0, 0.5) * fps
    f, x, yy = path([arrive - abs(xv - x_from) / v, arrive, leave, leave + abs(x_to - xv) / v], [x_from, xv, xv, x_to], [y] * 4)
    a = ev.envelope(f) * strength
    freq = rng.uniform(2, 4)
    x = x + 1.5 * s * a * np.sin(TAU * freq * f / fps)
    yy = yy + 1.0 * s * a * np.sin(TAU * 1.3 * freq * f / fps + 1.0)
    layers += mover(f[0], x, yy, n, pedestrian_sprite(rng, s))

    ph = max(2, round(geo.wall[1] - geo.wall[0]))
    pw = max(4, round(rng.uniform(0.18, 0.25) * w))
    top = round(geo.wall[0])
    left = round(xv + (2 * s if side < 0 else -pw - 2 * s))
    max_strokes = math.ceil((ev.offset - ev.onset) / (0.3 * fps)) + 1
    stroke_times = np.cumsum(rng.uniform(0.3, 0.6, max_strokes) * fps) + ev.onset
    stroke_times = stroke_times[stroke_times < ev.offset]
    rgb, alpha = _graffiti(rng, ph, pw, len(stroke_times), max(0.7, 1.2 * s), 0.95 * strength)
    fp = span(ev.onset, n)
    layers += patch(fp, n, top, left, rgb, alpha, np.searchsorted(stroke_times, fp, side="right"), np.ones(len(fp)), blend=True, z=Z_GROUND)
    return Staging(layers)


def protest(rng: np.random.Generator, geo: Geometry, ev: Event, n: int, fps: int, strength: float) -> Staging:
    """8-15 pedestrians converge on one spot, mill about agitated with banners, then disperse."""
    s, w, h = geo.scale, geo.width, geo.height
    layers: list[Layer] = []
    gx, gy = rng.uniform(0.35, 0.65) * w, rng.uniform(geo.road[0], geo.road[1])
    radius = rng.uniform(0.10, 0.15) * w
    first, last = math.inf, -math.inf
    for _ in range(int(rng.integers(8, 16))):
        v = geo.walk_speed(rng)
        edge = int(rng.integers(4))
        if edge < 2:  # along a sidewalk from either end
            start = (geo.exit_x(rng.choice([-1, 1])), geo.walk_y(rng, upper=edge == 0))
        else:  # from the top or bottom of the frame
            start = (rng.uniform(0.1, 0.9) * w, -0.1 * h if edge == 2 else 1.1 * h)
        end = (geo.exit_x(rng.choice([-1, 1])), geo.walk_y(rng, upper=bool(rng.random() < 0.5)))
        arrive = ev.onset + rng.uniform(0, 1) * ev.ramp
        leave = ev.mid_out - ev.ramp / 2 + rng.uniform(0, 1) * ev.ramp
        times, xs, ys = [arrive], [], []
        while times[-1] < leave:
            times.append(min(leave, times[-1] + rng.uniform(0.5, 1.0) * fps))
        for _ in times:
            r, th = radius * math.sqrt(rng.random()), rng.uniform(0, TAU)
            xs.append(gx + r * math.cos(th))
            ys.append(gy + 0.5 * r * math.sin(th))
        t_in = arrive - math.hypot(xs[0] - start[0], ys[0] - start[1]) / v
        t_out = times[-1] + math.hypot(end[0] - xs[-1], end[1] - ys[-1]) / v
        f, x, y = path([t_in, *times, t_out], [start[0], *xs, end[0]], [start[1], *ys, end[1]])
        a = ev.envelope(f) * strength
        freq, phase = rng.uniform(2, 4), rng.uniform(0, TAU)
        y = y + 1.5 * s * a * np.sin(TAU * freq * f / fps + phase)
        layers += mover(f[0], x, y, n, pedestrian_sprite(rng, s))
        if rng.random() < 0.35:
            banner = dot_sprite(rng.uniform(150, 250, 3), round(3 * s))
            banner.alpha *= strength
            bob = 1.5 * s * a * np.sin(TAU * 1.5 * f / fps + phase)
            layers += mover(f[0], x, y - 7 * s + bob, n, banner, Z_OBJECT)
        first, last = min(first, t_in), max(last, t_out)
    return Staging(layers, [(lane, first, last) for lane in (0, 1)])


def _flames(rng: np.random.Generator, h: int, w: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` flickering flame textures (additive colour and coverage), wide at the base."""
    yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    xx = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    body = np.clip(1 - np.abs(xx) / (0.3 + 0.7 * yy), 0, 1)
    alpha = np.stack([np.clip(body * (0.7 + 0.5 * smooth_noise(rng, h, w, max(1.0, h / 4))), 0, 1) for _ in range(k)])[..., None]
    rgb = np.empty((k, h, w, 3), np.float32)
    rgb[..., 0] = 255
    rgb[..., 1] = 90 + 130 * alpha[..., 0]
    rgb[..., 2] = 30
    return rgb, alpha


def molotov(rng: np.random.Generator, geo: Geometry, ev: Event, n: int, fps: int, strength: float) -> Staging:
    """A thrower lobs a burning bottle on a parabola; it bursts in a flash and leaves a fire."""
    s, w, h = geo.scale, geo.width, geo.height
    layers: list[Layer] = []
    upper = bool(rng.random() < 0.5)
    xt, yt = rng.uniform(0.2, 0.8) * w, geo.walk_y(rng, upper)
    side = 1 if xt < 0.5 * w else -1
    xl = float(np.clip(xt + side * rng.uniform(0.15, 0.3) * w, 0.15 * w, 0.85 * w))
    yl = rng.uniform(geo.road[0] + 2 * s, geo.road[1] - 2 * s)
    land = ev.mid_in
    throw = land - rng.uniform(0.5, 0.8) * fps
    v = geo.walk_speed(rng)
    x_from, x_to = geo.exit_x(side), geo.exit_x(-side)
    arrive = throw - 0.5 * fps
    f, x, y = path([arrive - abs(xt - x_from) / v, arrive, throw, throw + abs(x_to - xt) / (2 * v)], [x_from, xt, xt, x_to], [yt] * 4)
    layers += mover(f[0], x, y, n, pedestrian_sprite(rng, s))

    fb = span(throw, land)
    u = (fb - throw) / (land - throw)
    bx = xt + u * (xl - xt)
    by = (yt - 4 * s) + u * (yl - yt + 4 * s) - rng.uniform(0.15, 0.25) * h * 4 * u * (1 - u)
    layers += mover(fb[0], bx, by, n, dot_sprite((250, 160, 60), round(1.5 * s)), Z_OBJECT)
    layers += glow(fb, n, bx, by, 2 * s + 1, 120 * strength, WARM)

    ff = span(land, land + 0.6 * fps)
    layers += glow(ff, n, xl, yl, rng.uniform(0.16, 0.22) * h * (0.6 + 0.4 * strength), 230 * strength * np.exp(-(ff - land) / (0.12 * fps)), WARM, sharpness=2.0)
    fire = span(land, ev.offset)
    flicker = rng.uniform(0.6, 1.0, len(fire))
    a = ev.envelope(fire) * strength
    pw, ph = max(3, round(rng.uniform(0.14, 0.2) * w)), max(3, round(0.12 * h))
    rgb, alpha = _flames(rng, ph, pw, 6)
    layers += patch(fire, n, round(yl - 0.75 * ph), round(xl - pw / 2), rgb, alpha, rng.integers(0, 6, len(fire)), a * flicker, z=Z_LIGHT)
    layers += glow(fire, n, xl, yl - 0.3 * ph, 0.25 * h, 50 * a * flicker, WARM)
    lane = int(np.argmin(np.abs(np.asarray(geo.lanes) - yl)))
    return Staging(layers, [(lane, throw - fps, ev.offset + fps)])


EventBuilder = Callable[[np.random.Generator, Geometry, Event, int, int, float], Staging]

EVENTS: dict[str, EventBuilder] = {
    "Fighting": fighting,
    "Robbery": robbery,
    "Explosion": explosion,
    "RoadAccidents": road_accident,
    "Vandalism": vandalism,
    "Protest": protest,
    "MolotovBomb": molotov,
}
