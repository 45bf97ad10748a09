"""Extractors fed one decoded frame at a time (``vadflow watch``), matching offline extraction.

Both take native RGB frames in order and apply the same geometry, preprocessing and model as
the offline extractors, so the features of a finished video equal the cached ones up to the
batch shape (offline runs ``batch_size`` clips or frames at once, online one; CPU kernels may
round differently across batch shapes) and the storage dtype, which is reproduced here
(float16 round trip) so that methods see the values they were trained on.

* :class:`ClipGrid`: which clips of the offline grid each arriving frame completes.
* :class:`OnlineClips`: clip extractors (``clip_len``/``stride``, ``tail``); a clip's feature
  is ready when its last frame arrives.
* :class:`OnlineFrames`: per-sampled-frame extractors (``frame_steps``, features/sampled.py);
  a sampled frame's feature is ready at once.
"""
from __future__ import annotations

import contextlib
from collections import deque
from typing import Any, Mapping

import numpy as np
import torch

from vadflow.device import resolve_device
from vadflow.features.backbones import get_backbone
from vadflow.features.checkpoints import CheckpointError
from vadflow.video.decoder import transform_frame
from vadflow.video.geometry import ClipSpec, clip_frame_indices, n_clips, sampled_frames


class OnlineError(ValueError):
    """The extractor of a model cannot run online; the message says why."""


def _check_weights(bb: Any, cfg: Mapping[str, Any], recorded: str | None) -> None:
    """The weights file must be the one the model's features were extracted with."""
    have = bb.weights_id(cfg)
    if recorded and have != recorded:
        raise CheckpointError(f"features.{cfg.get('name')}.weights: the file {cfg.get('weights')} (sha256 {have[:12]}...) is not the one "
                              f"the model's training features were extracted with ({recorded[:12]}...)")


def _round(feats: np.ndarray, dtype: str) -> np.ndarray:
    """The values the feature store would hold (stored as ``dtype``, read back as float32)."""
    return feats.astype(dtype).astype(np.float32)


class _Model:
    def __init__(self, cfg: Mapping[str, Any], weights: str | None, device: str | None):
        self.cfg = dict(cfg)
        self.bb = get_backbone(self.cfg["backbone"])
        _check_weights(self.bb, self.cfg, weights)
        self.device = resolve_device(device or self.cfg.get("device", "auto"))
        self.model = self.bb.build(self.cfg).to(self.device).eval()
        self.dtype = str(self.cfg.get("dtype", "float16"))
        self.amp = bool(self.cfg.get("amp", True)) and self.device.type == "cuda"

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else contextlib.nullcontext()


class ClipGrid:
    """The offline clip grid (``clip_len``/``stride``/``tail``) over a growing frame count:
    which clips each new frame completes, and which only end of stream does."""

    def __init__(self, spec: ClipSpec):
        self.spec = spec
        self.n = 0  # frames seen
        self.done = 0  # clips completed

    def push(self) -> list[int]:
        """One more frame: the clips it completes (their last frame is this one)."""
        self.n += 1
        out = []
        while self.done * self.spec.stride + self.spec.clip_len <= self.n:
            out.append(self.done)
            self.done += 1
        return out

    def finish(self) -> list[int]:
        """End of stream: the clips completed only by padding (``tail: pad``, or a video shorter than a clip)."""
        total = n_clips(self.n, self.spec.clip_len, self.spec.stride, self.spec.tail)
        out = list(range(self.done, total))
        self.done = max(self.done, total)
        return out


class OnlineClips(_Model):
    """Clip features of a live frame sequence: :meth:`push` returns ``[(clip index, feature)]``
    of the clips the frame completes, :meth:`finish` those that end of stream completes
    (``tail: pad`` clips, or the one padded clip of a video shorter than ``clip_len``)."""

    def __init__(self, cfg: Mapping[str, Any], weights: str | None = None, device: str | None = None):
        if cfg.get("source", "extract") != "extract" or cfg.get("frames") or cfg.get("frame_steps"):
            raise OnlineError(f"extractor {cfg.get('name')!r} (source {cfg.get('source', 'extract')}) cannot run online: only clip "
                              "extractors that decode videos (source: extract) can")
        super().__init__(cfg, weights, device)
        self.spec = ClipSpec.from_cfg(self.cfg)
        if self.spec.tail == "spread":
            raise OnlineError(f"extractor {cfg.get('name')!r}: tail spread needs the whole video")
        self.grid = ClipGrid(self.spec)
        self.frames: deque[tuple[int, np.ndarray]] = deque()

    def _feature(self, clip: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(clip))[None].to(self.device)
        with torch.inference_mode(), self._autocast():
            out = self.model(self.bb.normalize(x, self.cfg)).float().cpu().numpy()[0]
        return _round(out, self.dtype)

    def push(self, frame: np.ndarray) -> list[tuple[int, np.ndarray]]:
        self.frames.append((self.grid.n, transform_frame(frame, self.spec)))
        out = []
        s, L = self.spec.stride, self.spec.clip_len
        for k in self.grid.push():
            clip = np.stack([f for j, f in self.frames if k * s <= j < k * s + L])
            out.append((k, self._feature(clip)))
            while self.frames and self.frames[0][0] < (k + 1) * s:
                self.frames.popleft()
        return out

    def finish(self) -> list[tuple[int, np.ndarray]]:
        """Clips that only end of stream completes (padded with the last frame), per the offline rule."""
        if self.grid.n == 0:
            return []
        idx = clip_frame_indices(self.grid.n, self.spec.clip_len, self.spec.stride, self.spec.tail)
        have = dict(self.frames)
        return [(k, self._feature(np.stack([have[int(j)] for j in idx[k]]))) for k in self.grid.finish()]


class OnlineFrames(_Model):
    """Per-sampled-frame features of a live frame sequence on the test grid (``frame_steps.test``):
    :meth:`push` (frame index, native RGB frame) returns the feature when the frame is sampled."""

    def __init__(self, cfg: Mapping[str, Any], weights: str | None = None, device: str | None = None, split: str = "test"):
        from vadflow.features.sampled import FrameInput, full_config, steps_for

        if not cfg.get("frame_steps"):
            raise OnlineError(f"extractor {cfg.get('name')!r} has no frame_steps: not a per-sampled-frame extractor")
        super().__init__(full_config(dict(cfg)), weights, device)
        self.input = FrameInput(self.cfg)
        self.steps = steps_for(self.cfg, split)
        self.prev: np.ndarray | None = None
        self.prev_j = -2

    def sampled(self, j: int) -> bool:
        return any(j % s == 0 for s in self.steps)

    def image(self, j: int, frame: np.ndarray) -> np.ndarray | None:
        """The CNN input of frame ``j`` when it is sampled (call for every frame, in order)."""
        img = self.input.image(frame, self.prev if self.prev_j == j - 1 else None) if self.sampled(j) else None
        self.prev, self.prev_j = frame, j
        return img

    def features(self, images: np.ndarray) -> np.ndarray:
        from vadflow.features.sampled import frame_forward

        return _round(frame_forward(self.model, self.bb, self.cfg, images, self.device), self.dtype)

    def push(self, j: int, frame: np.ndarray) -> np.ndarray | None:
        img = self.image(j, frame)
        return None if img is None else self.features(img[None])[0]

    def grid(self, n_frames: int) -> np.ndarray:
        return sampled_frames(n_frames, self.steps)
