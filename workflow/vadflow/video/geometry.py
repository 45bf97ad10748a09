"""Clip indexing and spatial geometry (pure functions, no decoding)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def rnd(x: np.ndarray | float) -> np.ndarray:
    """MATLAB rounding: floor(x + 0.5), so 0.5 rounds up (numpy rounds half to even)."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


@dataclass(frozen=True)
class ClipSpec:
    """How a video is cut into clips and how each frame is resized and cropped.

    ``resize``: int = short side, or (height, width); None keeps the native size.
    ``crop``: int = square, or (height, width) centre crop; None keeps the resized frame.
    ``tail``: ``drop`` keeps complete clips only; ``pad`` adds a last clip that runs past
    the end, padded with the last frame. Either way a video shorter than one clip becomes
    one padded clip (docs/methods/mil.md §2, metrics.md §2 "K = 0 never reaches scoring").
    ``spread`` makes one clip per video of ``clip_len`` frames equispaced over the whole
    video (:func:`spread_indices`): the pretraining input of the Xception-LSTM (mil.md §8),
    never a timeline to score.
    ``region``: ``(top, left, h, w)`` cut from the native frame *before* resizing (the
    per-dataset crops of docs/methods/svdd_cae.md §2); None keeps the whole frame.
    """

    clip_len: int = 16
    stride: int = 16
    resize: int | tuple[int, int] | None = None
    crop: int | tuple[int, int] | None = None
    tail: str = "drop"
    region: tuple[int, int, int, int] | None = None

    @classmethod
    def from_cfg(cls, cfg: dict) -> "ClipSpec":
        def size(v):
            return tuple(v) if isinstance(v, (list, tuple)) else v

        region = cfg.get("region")
        return cls(int(cfg["clip_len"]), int(cfg["stride"]), size(cfg.get("resize")), size(cfg.get("crop")), cfg.get("tail", "drop"),
                   tuple(int(v) for v in region) if region else None)


TAILS = ("drop", "pad", "spread")


def spread_indices(n_frames: int, n: int = 16) -> np.ndarray:
    """``rnd(linspace(0, n_frames - 1, n))``: n frames equispaced over the whole video (mil.md A10)."""
    return rnd(np.linspace(0, max(0, n_frames - 1), n))


def n_clips(n_frames: int, clip_len: int, stride: int, tail: str = "drop") -> int:
    """Number of clips of a video of ``n_frames`` frames (at least 1 for any non-empty video)."""
    if n_frames <= 0:
        return 0
    if n_frames <= clip_len or tail == "spread":
        return 1
    span = n_frames - clip_len
    if tail == "drop":
        return span // stride + 1
    if tail == "pad":
        return -(-span // stride) + 1
    raise ValueError(f"unknown tail rule {tail!r} (expected one of {', '.join(TAILS)})")


def clip_frame_indices(n_frames: int, clip_len: int, stride: int, tail: str = "drop") -> np.ndarray:
    """``[K, clip_len]`` frame indices; positions past the end repeat the last frame."""
    k = n_clips(n_frames, clip_len, stride, tail)
    if tail == "spread" and k:
        return spread_indices(n_frames, clip_len)[None]
    idx = np.arange(k)[:, None] * stride + np.arange(clip_len)[None, :]
    return np.minimum(idx, n_frames - 1)


def resized_size(height: int, width: int, resize: int | tuple[int, int] | None) -> tuple[int, int]:
    if resize is None:
        return height, width
    if isinstance(resize, int):
        # Short side to `resize`, aspect kept (torchvision Resize(int) semantics).
        if height <= width:
            return resize, max(1, round(width * resize / height))
        return max(1, round(height * resize / width)), resize
    return int(resize[0]), int(resize[1])


def crop_box(height: int, width: int, crop: int | tuple[int, int] | None) -> tuple[int, int, int, int]:
    """Centre crop ``(top, left, h, w)`` of a ``height x width`` frame."""
    if crop is None:
        return 0, 0, height, width
    ch, cw = (crop, crop) if isinstance(crop, int) else (int(crop[0]), int(crop[1]))
    if ch > height or cw > width:
        raise ValueError(f"crop {ch}x{cw} is larger than the resized frame {height}x{width}; lower `crop` or raise `resize`")
    # C3D's Caffe crop [8:120, 29:141] of 128x171 is this rule: floor of half the margin.
    return (height - ch) // 2, (width - cw) // 2, ch, cw


def sampled_frames(n_frames: int, steps: list[int] | tuple[int, ...]) -> np.ndarray:
    """Indices on the global frame grid whose index is a multiple of one of ``steps``, sorted.

    The per-frame extractors of the real-time method (docs/methods/realtime.md §5) sample frames this
    way: steps [3, 10] hold every frame that adaptive sampling can keep (hard frames at % 3,
    soft and normal frames at % 10); [1] is every frame.
    """
    steps = [int(s) for s in steps]
    if not steps or min(steps) < 1:
        raise ValueError(f"frame steps must be positive integers, got {steps}")
    j = np.arange(max(0, int(n_frames)))
    keep = np.zeros(len(j), dtype=bool)
    for s in steps:
        keep |= j % s == 0
    return j[keep]


def split_steps(frame_steps: dict, split: str) -> list[int]:
    """The frame steps of ``split`` in a ``frame_steps`` mapping. Validation videos without their
    own entry get the union of the training and test steps (early stopping samples them like
    training videos; scoring them needs the test grid); any other split without one uses train's."""
    got = (frame_steps or {}).get(split)
    if not got and split == "val":
        got = sorted({int(s) for s in (frame_steps.get("train") or []) + (frame_steps.get("test") or [])})
    got = got or (frame_steps or {}).get("train")
    if not got:
        raise ValueError(f"frame_steps {frame_steps} has no steps for split {split!r} nor for train")
    return [int(s) for s in got]


def region_box(height: int, width: int, region: tuple[int, int, int, int] | None) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of ``region`` inside a native ``height x width`` frame; the whole
    frame for None. A region reaching past the frame is an error, not a silent clip."""
    if region is None:
        return 0, 0, height, width
    top, left, h, w = (int(v) for v in region)
    if top < 0 or left < 0 or h < 1 or w < 1 or top + h > height or left + w > width:
        raise ValueError(f"region (top, left, h, w) = {tuple(region)} does not fit in a {height}x{width} frame")
    return top, left, h, w
