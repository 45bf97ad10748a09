"""The one shard runner of feature extraction: which videos a shard holds, which of them the
per-video cache already has, the model, the receipt and the log. What is computed per video
(clip features, :mod:`vadflow.features.extract`; per-sampled-frame features,
:mod:`vadflow.features.sampled`) is an *engine* plugged into :func:`run_shard`.

Both engines share every rule of the cache: a video is reused only while its key (extractor
config hash, weights id, video signature) matches; finished videos are written at once, so a
killed shard keeps them; the shard's JSON receipt lists what it holds.
"""
from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import pandas as pd
from tqdm import tqdm

from vadflow.data.manifest import read_manifest
from vadflow.device import resolve_device
from vadflow.features.backbones import get_backbone
from vadflow.features.cache import VideoCache
from vadflow.features.writer import write_receipt
from vadflow.io import as_json, extractor_hash, video_signature
from vadflow.video.decoder import VideoInfo

log = logging.getLogger(__name__)

#: storage dtype of computed features when a config leaves ``dtype`` unset (the config resolves
#: ``dtype: auto`` to this for every extracting extractor: vadflow.config.storage_dtype).
DEFAULT_DTYPE = "float16"


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


@dataclass
class ShardVideo:
    """One video of a shard: where it is, what the manifest says of it, and its cache key."""

    id: str
    path: Path
    split: str
    info: VideoInfo
    key: dict[str, str]
    n_items: int  # clips or sampled frames the engine computes for it


class Shard:
    """What an engine needs while it runs: the model and config, the cache, and the calls that
    record a finished or failed video."""

    def __init__(self, cfg: dict[str, Any], bb: Any, device: Any, cache: VideoCache, dtype: str, base_attrs: dict[str, Any],
                 stats: dict[str, Any], failed: dict[str, str], done: dict[str, Path], counts: dict[str, int]):
        self.cfg, self.bb, self.device, self.cache, self.dtype = cfg, bb, device, cache, dtype
        self.base_attrs, self.stats, self.failed, self.done = base_attrs, stats, failed, done
        #: items of every video of the shard in manifest order, cached or not (an engine may lay
        #: out its batches over them, so that a resumed run computes bit-identical features)
        self.counts = counts
        self.model: Any = None

    def finish(self, video: ShardVideo, feats: np.ndarray, attrs: dict[str, Any]) -> None:
        """A finished video: written to the per-video cache under its key, with the common attrs."""
        full = {**self.base_attrs, "fps": video.info.fps, "n_frames": video.info.n_frames, **attrs, **video.key}
        self.done[video.id] = self.cache.write(video.id, feats, full, dtype=self.dtype)
        self.stats["computed"] += 1

    def fail(self, video_id: str, message: str) -> None:
        self.failed[video_id] = message
        log.warning("video %s skipped: %s", video_id, message)


class Engine(Protocol):
    """How one kind of extractor computes its videos (see the module docstring)."""

    layout: str  # the feature file's layout attr
    unit: str  # what n_items counts, for the log and the progress bar

    def items(self, row: Any) -> int: ...  # clips or sampled frames of a manifest row

    def empty(self, video: ShardVideo) -> str: ...  # why a video with no item fails

    def file_attrs(self) -> dict[str, Any]: ...  # layout-specific file attrs

    def check_model(self, model: Any) -> None: ...

    def run(self, shard: Shard, todo: list[ShardVideo], bar: tqdm) -> None: ...


def run_shard(manifest: str | Path, root: str | Path, cfg: dict[str, Any], shard: str, out: str | Path,
              engine_of: Callable[[dict[str, Any]], Engine], cache_dir: str | Path | None = None,
              progress: bool = True) -> dict[str, Any]:
    """Features of the manifest's ``ok`` videos that fall in ``shard``, computed by
    ``engine_of(cfg)`` for the videos the cache does not hold; ``out`` is the shard's receipt.
    ``cfg`` is the extractor config with the backbone's defaults already filled in."""
    engine = engine_of(cfg)
    rows = shard_rows(manifest, shard)
    bb = get_backbone(cfg["backbone"])
    device = resolve_device(cfg.get("device", "auto"))
    weights = bb.weights_id(cfg)
    chash = extractor_hash(cfg)
    name = cfg.get("name", cfg["backbone"])
    file_attrs = {"extractor": name, "backbone": cfg["backbone"], "config_hash": chash, "weights": weights,
                  "config": as_json(cfg), "layout": engine.layout, **engine.file_attrs()}
    cache = VideoCache(cache_dir if cache_dir is not None else Path(out).parent / "videos")
    cache.remove_stale(set(rows["id"]))
    failed: dict[str, str] = {}
    done: dict[str, Path] = {}
    stats: dict[str, Any] = {"videos": len(rows), "cached": 0, "computed": 0, "failed": 0, f"{engine.unit}s": 0}
    counts = {r.id: engine.items(r) for r in rows.itertuples()}
    state = Shard(cfg, bb, device, cache, str(cfg.get("dtype", DEFAULT_DTYPE)), {"extractor": name, "backbone": cfg["backbone"],
                  "layout": engine.layout}, stats, failed, done, counts)
    videos: list[ShardVideo] = []
    for r in rows.itertuples():
        path = Path(root) / r.path
        try:
            key = {"config_hash": chash, "weights": weights, "video_signature": video_signature(path)}
        except OSError as exc:
            state.fail(r.id, f"{path}: {exc.strerror or exc}")
            continue
        videos.append(ShardVideo(r.id, path, r.split, VideoInfo(int(r.frames), float(r.fps), int(r.width), int(r.height), "manifest"),
                                 key, counts[r.id]))
    todo = []
    for v in videos:
        if v.n_items == 0:
            failed[v.id] = engine.empty(v)
        elif cache.valid(v.id, v.key):
            done[v.id] = cache.path(v.id)
        else:
            todo.append(v)
    stats["cached"] = len(done)
    n_todo = sum(v.n_items for v in todo)
    log.info("extractor %s (%s, weights %s) on %s: shard %s, %d videos: %d cached, %d to compute (%d %ss)",
             name, cfg["backbone"], weights, device, shard, len(rows), len(done), len(todo), n_todo, engine.unit)
    t0 = time.time()
    if todo:
        state.model = bb.build(cfg).to(device).eval()
        engine.check_model(state.model)
    with tqdm(total=n_todo, desc=f"{name} {shard}", unit=engine.unit, disable=not progress) as bar:
        engine.run(state, todo, bar)
    unfinished = [v.id for v in todo if v.id not in done and v.id not in failed]
    if unfinished:
        raise RuntimeError(f"extraction ended with unfinished videos: {sorted(unfinished)[:5]}")
    stats["failed"] = len(failed)
    stats["seconds"] = round(time.time() - t0, 2)
    write_receipt(out, shard, file_attrs, done, failed, stats)
    log.info("shard %s done: %s", shard, stats)
    return stats
