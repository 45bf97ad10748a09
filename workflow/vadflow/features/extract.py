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
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from vadflow.features.backbones import get_backbone
from vadflow.features.shards import Shard, ShardVideo, run_shard
from vadflow.video.decoder import ClipStream
from vadflow.video.geometry import ClipSpec, n_clips

log = logging.getLogger(__name__)


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
    Clip extractors run :class:`ClipEngine`; per-sampled-frame extractors (``frame_steps``, the
    real-time method's streams) :class:`vadflow.features.sampled.SampledEngine`.
    """
    if cfg.get("frame_steps"):
        from vadflow.features.sampled import SampledEngine, full_config as sampled_config

        return run_shard(manifest, root, sampled_config(cfg), shard, out, SampledEngine, cache_dir, progress)
    return run_shard(manifest, root, full_config(cfg), shard, out, ClipEngine, cache_dir, progress)


class ClipEngine:
    """Clip features ``[n_clips, D]`` (or per-frame ``[n_clips, clip_len, D]`` with ``frames:
    true``), in batches laid out over the shard's full clip list (module docstring)."""

    unit = "clip"

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.spec = ClipSpec.from_cfg(cfg)
        self.bb = get_backbone(cfg["backbone"])
        # frames: true (2-D frame backbones): per-frame features [n_clips, clip_len, D] of every clip,
        # layout clip_frames, read by the LSTM clip extractor (features/lstm_clip.py), not by methods.
        self.frames = bool(cfg.get("frames", False))
        self.layout = "clip_frames" if self.frames else "clips"

    def items(self, row: Any) -> int:
        return n_clips(int(row.frames), self.spec.clip_len, self.spec.stride, self.spec.tail)

    def empty(self, video: ShardVideo) -> str:
        return f"{video.path}: no complete clip of {self.spec.clip_len} frames"

    def file_attrs(self) -> dict[str, Any]:
        return {"dim": self.bb.dim_for(self.cfg)}

    def check_model(self, model: Any) -> None:
        if self.frames and not hasattr(model, "forward_frames"):
            raise ValueError(f"features.{self.cfg.get('name')}.frames: backbone {self.cfg['backbone']} is not a 2-D frame backbone "
                             "(xception, resnet50_2d)")

    def run(self, shard: Shard, todo: list[ShardVideo], bar: tqdm) -> None:
        cfg, bb, device, spec = self.cfg, self.bb, shard.device, self.spec
        # Batches are laid out over every video of the shard, cached or not (module docstring):
        # a clip always runs at the same batch size and position.
        counts = {v.id: v.n_items for v in todo}
        batch_size = int(cfg.get("batch_size", 8))
        layout = BatchLayout(shard.counts, batch_size)
        by_id = {v.id: v for v in todo}
        # missing[k]: clips of batch k still to arrive from the decoder; a batch runs at 0.
        missing: dict[int, int] = defaultdict(int)
        for v in todo:
            for k, n in layout.slots(v.id, 0, v.n_items).items():
                missing[k] += n
        buffers: dict[int, np.ndarray] = {}
        owners: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
        acc: dict[str, np.ndarray] = {}
        filled: dict[str, int] = defaultdict(int)
        received: dict[str, int] = defaultdict(int)
        expected = dict(counts)
        ended: set[str] = set()
        dead: set[str] = set()
        model = shard.model
        forward = model.forward_frames if self.frames else model
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
            shard.finish(by_id[vid], acc.pop(vid)[: expected[vid]], {"clip_len": spec.clip_len, "stride": spec.stride, "tail": spec.tail})
            ended.discard(vid)

        def drop_slots(vid: str, lo: int) -> None:
            # Clips lo.. of vid will never arrive: their slots stay zero and their batches may run.
            for k, n in layout.slots(vid, lo, counts[vid]).items():
                missing[k] -= n

        stream = ClipStream([(v.id, v.path, v.info) for v in todo], spec, backend=cfg.get("decoder", "auto"),
                            prefetch=4 * batch_size, workers=decode_workers(cfg, device))
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
                shard.stats["clips"] += 1
                bar.update(1)
            elif item.kind == "end":
                if item.index != counts[vid]:
                    log.warning("video %s: %d clips decoded, %d expected", vid, item.index, counts[vid])
                    expected[vid] = item.index
                    drop_slots(vid, item.index)
                ended.add(vid)
                maybe_finish(vid)
            elif item.kind == "error":
                shard.fail(vid, item.message)
                dead.add(vid)
                acc.pop(vid, None)
                drop_slots(vid, received[vid])
            run_ready()
        run_ready()
