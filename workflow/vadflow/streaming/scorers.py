"""Online scoring of a trained model, one decoded frame at a time (``vadflow watch``).

Each scorer keeps the state its method needs and emits frame scores as soon as they are final:

* ``realtime``: sigma on every ``test_stride``-th frame of the test grid, held in between, and
  the SAS accumulator updated every ``sas.every`` frames; every frame is emitted on arrival.
* per clip (``mlp``, ``mil``, ``lof``): a clip's score as soon as its last frame arrives.
  MLP scores each clip alone, so its stream equals the offline scores. LOF equals them when the
  score job's min-max constants are found (scores.h5 attrs). MIL offline scores 32 segments
  spanning the whole video, which a stream cannot know: online, each clip is a one-clip bag
  (the same segment rule applied to that clip), and the difference is reported, not hidden.
* windows (``adnet``, ``edtcn``; ``ador`` over its encoded clips z, streaming/ador.py): the last W clips; a window every W/2 clips. ``causal`` (default)
  emits the newest half of each window from that window alone, so a clip waits at most W/2
  clips; ``exact`` emits the older half averaged over the two windows that hold it, exactly the
  offline merge, one window later. At end of stream the remaining clips get the offline merge.

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
from vadflow.streaming.objects import OnlineBag

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


class TemporalWindows:
    """What :class:`Windowed` runs for ADNet / ED-TCN: scaled clip features, the model's windows."""

    def __init__(self, model: Any):
        self.model = model
        self.width = model._width(model.net)

    def row(self, feature: np.ndarray) -> np.ndarray:
        return self.model.scaler(feature[None])[0].astype(np.float32)

    def run(self, xs: list[np.ndarray], ms: list[np.ndarray]) -> np.ndarray:
        """Last-stage outputs of the windows ``xs`` [W, D] with masks ``ms`` [W] -> [len(xs), W]."""
        import torch

        m = self.model
        device = next(m.net.parameters()).device
        xt, mt, _ = m._batch(xs, ms, [np.zeros_like(k) for k in ms], device)
        m.net.eval()
        with torch.inference_mode():
            return m.net(xt, mt)[-1].cpu().numpy()


class Windowed:
    """Half-overlapping windows of W clips over the stream (specs/adnet.md §4), see module doc.

    ``net`` adapts a model's rows and windows (default :class:`TemporalWindows`; ADOR's z windows:
    streaming/ador.py), so every windowed kind shares this bookkeeping."""

    def __init__(self, model: Any, mode: str = "causal", net: Any | None = None):
        from vadflow.methods import windows

        if mode not in WINDOW_MODES:
            raise ValueError(f"window mode must be one of {WINDOW_MODES}, got {mode!r}")
        self.w = windows
        self.model, self.mode = model, mode
        self.net = net or TemporalWindows(model)
        self.width = self.net.width
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
        return self.net.run(xs, ms)

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
        self.feats[k] = self.net.row(feature)
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


# ----------------------------------------------------------------------------- scorers
class ClipScorer:
    """A clip-feature method on a live stream: online clip extractor -> clip logic -> frame mapper."""

    columns: tuple[str, ...] = ()
    alarm_column = "score"

    def __init__(self, model: Method, extractor: Any, logic: Any):
        self.model, self.extractor, self.logic = model, extractor, logic
        spec = extractor.spec
        self.mapper = FrameMapper(spec.clip_len, spec.stride, model.cfg.get("mapping", "average"))
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
        for k, feat in self.extractor.push(frame):
            out += self._emit(self.logic.push(k, feat))
        return out

    def finish(self) -> list[Emission]:
        out = []
        for k, feat in self.extractor.finish():
            out += self._emit(self.logic.push(k, feat))
        out += self._emit(self.logic.finish())
        tail = self.mapper.finish(self.n)
        if tail is not None and len(tail.scores):
            out.append(tail)
        return out


class RealtimeScorer:
    """The real-time method: per-frame sigma (held) and the SAS, emitted on every frame's arrival."""

    columns = ("sas",)
    alarm_column = "sas"

    def __init__(self, model: Any, rgb: Any, flow: Any | None, bag: OnlineBag | None = None):
        from vadflow.sas import SAS

        if model.cfg.get("detections") and bag is None:
            raise MethodError(f"realtime {model.cfg.get('name')!r} reads a bag of objects (detections {model.cfg['detections']!r}), "
                              "but its model.pt records no detector")
        self.model, self.rgb, self.flow, self.bag = model, rgb, flow, bag
        self.stride = int(model.cfg["test_stride"])
        self.sas = SAS.from_cfg(model.cfg.get("sas"))
        self.every = max(1, int(self.sas.every))
        self.sigma = math.nan

    def push(self, j: int, frame: np.ndarray) -> list[Emission]:
        flow_img = self.flow.image(j, frame) if self.flow is not None else None
        boo = self.bag.push(frame, j % self.stride == 0) if self.bag is not None else None
        if j % self.stride == 0:
            if not self.rgb.sampled(j):
                raise MethodError(f"realtime: frame {j} is scored (test_stride {self.stride}) but not on the rgb extractor's test grid")
            parts = [self.rgb.push(j, frame)]
            if self.flow is not None:
                parts.append(self.flow.features(flow_img[None])[0])
            if boo is not None:
                parts.append(boo)
            x = self.model.assemble(*parts)
            self.sigma = float(self.model.sigma(x[None])[0])
        s = self.sas.update(self.sigma) if j % self.every == 0 else self.sas.value
        return [Emission(j, np.array([self.sigma]), {"sas": np.array([s])})]

    def finish(self) -> list[Emission]:
        return []
