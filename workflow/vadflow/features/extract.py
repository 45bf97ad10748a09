"""Clip feature extraction for one shard of a dataset's videos.

Reproducibility across interrupted runs: batches are laid out over the shard's *full* clip
list (every video, cached or not), so a clip always runs at the same batch size and
position. Slots of already-cached videos are zero-filled instead of decoded: a sample's
output depends on the batch shape and its own input only, never on the other samples'
values, whereas CPU kernels do pick different reduction orders for different batch sizes.
A resumed run therefore writes bit-identical features to an uninterrupted one.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from vadflow.io import as_json, extractor_hash
from vadflow.data.manifest import read_manifest
from vadflow.device import resolve_device
from vadflow.features.backbones import get_backbone
from vadflow.features.cache import VideoCache
from vadflow.io import video_signature
from vadflow.features.writer import write_receipt
from vadflow.video.decoder import ClipStream, VideoInfo
from vadflow.video.geometry import ClipSpec, n_clips

log = logging.getLogger(__name__)


def parse_shard(shard: str) -> tuple[int, int]:
    """``"2-of-8"`` -> ``(2, 8)``."""
    try:
        i, n = shard.split("-of-")
        i, n = int(i), int(n)
    except ValueError:
        raise ValueError(f"shard must look like '<i>-of-<n>', got {shard!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"shard index {i} out of range for {n} shards")
    return i, n


def shard_of(video_id: str, n_shards: int) -> int:
    """Stable shard of a video: a hash of its id, so adding a video moves no other video."""
    return zlib.crc32(video_id.encode()) % n_shards


def shard_rows(manifest: str | Path, shard: str) -> pd.DataFrame:
    """The manifest's ``ok`` videos that fall into ``shard`` (``'<i>-of-<n>'``)."""
    idx, n_shards = parse_shard(shard)
    table = read_manifest(manifest)
    return table[(table["status"] == "ok") & (table["id"].map(lambda v: shard_of(v, n_shards)) == idx)]


