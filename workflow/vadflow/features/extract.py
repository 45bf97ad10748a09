"""Clip feature extraction for one shard of a dataset's videos."""
from __future__ import annotations

import contextlib
import logging
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from vadflow.config import as_json, extractor_hash
from vadflow.data.manifest import read_manifest
from vadflow.device import resolve_device
from vadflow.features.backbones import get_backbone
from vadflow.features.store import FeatureWriter
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


def full_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The extractor config with the backbone's defaults under the user's keys."""
    bb = get_backbone(cfg["backbone"])
    return {**bb.defaults, **{k: v for k, v in cfg.items() if v is not None}}


def extract_shard(manifest: str | Path, root: str | Path, cfg: dict[str, Any], shard: str, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Extract features of the manifest's ``ok`` videos that fall in ``shard`` into ``out``."""
    cfg = full_config(cfg)
    idx, n_shards = parse_shard(shard)
    table = read_manifest(manifest)
    rows = table[(table["status"] == "ok") & (table["id"].map(lambda v: shard_of(v, n_shards)) == idx)]
    spec = ClipSpec.from_cfg(cfg)
    bb = get_backbone(cfg["backbone"])
    device = resolve_device(cfg.get("device", "auto"))
    weights = bb.weights_id(cfg)
    chash = extractor_hash(cfg)
    name = cfg.get("name", cfg["backbone"])
    file_attrs = {"extractor": name, "backbone": cfg["backbone"], "config_hash": chash, "weights": weights,
                  "config": as_json(cfg), "layout": "clips", "dim": bb.dim}

    videos = [(r.id, Path(root) / r.path, VideoInfo(int(r.frames), float(r.fps), int(r.width), int(r.height), "manifest"))
              for r in rows.itertuples()]
    expected = {vid: n_clips(info.n_frames, spec.clip_len, spec.stride, spec.tail) for vid, _, info in videos}
    info_of = {vid: info for vid, _, info in videos}
    t0 = time.time()
    model = bb.build(cfg).to(device).eval()
    use_amp = bool(cfg.get("amp", True)) and device.type == "cuda"
    batch_size = int(cfg.get("batch_size", 8))
    log.info("extractor %s (%s, weights %s) on %s: shard %s, %d videos, %d clips",
             name, cfg["backbone"], weights, device, shard, len(videos), sum(expected.values()))

    done: dict[str, list[np.ndarray]] = {vid: [] for vid in expected}
    ended: set[str] = set()
    pending: list[tuple[str, np.ndarray]] = []
    stats = {"videos": 0, "failed": 0, "clips": 0}

    def run_batch(writer: FeatureWriter) -> None:
        if not pending:
            return
        x = torch.from_numpy(np.stack([c for _, c in pending]))
        if device.type == "cuda":
            x = x.pin_memory().to(device, non_blocking=True)
        amp = torch.autocast("cuda", dtype=torch.float16) if use_amp else contextlib.nullcontext()
        with torch.inference_mode(), amp:
            feats = model(bb.normalize(x, cfg)).float().cpu().numpy()
        for (vid, _), f in zip(pending, feats):
            if vid in done:
                done[vid].append(f)
        bar.update(len(pending))
        stats["clips"] += len(pending)
        pending.clear()
        for vid in [v for v in ended if v in done and len(done[v]) == expected[v]]:
            finish(writer, vid)

    def finish(writer: FeatureWriter, vid: str) -> None:
        info = info_of[vid]
        writer.add(vid, np.stack(done.pop(vid)), {
            "extractor": name, "backbone": cfg["backbone"], "clip_len": spec.clip_len, "stride": spec.stride,
            "tail": spec.tail, "fps": info.fps, "n_frames": info.n_frames, "config_hash": chash,
            "weights": weights, "layout": "clips"}, dtype=cfg.get("dtype", "float16"))
        ended.discard(vid)
        stats["videos"] += 1

    with FeatureWriter(out, file_attrs) as writer, tqdm(total=sum(expected.values()), desc=f"{name} {shard}", unit="clip", disable=not progress) as bar:
        for item in ClipStream(videos, spec, backend=cfg.get("decoder", "auto"), prefetch=4 * batch_size):
            if item.kind == "clip":
                pending.append((item.video, item.clip))
                if len(pending) >= batch_size:
                    run_batch(writer)
            elif item.kind == "end":
                if item.index != expected[item.video]:
                    log.warning("video %s: %d clips decoded, %d expected", item.video, item.index, expected[item.video])
                    expected[item.video] = item.index
                ended.add(item.video)
                if len(done[item.video]) == expected[item.video]:
                    finish(writer, item.video)
            elif item.kind == "error":
                log.warning("video %s skipped: %s", item.video, item.message)
                writer.fail(item.video, item.message)
                done.pop(item.video, None)
                pending[:] = [(v, c) for v, c in pending if v != item.video]
                stats["failed"] += 1
        run_batch(writer)
        if done:
            raise RuntimeError(f"extraction ended with unfinished videos: {sorted(done)[:5]}")
    stats["seconds"] = round(time.time() - t0, 2)
    log.info("shard %s done: %s", shard, stats)
    return stats
