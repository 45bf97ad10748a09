"""Online scoring of a trained model, one decoded frame at a time (``vadflow watch``).

The method says how it scores online (:mod:`vadflow.methods.online`); these classes run it and
emit frame scores as soon as they are final:

* :class:`FrameScorer` (a :class:`~vadflow.methods.online.FramePlan`, the real-time method):
  sigma on every ``stride``-th frame, held in between, and the SAS accumulator updated every
  ``sas.every`` frames; every frame is emitted on arrival.
* :class:`ClipScorer` (a :class:`~vadflow.methods.online.ClipPlan`): each completed clip
  becomes a row (:class:`ClipRows`: the clip's feature and/or its centre frame's objects,
  through the plan's ``row``), then either

  - per clip (:class:`PerClip`: MLP, MIL, LOF): a clip's score as soon as its last frame
    arrives. MLP scores each clip alone, so its stream equals the offline scores; so does LOF,
    whose min-max constants travel in model.pt. MIL offline scores 32 segments spanning the
    whole video, which a stream cannot know: online each clip is a one-clip bag, and the
    difference is reported, not hidden;
  - or windows (:class:`Windowed`: ADNet, ED-TCN, ADOR over its encoded clips z): the last W
    rows; a window every W/2 clips. ``causal`` (default) emits the newest half of each window
    from that window alone, so a clip waits at most W/2 clips; ``exact`` emits the older half
    averaged over the two windows that hold it, exactly the offline merge, one window later.
    At end of stream the remaining clips get the offline merge.

Clip scores become frame scores with the offline clip -> frame mapping, emitted once no later
clip can change them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vadflow.methods.base import Method, MethodError
from vadflow.methods.mapping import clip_to_frames
from vadflow.methods.online import FramePlan
from vadflow.streaming.objects import OnlineBag, OnlineDetector

WINDOW_MODES = ("causal", "exact")


@dataclass
class Emission:
    """Frame scores of frames ``start .. start + len(scores) - 1``; ``extra`` columns align with them."""

    start: int
    scores: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


class FrameMapper:
    """Incremental :func:`vadflow.methods.mapping.clip_to_frames`: clip scores in order in, final frame scores out."""

    def __init__(self, clip_len: int, stride: int, mapping: str = "average"):
        self.clip_len, self.stride, self.mapping = int(clip_len), int(stride), mapping
        self.scores: list[float] = []
        self.emitted = 0  # frames emitted so far
        self.back = max(1, -(-self.clip_len // self.stride))  # clips that can cover one frame

    def push(self, score: float) -> Emission | None:
        """Clip k = len(scores) arrives: frames [k*stride, (k+1)*stride) are final (no later clip starts before them)."""
        self.scores.append(float(score))
        k = len(self.scores) - 1
        i0 = max(0, k - self.back + 1)
        n = (k + 1 - i0) * self.stride
        values = clip_to_frames(np.asarray(self.scores[i0:]), n, self.clip_len, self.stride, self.mapping)
        start = k * self.stride
        out = values[start - i0 * self.stride :]
        self.emitted = start + len(out)
        return Emission(start, out)

    def finish(self, n_frames: int) -> Emission | None:
        """End of stream after ``n_frames`` frames: the frames after the last clip's stride cell."""
        if not self.scores or n_frames <= self.emitted:
            return None
        values = clip_to_frames(np.asarray(self.scores), n_frames, self.clip_len, self.stride, self.mapping)
        out = Emission(self.emitted, values[self.emitted :])
        self.emitted = n_frames
        return out


# ----------------------------------------------------------------------------- clip-level logic
class PerClip:
    """Score every clip on its own: ``fn([1, D]) -> [1]``."""

    def __init__(self, fn):
        self.fn = fn

    def push(self, k: int, feature: np.ndarray) -> list[tuple[int, float]]:
        return [(k, float(self.fn(feature[None])[0]))]

    def finish(self) -> list[tuple[int, float]]:
        return []


