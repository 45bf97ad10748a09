"""Per-sampled-frame features of a 2-D backbone (the real-time method's streams, docs/methods/realtime.md §2, §6).

An extractor with ``frame_steps`` runs its frame CNN on single frames of the global frame grid,
not on clips: frame j of a video is sampled when j is a multiple of one of the steps listed for
the video's split (``frame_steps: {train: [3, 10], test: [1]}``: every frame adaptive sampling
can keep on training videos, every frame of test videos). ``input`` picks what the CNN sees:

* ``rgb``: the decoded frame, resized/cropped like any extractor's frames;
* ``flow_image``: the Farnebäck flow image of frames (j-1, j) at native resolution
  (:func:`vadflow.video.flow.flow_image`), then resized; frame 0, without a predecessor, is black.

The output is one ``[n_sampled, D]`` dataset per video (layout ``sampled_frames``, attr ``frame_steps``),
written by the same shard runner, per-video cache, receipts and merge as clip extraction
(:mod:`vadflow.features.shards`). Stage 1
of the real-time method trains on these cached GAP features, which is exact because its
backbones are frozen and nothing is augmented (docs/methods/realtime.md §6).
"""
from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from vadflow.features.backbones import get_backbone
from vadflow.video.decoder import DecodeError, VideoInfo, iter_frames_at, transform_frame
from vadflow.video.geometry import ClipSpec, sampled_frames, split_steps

log = logging.getLogger(__name__)

INPUTS = ("rgb", "flow_image")
LAYOUT = "sampled_frames"


def steps_for(cfg: dict[str, Any], split: str) -> list[int]:
    """The frame steps of ``split`` (:func:`vadflow.video.geometry.split_steps`)."""
    try:
        return split_steps(cfg.get("frame_steps") or {}, split)
    except ValueError as exc:
        raise ValueError(f"features.{cfg.get('name')}: {exc}") from None


class FrameInput:
    """Turns the native RGB frames of one video, fed in order, into the CNN input of each
    sampled frame (uint8 ``[h, w, 3]``, handed to the backbone's preprocessing as RGB).

    The flow image is BGR; like the authors' notebook it is fed as if it were RGB (docs/methods/realtime.md §2).
    """

    def __init__(self, cfg: dict[str, Any]):
        self.mode = cfg.get("input", "rgb")
        if self.mode not in INPUTS:
            raise ValueError(f"features.{cfg.get('name')}.input must be one of {INPUTS}, got {self.mode!r}")
        self.spec = ClipSpec(1, 1, _size(cfg.get("resize")), _size(cfg.get("crop")))

    def needed(self, sampled: np.ndarray) -> np.ndarray:
        """Frames to decode for the ``sampled`` ones (the flow image also needs each predecessor)."""
        if self.mode == "rgb":
            return sampled
        return np.union1d(sampled, np.maximum(sampled - 1, 0))

    def image(self, frame: np.ndarray, prev: np.ndarray | None) -> np.ndarray:
        """The input image of ``frame``; ``prev`` is the native frame before it (None for frame 0)."""
        if self.mode == "flow_image":
            from vadflow.video.flow import flow_image, flow_to_image

            # Frame 0 has no predecessor: no motion, a black image. (Farnebäck of a frame with
            # itself is not exactly zero, and the per-frame min-max would blow its noise up.)
            frame = (flow_to_image(np.zeros((*frame.shape[:2], 2), np.float32), size=None) if prev is None
                     else flow_image(prev, frame, size=None))
        return transform_frame(frame, self.spec)


def _size(v: Any) -> Any:
    return tuple(v) if isinstance(v, (list, tuple)) else v


def full_config(cfg: dict[str, Any]) -> dict[str, Any]:
    bb = get_backbone(cfg["backbone"])
    out = {**bb.defaults, **{k: v for k, v in cfg.items() if v is not None}}
    if "crop" not in cfg or cfg.get("crop") is None:
        out.pop("crop", None)  # frames are squashed to `resize`, no crop (docs/methods/realtime.md §2), unless a crop is set
    return out


