"""The frame cache: downsampled uint8 frames per video, for methods that read pixels (SVDD-CAE).

``results/{dataset}/frames/{name}.h5`` holds one dataset ``[K, H, W, C]`` uint8 per video:
its frames squash-resized to ``size`` after an optional native-frame ``region`` crop
(docs/methods/svdd_cae.md §2), RGB or grey. Training videos are sampled every ``train_stride``-th
frame, at most ``train_cap`` of them (a seeded subset); test videos every ``test_stride``-th.
With ``test: decode`` test videos are not stored: :class:`FrameStore` decodes them when a
method reads them, through the same decoder and geometry (UCF-Crime's test set at 128x128
RGB and stride 1 is ~55 GB).

It is built like the feature cache and shares its parts: the decoder
(:func:`vadflow.video.decoder.iter_frames`, which also reads frame folders), the per-video
atomic cache with its reuse key (:class:`vadflow.features.cache.VideoCache`) and the merge
into the one file consumers read (:func:`vadflow.features.writer.merge_videos`). It lives in
``features`` rather than ``video`` for that reason: ``video`` imports nothing of ours.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from vadflow.features.cache import VideoCache
from vadflow.io import video_signature
from vadflow.features.writer import merge_videos
from vadflow.io import atomic_path, config_hash
from vadflow.video.pixels import channels, decode_frames, geometry, resolve

log = logging.getLogger(__name__)

#: keys that change how the job runs, not the frames it stores.
RUNTIME_KEYS = ("decoder", "name")


def sample_indices(n_frames: int, stride: int, cap: int, seed: int, vid: str) -> np.ndarray:
    """Every ``stride``-th frame from 0; above ``cap`` (0 = no cap) a sorted random subset of
    them, seeded by ``seed`` and the video id so adding a video changes no other's sample."""
    idx = np.arange(0, max(0, n_frames), max(1, int(stride)), dtype=np.int64)
    if cap and len(idx) > cap:
        rng = np.random.default_rng([int(seed), zlib.crc32(vid.encode())])
        idx = np.sort(rng.choice(idx, size=int(cap), replace=False))
    return idx


def split_sampling(cfg: dict[str, Any], split: str) -> dict[str, int]:
    if split == "train":
        return {"stride": int(cfg["train_stride"]), "cap": int(cfg["train_cap"] or 0), "seed": int(cfg["seed"])}
    return {"stride": int(cfg["test_stride"]), "cap": 0, "seed": 0}


def video_key_hash(cfg: dict[str, Any], split: str) -> str:
    """Reuse key of one cached video: geometry and its split's sampling only, so editing
    ``test_stride`` re-decodes the test videos and keeps the training videos."""
    return config_hash({**geometry(cfg), **split_sampling(cfg, split)})


@dataclass
class _Video:
    id: str
    path: Path
    split: str
    info: Any
    index: np.ndarray
    key: dict[str, str]