class Windowed:
    """Half-overlapping windows of W rows over the stream (docs/methods/adnet.md §4), see module doc.

    ``run(xs, ms)`` scores cut windows (rows [W, D], masks [W]) -> [len(xs), W]: the method's
    own window scoring (``ClipPlan.window_scores``), so every windowed kind shares this bookkeeping."""

    def __init__(self, width: int, run: Any, mode: str = "causal"):
        from vadflow.methods import windows

        if mode not in WINDOW_MODES:
            raise ValueError(f"window mode must be one of {WINDOW_MODES}, got {mode!r}")
        self.w = windows
        self.mode = mode
        self.run = run
        self.width = int(width)
        self.half = self.width // 2
        self.feats: dict[int, np.ndarray] = {}
        self.n = 0  # clips received
        self.k = 0  # next window
        self.emitted = 0  # clips emitted
        self.sums: dict[int, float] = {}
        self.counts: dict[int, int] = {}

    def _run(self, starts: list[int], n: int) -> np.ndarray:
        """Outputs of the windows starting at ``starts`` over clips [0, n) (padded at the end), [len(starts), W]."""
        width = self.width or n
        x = np.stack([self.feats[i] for i in range(min(starts), min(n, max(starts) + width))])
        base = min(starts)
        ones = np.ones(len(x), np.float32)
        xs = [self.w.cut(x, s - base, width, 0.0) for s in starts]
        ms = [self.w.cut(ones, s - base, width, 0.0) for s in starts]
        return self.run(xs, ms)

    def _add(self, start: int, row: np.ndarray, n: int) -> None:
        for i in range(start, min(start + (self.width or n), n)):
            self.sums[i] = self.sums.get(i, 0.0) + float(row[i - start])
            self.counts[i] = self.counts.get(i, 0) + 1

    def _take(self, lo: int, hi: int) -> list[tuple[int, float]]:
        out = [(i, self.sums.pop(i) / self.counts.pop(i)) for i in range(lo, hi)]
        self.emitted = hi
        for i in [i for i in self.feats if i < self.emitted - self.width]:
            del self.feats[i]
        return out

    def push(self, k: int, feature: np.ndarray) -> list[tuple[int, float]]:
        self.feats[k] = feature
        self.n = k + 1
        if not self.width:
            return []  # one window over the whole video: only end of stream can score it
        out: list[tuple[int, float]] = []
        while self.k * self.half + self.width <= self.n:
            s = self.k * self.half
            row = self._run([s], self.n)[0]
            if self.mode == "exact":
                self._add(s, row, self.n)
                out += self._take(self.emitted, s + self.half)
            else:
                lo = 0 if self.k == 0 else s + self.half
                for i in range(lo, s + self.width):
                    self.sums[i], self.counts[i] = float(row[i - s]), 1
                out += self._take(self.emitted, s + self.width)
            self.k += 1
        return out

    def finish(self) -> list[tuple[int, float]]:
        """End of stream: the windows the offline split holds beyond those run, merged as offline."""
        n = self.n
        if n == 0 or self.emitted >= n:
            return []
        starts = [int(s) for s in self.w.window_starts(n, self.width) if s >= self.k * self.half]
        if self.mode == "causal":
            # No window run so far reaches the pending clips: they get the offline merge of the rest.
            self.sums, self.counts = {}, {}
        if starts:
            for s, row in zip(starts, self._run(starts, n)):
                self._add(s, row, n)
        return self._take(self.emitted, n)


# ----------------------------------------------------------------------------- clip rows
class ClipRows:
    """The rows of a live stream's clips for a :class:`~vadflow.methods.online.ClipPlan`:
    :meth:`push` (every frame, in order) and :meth:`finish` return ``[(clip index, row)]`` of
    the clips completed.

    ``maps`` is the online extractor of the method's clip features (None when the plan reads
    none: then only its clip ``grid`` counts clips). ``objects`` is the model's detector fed
    every frame; a clip's objects are the ones of its centre frame ``k * stride + clip_len // 2``
    (detection.base.centre_frames), which arrives before the clip's last frame. A clip that
    only end of stream completes (``tail: pad``, a video shorter than a clip) has its centre
    clamped to the last frame, as offline.
    """

    def __init__(self, row: Any, spec: Any, grid: Any, maps: Any | None = None, objects: OnlineDetector | None = None):
        self.row, self.spec, self.grid, self.maps, self.objects = row, spec, grid, maps, objects
        self.centred: dict[int, Any] = {}  # objects of clips whose centre frame has passed
        self.next = 0  # the clip whose centre frame comes next
        self.j = -1  # last frame index

    def push(self, frame: np.ndarray) -> list[tuple[int, np.ndarray]]:
        self.j += 1
        if self.objects is not None:
            self.objects.push(frame)  # every frame: background subtraction needs them all in order
            if self.j == self.next * self.spec.stride + self.spec.clip_len // 2:
                self.centred[self.next] = self.objects.objects()
                self.next += 1
        done = self.maps.push(frame) if self.maps is not None else [(k, None) for k in self.grid.push()]
        return [(k, self._row(k, f)) for k, f in done]

    def finish(self) -> list[tuple[int, np.ndarray]]:
        done = self.maps.finish() if self.maps is not None else [(k, None) for k in self.grid.finish()]
        return [(k, self._row(k, f)) for k, f in done]

    def _row(self, k: int, feature: np.ndarray | None) -> np.ndarray:
        if self.objects is None:
            return self.row(feature)
        # A centre past the end (padded clip) is the last frame, which was the last one pushed.
        objs = self.centred.pop(k) if k in self.centred else self.objects.objects()
        return self.row(feature, objs)