def frame_forward(model: torch.nn.Module, bb: Any, cfg: dict[str, Any], images: np.ndarray, device: torch.device) -> np.ndarray:
    """uint8 ``[N, h, w, 3]`` -> GAP features ``[N, D]`` float32, through the backbone's preprocessing."""
    x = torch.from_numpy(np.ascontiguousarray(images))[:, None]  # [N, 1, h, w, 3]: a one-frame clip
    if device.type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
    amp = torch.autocast("cuda", dtype=torch.float16) if bool(cfg.get("amp", True)) and device.type == "cuda" else contextlib.nullcontext()
    with torch.inference_mode(), amp:
        x = bb.normalize(x, cfg)[:, :, 0].contiguous(memory_format=torch.channels_last)
        return model.frame_features(x).float().cpu().numpy()


def iter_video_inputs(path: Path, info: VideoInfo, cfg: dict[str, Any], sampled: np.ndarray,
                      backend: str = "auto") -> Iterator[tuple[int, np.ndarray]]:
    """``(frame index, CNN input image)`` of every sampled frame of a video file, in order."""
    fi = FrameInput(cfg)
    want = set(sampled.tolist())
    prev: np.ndarray | None = None
    prev_j = -2
    native = ClipSpec(1, 1, None, None)
    for j, frame in iter_frames_at(path, native, info, fi.needed(sampled), backend=backend):
        if j in want:
            yield j, fi.image(frame, prev if prev_j == j - 1 else None)
        prev, prev_j = frame, j


class SampledEngine:
    """Per-sampled-frame features ``[n_sampled, D]`` of each video (layout ``sampled_frames``),
    run by the shard runner (:func:`vadflow.features.shards.run_shard`). A video's frames run
    in fixed batches of ``batch_size`` in frame order, so its features do not depend on which
    other videos are cached: a resumed run is bit-identical."""

    layout = LAYOUT
    unit = "frame"

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        FrameInput(cfg)  # validates `input` before any decoding
        self.bb = get_backbone(cfg["backbone"])

    def items(self, row: Any) -> int:
        return len(sampled_frames(int(row.frames), steps_for(self.cfg, row.split)))

    def empty(self, video: Any) -> str:
        return f"{video.path}: no frame on the grid of frame_steps {self.cfg.get('frame_steps')}"

    def file_attrs(self) -> dict[str, Any]:
        return {"dim": self.bb.dim, "input": self.cfg.get("input", "rgb")}

    def check_model(self, model: torch.nn.Module) -> None:
        if not hasattr(model, "frame_features"):
            raise ValueError(f"features.{self.cfg.get('name')}.frame_steps: backbone {self.cfg['backbone']} is not a 2-D frame "
                             "backbone (xception, resnet50_2d)")

    def run(self, shard: Any, todo: list, bar: Any) -> None:
        cfg, bb, device, model = self.cfg, self.bb, shard.device, shard.model
        batch_size = int(cfg.get("batch_size", 8))
        for v in todo:
            steps = steps_for(cfg, v.split)
            sampled = sampled_frames(v.info.n_frames, steps)
            feats = np.zeros((len(sampled), bb.dim), np.float32)
            got = 0
            batch: list[np.ndarray] = []
            try:
                for _, image in iter_video_inputs(v.path, v.info, cfg, sampled, cfg.get("decoder", "auto")):
                    batch.append(image)
                    if len(batch) == batch_size:
                        feats[got : got + len(batch)] = frame_forward(model, bb, cfg, np.stack(batch), device)
                        got += len(batch)
                        bar.update(len(batch))
                        batch = []
                if batch:
                    feats[got : got + len(batch)] = frame_forward(model, bb, cfg, np.stack(batch), device)
                    got += len(batch)
                    bar.update(len(batch))
            except DecodeError as exc:
                shard.fail(v.id, str(exc))
                continue
            if got != len(sampled):
                shard.fail(v.id, f"{v.path}: decoded {got} of {len(sampled)} sampled frames (the manifest says {v.info.n_frames} frames)")
                continue
            shard.stats["frames"] += got
            shard.finish(v, feats, {"clip_len": 1, "stride": 1, "tail": "drop", "frame_steps": json.dumps(steps),
                                    "input": cfg.get("input", "rgb")})
