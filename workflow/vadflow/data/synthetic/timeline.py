"""Video lengths and event timing: where events sit in a video and how strong they are over time."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Every event ramps in and out over this many seconds (docs/datasets.md §4.3).
RAMP_S = (0.3, 1.0)
# Probability that a video's first (last) event is already (still) running at its first (last) frame.
TOUCH_PROB = 0.1


@dataclass(frozen=True)
class Event:
    """One anomaly in a video.

    ``[start, end)`` (0-based, half-open) is what the annotation files record. The intensity
    ramps over ``ramp`` frames centred on ``mid_in`` and ``mid_out``, so the annotation
    covers exactly the frames at or above half intensity. An event that touches the first
    (last) frame is in progress there: its midpoint lies outside the video.
    """

    kind: str
    start: int
    end: int
    ramp: float
    mid_in: float
    mid_out: float

    def envelope(self, t: np.ndarray) -> np.ndarray:
        """Intensity in [0, 1] at frames ``t`` (smoothstep ramps, 0.5 at the midpoints)."""
        c = np.asarray(t, np.float64) + 0.5
        up = np.clip((c - self.mid_in) / self.ramp + 0.5, 0.0, 1.0)
        down = np.clip((self.mid_out - c) / self.ramp + 0.5, 0.0, 1.0)
        return _smoothstep(up) * _smoothstep(down)

    @property
    def onset(self) -> float:
        """First frame of the ramp-in: where the visible action begins."""
        return self.mid_in - self.ramp / 2

    @property
    def offset(self) -> float:
        """Last frame of the ramp-out: where the action is over."""
        return self.mid_out + self.ramp / 2


def _smoothstep(u: np.ndarray) -> np.ndarray:
    # Smoothstep keeps the value 0.5 at u = 0.5, so the annotation stays at the ramp midpoints.
    return u * u * (3.0 - 2.0 * u)


def n_frames(rng: np.random.Generator, duration_s: tuple[float, float], fps: int, short: bool, tiny: bool) -> int:
    """Frame count: ``tiny`` is under one 16-frame clip (8..15), ``short`` under two (17..31)."""
    if tiny:
        return int(rng.integers(8, 16))
    if short:
        return int(rng.integers(17, 32))
    lo, hi = sorted(duration_s)
    return max(32, round(rng.uniform(lo, hi) * fps))


def place_events(
    rng: np.random.Generator,
    kind: str,
    n: int,
    fps: int,
    fraction: tuple[float, float],
    two_event_prob: float,
    force_two: bool = False,
    force_touch_start: bool = False,
    force_touch_end: bool = False,
) -> list[Event]:
    """One or two non-overlapping events covering a ``fraction`` of ``n`` frames.

    Two events are separated by at least one second (less in very short videos) so that
    their ramps never merge. A forced second event or touch is honoured when the video is
    long enough.
    """
    lo, hi = sorted(fraction)
    min_len = max(2, min(n // 8, round(0.5 * fps)))
    total = int(np.clip(round(rng.uniform(lo, hi) * n), min_len, n - 1))
    want_two = rng.random() < two_event_prob or force_two
    if force_two:
        total = max(total, 2 * min_len)
    min_gap = max(1, min(fps, (n - total) // 2))
    k = 2 if want_two and total >= 2 * min_len and n - total >= min_gap else 1
    if k == 2:
        first = int(rng.integers(min_len, total - min_len + 1))
        lengths = [first, total - first]
    else:
        lengths = [total]

    touch_start = rng.random() < TOUCH_PROB or force_touch_start
    touch_end = rng.random() < TOUCH_PROB or force_touch_end
    if k == 1 and touch_start and touch_end:
        touch_end = False  # a single event never fills the whole video
    # Gaps before, between and after the events; a touching side gets none.
    free = n - total - (k - 1) * min_gap
    open_gaps = np.array([not touch_start, *([True] * (k - 1)), not touch_end])
    weights = rng.dirichlet(np.ones(len(open_gaps))) * open_gaps
    gaps = np.floor(weights / weights.sum() * free).astype(int)
    gaps[1:-1] += min_gap
    gaps[np.flatnonzero(open_gaps)[-1]] += n - total - int(gaps.sum())

    events: list[Event] = []
    pos = int(gaps[0])
    for i, length in enumerate(lengths):
        start, end = pos, pos + length
        room = [length / 2]
        if i > 0:
            room.append(gaps[i] / 2)
        if i < k - 1:
            room.append(gaps[i + 1] / 2)
        ramp = max(1.0, min(rng.uniform(*RAMP_S) * fps, *room))
        mid_in = -ramp if start == 0 else float(start)
        mid_out = n + ramp if end == n else float(end)
        events.append(Event(kind, start, end, ramp, mid_in, mid_out))
        pos = end + int(gaps[i + 1])
    return events