def cache_frames(manifest: str | Path, root: str | Path, cfg: dict[str, Any], out: str | Path, cache_dir: str | Path,
                 threads: int = 1, progress: bool = True) -> dict[str, Any]:
    """Write ``out`` for the manifest's ``ok`` videos, reusing each video already in ``cache_dir``
    with the same key; ``threads`` videos decode at once. Returns counts for the log."""
    from vadflow.data.manifest import read_manifest
    from vadflow.video.decoder import VideoInfo

    cfg = resolve(cfg)
    name = str(cfg.get("name", Path(out).stem))
    table = read_manifest(manifest)
    ok = table[table["status"] == "ok"]
    train = ok[(ok["split"] == "train") & ((cfg["train_videos"] == "all") | ~ok["anomalous"])]
    test = ok[ok["split"] == "test"]
    cache = VideoCache(cache_dir, key="frames")
    failed: dict[str, str] = {}
    videos: dict[str, _Video] = {}
    on_the_fly: dict[str, dict[str, Any]] = {}
    for split, rows in (("train", train), ("test", test)):
        samp = split_sampling(cfg, split)
        for r in rows.itertuples():
            path = Path(root) / r.path
            info = VideoInfo(int(r.frames), float(r.fps), int(r.width), int(r.height), "manifest")
            try:
                sig = video_signature(path)
            except Exception as exc:  # noqa: BLE001 - a vanished file or unreadable folder fails this video only
                failed[r.id] = f"{path}: {exc}"
                log.warning("video %s skipped: %s", r.id, failed[r.id])
                continue
            index = sample_indices(info.n_frames, samp["stride"], samp["cap"], samp["seed"], r.id)
            if split == "test" and cfg["test"] == "decode":
                on_the_fly[r.id] = {"path": str(r.path), "n_frames": info.n_frames, "fps": info.fps, "width": info.width,
                                    "height": info.height, "stride": samp["stride"], "signature": sig}
                continue
            videos[r.id] = _Video(r.id, path, split, info, index, {"config_hash": video_key_hash(cfg, split), "video_signature": sig})
    cache.remove_stale(set(videos))
    todo = [v for v in videos.values() if not cache.valid(v.id, v.key)]
    log.info("frames %s: %d videos to cache (%d already cached), %d test videos decoded on the fly, %d failed",
             name, len(todo), len(videos) - len(todo), len(on_the_fly), len(failed))
    t0 = time.time()
    lock = threading.Lock()
    total = sum(len(v.index) for v in todo)
    with tqdm(total=total, desc=f"frames {name}", unit="frame", disable=not progress) as bar:
        def one(v: _Video) -> None:
            _cache_video(cache, v, cfg, lambda n: _tick(bar, lock, n))

        with ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool:
            futures = {pool.submit(one, v): v for v in todo}
            for fut in as_completed(futures):
                v = futures[fut]
                exc = fut.exception()
                if exc is None:
                    continue
                if not isinstance(exc, (OSError, RuntimeError, ValueError)):
                    raise exc
                failed[v.id] = str(exc)
                log.warning("video %s skipped: %s", v.id, exc)
    done = {vid: cache.path(vid) for vid in videos if vid not in failed}
    # extractor/backbone/weights: what the score job's provenance records (pixels: no network)
    file_attrs = {"layout": "frames", "name": name, "extractor": f"frames:{name}", "backbone": "none (pixels)",
                  "weights": "none (pixels)", "config": json.dumps(cfg, sort_keys=True), "config_hash": config_hash(
        {k: v for k, v in cfg.items() if k not in RUNTIME_KEYS}), "size": cfg["size"], "channels": channels(cfg),
        "color": cfg["color"], "root": str(root), "on_the_fly": json.dumps(on_the_fly, sort_keys=True)}
    stats = merge_videos(done, file_attrs, failed, out, key="frames", rerun="rerun the frames job (snakemake -R frames)")
    stats.update(computed=len([v for v in todo if v.id not in failed]), on_the_fly=len(on_the_fly), seconds=round(time.time() - t0, 2))
    log.info("frames %s written to %s: %s", name, out, stats)
    return stats


def _tick(bar: tqdm, lock: threading.Lock, n: int) -> None:
    with lock:
        bar.update(n)


def _cache_video(cache: VideoCache, v: _Video, cfg: dict[str, Any], tick) -> None:
    """Decode one video's sampled frames straight into its cache file (frame by frame, so a
    long stride-1 test video never sits in memory); the file appears complete or not at all."""
    h, w = cfg["size"]
    c = channels(cfg)
    path = cache.path(v.id)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        # One chunk per frame: training reads single frames in random order.
        ds = f.create_dataset("frames", shape=(len(v.index), h, w, c), maxshape=(None, h, w, c), dtype=np.uint8,
                              chunks=(1, h, w, c), compression=cfg.get("compression"))
        k = 0
        for frame in decode_frames(v.path, v.info, cfg, v.index):
            ds[k] = frame
            k += 1
            if k % 64 == 0:
                tick(64)
        tick(k % 64)
        if k == 0:
            raise RuntimeError(f"{v.path}: no frame decoded")
        if k < len(v.index):
            log.warning("video %s: decoded %d of the %d sampled frames (the file has fewer frames than probed)", v.id, k, len(v.index))
            ds.resize(k, axis=0)
        attrs = {**v.key, "split": v.split, "n_frames": v.info.n_frames, "fps": v.info.fps, "layout": "frames",
                 "stride": int(split_sampling(cfg, v.split)["stride"])}
        if len(v.index) != len(range(0, v.info.n_frames, attrs["stride"])) or k < len(v.index):
            attrs["index"] = v.index[:k].astype(np.int64)  # capped: which frames were kept
        for key, val in attrs.items():
            ds.attrs[key] = val
