"""Per-sampled-frame features of a 2-D backbone (the real-time method's streams, specs/realtime.md §2, §6).

An extractor with ``frame_steps`` runs its frame CNN on single frames of the global frame grid,
not on clips: frame j of a video is sampled when j is a multiple of one of the steps listed for
the video's split (``frame_steps: {train: [3, 10], test: [1]}``: every frame adaptive sampling
can keep on training videos, every frame of test videos). ``input`` picks what the CNN sees:

* ``rgb``: the decoded frame, resized/cropped like any extractor's frames;
* ``flow_image``: the Farnebäck flow image of frames (j-1, j) at native resolution
  (:func:`vadflow.video.flow.flow_image`), then resized; frame 0, without a predecessor, is black.

The output is one ``[n_sampled, D]`` dataset per video (layout ``sampled_frames``, attr ``frame_steps``),
written through the same per-video cache, shard receipts and merge as clip extraction. Stage 1
of the real-time method trains on these cached GAP features, which is exact because its
backbones are frozen and nothing is augmented (spec §6).
"""
from __future__ import annotations

import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from tqdm import tqdm

from vadflow.io import as_json, extractor_hash
from vadflow.device import resolve_device
from vadflow.features.backbones import get_backbone
from vadflow.features.cache import VideoCache
from vadflow.io import video_signature
from vadflow.features.writer import write_receipt
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

    The flow image is BGR; like the authors' notebook it is fed as if it were RGB (spec §2).
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
        out.pop("crop", None)  # frames are squashed to `resize`, no crop (spec §2), unless a crop is set
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


def extract_sampled_shard(manifest: str | Path, root: str | Path, cfg: dict[str, Any], shard: str, out: str | Path,
                          cache_dir: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Per-sampled-frame features of the shard's ``ok`` videos; same cache, receipt and attrs
    contract as :func:`vadflow.features.extract.extract_shard`.

    A video's frames run in fixed batches of ``batch_size`` in frame order, so its features do
    not depend on which other videos are cached: a resumed run is bit-identical.
    """
    from vadflow.features.extract import shard_rows

    cfg = full_config(cfg)
    FrameInput(cfg)  # validates `input` before any decoding
    rows = shard_rows(manifest, shard)
    bb = get_backbone(cfg["backbone"])
    device = resolve_device(cfg.get("device", "auto"))
    weights = bb.weights_id(cfg)
    chash = extractor_hash(cfg)
    name = cfg.get("name", cfg["backbone"])
    dtype = cfg.get("dtype", "float32")
    batch_size = int(cfg.get("batch_size", 8))
    file_attrs = {"extractor": name, "backbone": cfg["backbone"], "config_hash": chash, "weights": weights,
                  "config": as_json(cfg), "layout": LAYOUT, "dim": bb.dim, "input": cfg.get("input", "rgb")}
    cache = VideoCache(cache_dir if cache_dir is not None else Path(out).parent / "videos")
    cache.remove_stale(set(rows["id"]))
    failed: dict[str, str] = {}
    done: dict[str, Path] = {}
    todo = []
    for r in rows.itertuples():
        path = Path(root) / r.path
        try:
            key = {"config_hash": chash, "weights": weights, "video_signature": video_signature(path)}
        except OSError as exc:
            failed[r.id] = f"{path}: {exc.strerror or exc}"
            log.warning("video %s skipped: %s", r.id, failed[r.id])
            continue
        if cache.valid(r.id, key):
            done[r.id] = cache.path(r.id)
        else:
            steps = steps_for(cfg, r.split)
            todo.append((r, path, key, steps, sampled_frames(int(r.frames), steps)))
    n_todo = sum(len(t[4]) for t in todo)
    log.info("extractor %s (%s on %s frames, weights %s) on %s: shard %s, %d videos: %d cached, %d to compute (%d frames)",
             name, cfg["backbone"], cfg.get("input", "rgb"), weights, device, shard, len(rows), len(done), len(todo), n_todo)
    stats: dict[str, Any] = {"videos": len(rows), "cached": len(done), "computed": 0, "failed": 0, "frames": 0}
    t0 = time.time()
    model = bb.build(cfg).to(device).eval() if todo else None
    if model is not None and not hasattr(model, "frame_features"):
        raise ValueError(f"features.{name}.frame_steps: backbone {cfg['backbone']} is not a 2-D frame backbone (xception, resnet50_2d)")
    with tqdm(total=n_todo, desc=f"{name} {shard}", unit="frame", disable=not progress) as bar:
        for r, path, key, steps, sampled in todo:
            info = VideoInfo(int(r.frames), float(r.fps), int(r.width), int(r.height), "manifest")
            feats = np.zeros((len(sampled), bb.dim), np.float32)
            got = 0
            batch: list[np.ndarray] = []
            try:
                for _, image in iter_video_inputs(path, info, cfg, sampled, cfg.get("decoder", "auto")):
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
                failed[r.id] = str(exc)
                log.warning("video %s skipped: %s", r.id, exc)
                continue
            if got != len(sampled):
                failed[r.id] = f"{path}: decoded {got} of {len(sampled)} sampled frames (the manifest says {r.frames} frames)"
                log.warning("video %s skipped: %s", r.id, failed[r.id])
                continue
            attrs = {"extractor": name, "backbone": cfg["backbone"], "clip_len": 1, "stride": 1, "tail": "drop",
                     "fps": info.fps, "n_frames": info.n_frames, "layout": LAYOUT, "frame_steps": json.dumps(steps),
                     "input": cfg.get("input", "rgb"), **key}
            done[r.id] = cache.write(r.id, feats, attrs, dtype=dtype)
            stats["computed"] += 1
            stats["frames"] += got
    stats["failed"] = len(failed)
    stats["seconds"] = round(time.time() - t0, 2)
    write_receipt(out, shard, file_attrs, done, failed, stats)
    log.info("shard %s done: %s", shard, stats)
    return stats

