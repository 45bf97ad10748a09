"""Plan one video from its random stream, then render its frames.

Planning draws every random number (length, street, events, traffic, lighting, the noise
seed) in a fixed order from the video's own generator. Rendering is then deterministic,
and can leave the event layers out to show the same street without the anomaly.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from vadflow.data.synthetic import timeline
from vadflow.data.synthetic.distractors import DISTRACTORS
from vadflow.data.synthetic.events import EVENTS
from vadflow.data.synthetic.layers import Layer
from vadflow.data.synthetic.layout import VideoSpec
from vadflow.data.synthetic.scene import Staging, ambient_cars, ambient_walkers, background, illumination, make_geometry

NOISE_SIGMA = (2.0, 4.0)  # sensor noise, grey levels


@dataclass
class VideoPlan:
    n_frames: int
    background: np.ndarray  # [H, W, 3] float32
    gain: np.ndarray  # [n_frames] global illumination
    noise_sigma: float
    noise_seed: int
    layers: list[Layer]  # street life and the distractor
    event_layers: list[Layer]
    events: list[timeline.Event]
    distractor: str | None


def plan_video(rng: np.random.Generator, spec: VideoSpec, cfg: Mapping[str, Any]) -> VideoPlan:
    fps = int(cfg["fps"])
    short = rng.random() < cfg["short_video_prob"]
    n = timeline.n_frames(rng, cfg["duration_s"], fps, short, spec.tiny)
    camera = np.random.Generator(np.random.PCG64(spec.camera_seed))
    geo = make_geometry(camera, int(cfg["height"]), int(cfg["width"]))
    bg, geo = background(camera, geo)
    sigma = float(camera.uniform(*NOISE_SIGMA))  # sensor noise belongs to the camera

    events: list[timeline.Event] = []
    staged = Staging()
    event_layers: list[Layer] = []
    distractor = None
    if spec.anomalous:
        events = timeline.place_events(
            rng, spec.cls, n, fps, cfg["event_fraction"], cfg["two_event_prob"], spec.force_two, spec.force_touch_start, spec.force_touch_end
        )
        for ev in events:
            st = EVENTS[spec.cls](rng, geo, ev, n, fps, float(cfg["strength"]))
            event_layers += st.layers
            staged.blocked += st.blocked
    elif rng.random() < cfg["distractor_prob"]:
        distractor = list(DISTRACTORS)[int(rng.integers(len(DISTRACTORS)))]
        staged = DISTRACTORS[distractor](rng, geo, n, fps)

    layers = staged.layers + ambient_walkers(rng, geo, n, fps) + ambient_cars(rng, geo, n, fps, staged.blocked)
    gain = illumination(rng, n, fps)
    noise_seed = int(rng.integers(2**63))
    return VideoPlan(n, bg, gain, sigma, noise_seed, layers, event_layers, events, distractor)


def render_frames(plan: VideoPlan, include_events: bool = True) -> Iterator[np.ndarray]:
    """Yield the ``[H, W, 3]`` uint8 RGB frames (the same noise with or without events)."""
    n = plan.n_frames
    layers = sorted(plan.layers + (plan.event_layers if include_events else []), key=lambda layer: layer.z)
    active: list[list[Layer]] = [[] for _ in range(n)]
    for layer in layers:
        for t in range(max(layer.t0, 0), min(layer.t1, n)):
            active[t].append(layer)
    noise = np.random.Generator(np.random.PCG64(plan.noise_seed))
    h, w = plan.background.shape[:2]
    canvas = np.empty_like(plan.background)
    for t in range(n):
        canvas[:] = plan.background
        for layer in active[t]:
            layer.draw(canvas, t)
        canvas *= plan.gain[t]
        canvas += (plan.noise_sigma * noise.standard_normal((h, w), dtype=np.float32))[..., None]
        np.clip(canvas, 0.0, 255.0, out=canvas)
        yield np.rint(canvas).astype(np.uint8)