# ----------------------------------------------------------------------------- scorers
class ClipScorer:
    """A clip method on a live stream: clip rows -> clip logic (per clip or windows) -> frame mapper."""

    columns: tuple[str, ...] = ()
    alarm_column = "score"

    def __init__(self, model: Method, rows: ClipRows, logic: Any, mapping: str = "average"):
        self.model, self.rows, self.logic = model, rows, logic
        self.mapper = FrameMapper(rows.spec.clip_len, rows.spec.stride, mapping)
        self.n = 0

    def _emit(self, clips: list[tuple[int, float]]) -> list[Emission]:
        out = []
        for _, s in clips:
            e = self.mapper.push(s)
            if e is not None and len(e.scores):
                out.append(e)
        return out

    def push(self, j: int, frame: np.ndarray) -> list[Emission]:
        self.n = j + 1
        out = []
        for k, row in self.rows.push(frame):
            out += self._emit(self.logic.push(k, row))
        return out

    def finish(self) -> list[Emission]:
        out = []
        for k, row in self.rows.finish():
            out += self._emit(self.logic.push(k, row))
        out += self._emit(self.logic.finish())
        tail = self.mapper.finish(self.n)
        if tail is not None and len(tail.scores):
            out.append(tail)
        return out


class FrameScorer:
    """A :class:`~vadflow.methods.online.FramePlan` on a live stream: per-frame sigma (held) and
    the SAS, emitted on every frame's arrival. ``streams`` are the online per-sampled-frame
    extractors of the method's features, the first one's test grid deciding the scored frames."""

    columns = ("sas",)
    alarm_column = "sas"

    def __init__(self, model: Any, plan: FramePlan, streams: list[Any], bag: OnlineBag | None = None):
        from vadflow.sas import SAS

        if plan.bag_conf is not None and bag is None:
            raise MethodError(f"{model.kind} {model.cfg.get('name')!r} reads a bag of objects, but its model.pt records no detector")
        self.model, self.plan, self.streams, self.bag = model, plan, list(streams), bag
        self.stride = int(plan.stride)
        self.sas = SAS.from_cfg(plan.sas)
        self.every = max(1, int(self.sas.every))
        self.sigma = math.nan

    def push(self, j: int, frame: np.ndarray) -> list[Emission]:
        first, *others = self.streams
        images = [s.image(j, frame) for s in others]  # every frame: a flow image needs its predecessor
        boo = self.bag.push(frame, j % self.stride == 0) if self.bag is not None else None
        if j % self.stride == 0:
            if not first.sampled(j):
                raise MethodError(f"{self.model.kind}: frame {j} is scored (stride {self.stride}) but not on the "
                                  f"{first.cfg.get('name')!r} extractor's test grid")
            parts = [first.push(j, frame)] + [s.features(img[None])[0] for s, img in zip(others, images)]
            if boo is not None:
                parts.append(boo)
            self.sigma = float(self.plan.score(parts))
        s = self.sas.update(self.sigma) if j % self.every == 0 else self.sas.value
        return [Emission(j, np.array([self.sigma]), {"sas": np.array([s])})]

    def finish(self) -> list[Emission]:
        return []