def full_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The extractor config with the backbone's defaults under the user's keys."""
    bb = get_backbone(cfg["backbone"])
    return {**bb.defaults, **{k: v for k, v in cfg.items() if v is not None}}


class BatchLayout:
    """Fixed batches of ``batch_size`` over the concatenated clips of ``counts`` (in order)."""

    def __init__(self, counts: dict[str, int], batch_size: int):
        self.batch_size = batch_size
        self.offset: dict[str, int] = {}
        total = 0
        for vid, n in counts.items():
            self.offset[vid] = total
            total += n
        self.total = total

    def slot(self, vid: str, i: int) -> tuple[int, int]:
        """(batch index, position in the batch) of clip ``i`` of ``vid``."""
        return divmod(self.offset[vid] + i, self.batch_size)

    def batch_len(self, k: int) -> int:
        return min(self.batch_size, self.total - k * self.batch_size)

    def slots(self, vid: str, lo: int, hi: int) -> dict[int, int]:
        """How many of clips ``[lo, hi)`` of ``vid`` fall in each batch."""
        out: dict[int, int] = defaultdict(int)
        for i in range(lo, hi):
            out[self.slot(vid, i)[0]] += 1
        return out


def decode_workers(cfg: dict[str, Any], device: torch.device) -> int:
    """``auto``: one decoder on CPU (the model needs the cores), up to 4 videos at once on a GPU."""
    n = cfg.get("decode_workers", "auto")
    if n == "auto":
        return 1 if device.type == "cpu" else max(1, min(4, (os.cpu_count() or 2) - 1))
    return int(n)


def extract_shard(manifest: str | Path, root: str | Path, cfg: dict[str, Any], shard: str, out: str | Path,
                  cache_dir: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Extract features of the manifest's ``ok`` videos that fall in ``shard``.

    Finished videos go to the per-video cache (``cache_dir``, default ``<out dir>/videos``);
    videos already cached with the same settings are reused. ``out`` is the shard's JSON receipt.
    """
    if cfg.get("frame_steps"):  # per-sampled-frame features (the real-time method's streams)
        from vadflow.features.sampled import extract_sampled_shard

        return extract_sampled_shard(manifest, root, cfg, shard, out, cache_dir=cache_dir, progress=progress)
    cfg = full_config(cfg)
    rows = shard_rows(manifest, shard)
    spec = ClipSpec.from_cfg(cfg)
    bb = get_backbone(cfg["backbone"])
    device = resolve_device(cfg.get("device", "auto"))
    weights = bb.weights_id(cfg)
    chash = extractor_hash(cfg)
    name = cfg.get("name", cfg["backbone"])
    dtype = cfg.get("dtype", "float16")
    # frames: true (2-D frame backbones): per-frame features [n_clips, clip_len, D] of every clip,
    # layout clip_frames, read by the LSTM clip extractor (features/lstm_clip.py), not by methods.
    frames = bool(cfg.get("frames", False))
    layout_name = "clip_frames" if frames else "clips"
    file_attrs = {"extractor": name, "backbone": cfg["backbone"], "config_hash": chash, "weights": weights,
                  "config": as_json(cfg), "layout": layout_name, "dim": bb.dim_for(cfg)}
    cache = VideoCache(cache_dir if cache_dir is not None else Path(out).parent / "videos")

    videos = {r.id: (Path(root) / r.path, VideoInfo(int(r.frames), float(r.fps), int(r.width), int(r.height), "manifest"))
              for r in rows.itertuples()}
    counts = {vid: n_clips(info.n_frames, spec.clip_len, spec.stride, spec.tail) for vid, (_, info) in videos.items()}
    batch_size = int(cfg.get("batch_size", 8))
    layout = BatchLayout(counts, batch_size)
    cache.remove_stale(set(videos))

    failed: dict[str, str] = {}
    keys: dict[str, dict[str, str]] = {}
    for vid, (path, _) in videos.items():
        try:
            keys[vid] = {"config_hash": chash, "weights": weights, "video_signature": video_signature(path)}
        except OSError as exc:
            failed[vid] = f"{path}: {exc.strerror or exc}"
            log.warning("video %s skipped: %s", vid, failed[vid])
    todo = [vid for vid in keys if counts[vid] > 0 and not cache.valid(vid, keys[vid])]
    for vid in [v for v in keys if counts[v] == 0]:
        failed[vid] = f"{videos[vid][0]}: no complete clip of {spec.clip_len} frames"
    done_paths = {vid: cache.path(vid) for vid in keys if vid not in todo and vid not in failed}
    n_todo_clips = sum(counts[v] for v in todo)
    log.info("extractor %s (%s, weights %s) on %s: shard %s, %d videos: %d cached, %d to compute (%d clips)",
             name, cfg["backbone"], weights, device, shard, len(videos), len(done_paths), len(todo), n_todo_clips)
    stats: dict[str, Any] = {"videos": len(videos), "cached": len(done_paths), "computed": 0, "failed": 0, "clips": 0}
    t0 = time.time()

    # missing[k]: clips of batch k still to arrive from the decoder; a batch runs at 0.
    missing: dict[int, int] = defaultdict(int)
    for vid in todo:
        for k, n in layout.slots(vid, 0, counts[vid]).items():
            missing[k] += n
    buffers: dict[int, np.ndarray] = {}
    owners: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    acc: dict[str, np.ndarray] = {}
    filled: dict[str, int] = defaultdict(int)
    received: dict[str, int] = defaultdict(int)
    expected = dict(counts)
    ended: set[str] = set()
    dead: set[str] = set()

    model = bb.build(cfg).to(device).eval() if todo else None
    if frames and model is not None and not hasattr(model, "forward_frames"):
        raise ValueError(f"features.{name}.frames: backbone {cfg['backbone']} is not a 2-D frame backbone (xception, resnet50_2d)")
    forward = model.forward_frames if frames and model is not None else model
    use_amp = bool(cfg.get("amp", True)) and device.type == "cuda"

    def run_ready() -> None:
        for k in sorted(k for k, m in missing.items() if m == 0):
            del missing[k]
            if k not in buffers:  # every clip of it belonged to videos that failed
                owners.pop(k, None)
                continue
            x = torch.from_numpy(buffers.pop(k))
            if device.type == "cuda":
                x = x.pin_memory().to(device, non_blocking=True)
            amp = torch.autocast("cuda", dtype=torch.float16) if use_amp else contextlib.nullcontext()
            with torch.inference_mode(), amp:
                feats = forward(bb.normalize(x, cfg)).float().cpu().numpy()
            for vid, i, pos in owners.pop(k):
                if vid in dead:
                    continue
                if vid not in acc:
                    acc[vid] = np.empty((counts[vid], *feats.shape[1:]), np.float32)
                acc[vid][i] = feats[pos]
                filled[vid] += 1
                maybe_finish(vid)

    def maybe_finish(vid: str) -> None:
        if vid not in ended or filled[vid] != expected[vid]:
            return
        _, info = videos[vid]
        attrs = {"extractor": name, "backbone": cfg["backbone"], "clip_len": spec.clip_len, "stride": spec.stride,
                 "tail": spec.tail, "fps": info.fps, "n_frames": info.n_frames, "layout": layout_name, **keys[vid]}
        done_paths[vid] = cache.write(vid, acc.pop(vid)[: expected[vid]], attrs, dtype=dtype)
        ended.discard(vid)
        stats["computed"] += 1

    def drop_slots(vid: str, lo: int) -> None:
        # Clips lo.. of vid will never arrive: their slots stay zero and their batches may run.
        for k, n in layout.slots(vid, lo, counts[vid]).items():
            missing[k] -= n

    stream = ClipStream([(vid, *videos[vid]) for vid in todo], spec, backend=cfg.get("decoder", "auto"),
                        prefetch=4 * batch_size, workers=decode_workers(cfg, device))
    with tqdm(total=n_todo_clips, desc=f"{name} {shard}", unit="clip", disable=not progress) as bar:
        for item in stream:
            vid = item.video
            if item.kind == "clip":
                k, pos = layout.slot(vid, item.index)
                if k not in buffers:
                    buffers[k] = np.zeros((layout.batch_len(k), *item.clip.shape), np.uint8)
                buffers[k][pos] = item.clip
                owners[k].append((vid, item.index, pos))
                missing[k] -= 1
                received[vid] += 1
                stats["clips"] += 1
                bar.update(1)
            elif item.kind == "end":
                if item.index != counts[vid]:
                    log.warning("video %s: %d clips decoded, %d expected", vid, item.index, counts[vid])
                    expected[vid] = item.index
                    drop_slots(vid, item.index)
                ended.add(vid)
                maybe_finish(vid)
            elif item.kind == "error":
                log.warning("video %s skipped: %s", vid, item.message)
                failed[vid] = item.message
                dead.add(vid)
                acc.pop(vid, None)
                drop_slots(vid, received[vid])
            run_ready()
        run_ready()
    unfinished = [v for v in todo if v not in done_paths and v not in failed]
    if unfinished:
        raise RuntimeError(f"extraction ended with unfinished videos: {sorted(unfinished)[:5]}")
    stats["failed"] = len(failed)
    stats["seconds"] = round(time.time() - t0, 2)
    write_receipt(out, shard, file_attrs, done_paths, failed, stats)
    log.info("shard %s done: %s", shard, stats)
    return stats
