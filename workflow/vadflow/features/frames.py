"""The frame cache: downsampled uint8 frames per video, for methods that read pixels (SVDD-CAE).

``results/{dataset}/frames/{name}.h5`` holds one dataset ``[K, H, W, C]`` uint8 per video:
its frames squash-resized to ``size`` after an optional native-frame ``region`` crop
(specs/svdd_cae.md §2), RGB or grey. Training videos are sampled every ``train_stride``-th
frame, at most ``train_cap`` of them (a seeded subset); test videos every ``test_stride``-th.
With ``test: decode`` test videos are not stored: :class:`FrameStore` decodes them when a
method reads them, through the same decoder and geometry (UCF-Crime's test set at 128x128
RGB and stride 1 is ~55 GB).

It is built like the feature cache and shares its parts: the decoder
(:func:`vadflow.video.decoder.iter_frames`, which also reads frame folders), the per-video
atomic cache with its reuse key (:class:`vadflow.features.cache.VideoCache`) and the merge
into the one file consumers read (:func:`vadflow.features.store.merge_videos`). It lives in
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
from typing import Any, Iterator

import h5py
import numpy as np
from tqdm import tqdm

from vadflow.features.cache import VideoCache, video_signature
from vadflow.features.store import FeatureStoreError, merge_videos
from vadflow.h5reader import H5Reader
from vadflow.io import atomic_path, config_hash

log = logging.getLogger(__name__)

#: the thesis geometry per dataset (specs/svdd_cae.md §2): region = (top, left, h, w) of the
#: native frame, cut before the squash resize to ``size``.
PRESETS: dict[str, dict[str, Any]] = {
    "ucf_crime": {"color": "rgb", "region": None},
    "ped1": {"color": "gray", "region": [14, 8, 144, 204]},
    "ped2": {"color": "gray", "region": [80, 0, 160, 360]},
    "avenue": {"color": "rgb", "region": [60, 0, 300, 640]},
    "subway": {"color": "gray", "region": [64, 8, 280, 488]},
    "shanghaitech": {"color": "rgb", "region": None},
}

#: what an entry resolves to where neither the entry nor its preset says otherwise.
BASE = {"size": [128, 128], "color": "rgb", "region": None, "train_stride": 30, "train_cap": 500, "test_stride": 1,
        "test": "cache", "train_videos": "normal", "seed": 0, "compression": None, "decoder": "auto"}

#: keys that change how the job runs, not the frames it stores.
RUNTIME_KEYS = ("decoder", "name")


def resolve(cfg: dict[str, Any]) -> dict[str, Any]:
    """An entry's full settings: its own keys over its preset's over :data:`BASE`."""
    preset = cfg.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"frames.{cfg.get('name', '?')}.preset = {preset!r}: expected one of {', '.join(PRESETS)}")
    # A key left out (or null) takes the preset's value: `region: null` keeps a preset's crop.
    out = {**BASE, **(PRESETS.get(preset) or {}), **{k: v for k, v in cfg.items() if v is not None}}
    size = out["size"]
    out["size"] = [int(size), int(size)] if isinstance(size, int) else [int(v) for v in size]
    return out


def geometry(cfg: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide a frame's pixels (not which frames are sampled)."""
    return {"size": cfg["size"], "color": cfg["color"], "region": cfg["region"]}


def channels(cfg: dict[str, Any]) -> int:
    return 1 if cfg["color"] == "gray" else 3


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


def to_channels(frame: np.ndarray, color: str) -> np.ndarray:
    """RGB ``[H, W, 3]`` -> ``[H, W, C]`` (ITU-R 601 luma for grey, as PIL's ``convert('L')``)."""
    if color == "gray":
        import cv2

        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[..., None]
    return frame


def _clip_spec(cfg: dict[str, Any]):
    from vadflow.video.geometry import ClipSpec

    region = cfg["region"]
    return ClipSpec(clip_len=1, stride=1, resize=tuple(cfg["size"]), crop=None, region=tuple(region) if region else None)


def decode_frames(path: str | Path, info, cfg: dict[str, Any], indices: np.ndarray) -> Iterator[np.ndarray]:
    """The cache's frames ``[H, W, C]`` of ``indices`` (sorted) of one video, decoded now."""
    from vadflow.video.decoder import iter_frames

    for frame in iter_frames(path, _clip_spec(cfg), info, cfg.get("decoder", "auto"), indices=indices):
        yield to_channels(frame, cfg["color"])


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


def is_frames_file(path: str | Path) -> bool:
    """Whether ``path`` is a frame cache (layout ``frames``), not a clip-feature file."""
    path = Path(path)
    if not path.is_file():
        raise FeatureStoreError(f"input file {path} does not exist")
    with h5py.File(path, "r") as f:
        return f.attrs.get("layout") == "frames"


class FrameSource:
    """One video's frames as a method reads them, whether cached or decoded on demand.

    ``index`` lists the native frame numbers the frames come from (sorted), so a method can
    place per-frame scores on the video's timeline (``n_frames`` frames)."""

    def __init__(self, store: "FrameStore", vid: str, index: np.ndarray, n_frames: int, decode: dict[str, Any] | None = None):
        self.store = store
        self.id = vid
        self.index = index
        self.n_frames = n_frames
        self._decode = decode

    def __len__(self) -> int:
        return len(self.index)

    @property
    def cached(self) -> bool:
        return self._decode is None

    def read(self) -> np.ndarray:
        """All of the video's frames ``[K, H, W, C]`` uint8 (training videos: at most the cap)."""
        return np.concatenate(list(self.batches(max(1, len(self)))), axis=0)

    def batches(self, size: int) -> Iterator[np.ndarray]:
        """Consecutive chunks of at most ``size`` frames, in order."""
        if self._decode is None:
            ds = self.store._f[self.id]
            for a in range(0, len(self), size):
                yield ds[a : a + size]
            return
        yield from self._decoded_batches(size)

    def _decoded_batches(self, size: int) -> Iterator[np.ndarray]:
        from vadflow.video.decoder import DecodeError, VideoInfo

        d = self._decode
        path = Path(self.store.root) / d["path"]
        try:
            sig = video_signature(path)
        except OSError as exc:
            raise FeatureStoreError(f"{path}: video {self.id} (decoded on the fly, frames.{self.store.name}.test: decode) "
                                    f"is unreadable: {exc}") from exc
        if sig != d["signature"]:
            raise FeatureStoreError(f"{path}: video {self.id} changed since {self.store.path} was built; rerun its frames job")
        info = VideoInfo(int(d["n_frames"]), float(d["fps"]), int(d["width"]), int(d["height"]), "manifest")
        buf: list[np.ndarray] = []
        n = 0
        try:
            for frame in decode_frames(path, info, self.store.cfg, self.index):
                buf.append(frame)
                n += 1
                if len(buf) == size:
                    yield np.stack(buf)
                    buf = []
        except DecodeError as exc:
            raise FeatureStoreError(f"video {self.id}: on-the-fly decoding failed: {exc}") from exc
        if buf:
            yield np.stack(buf)
        if n < len(self.index):
            # Hold the last decoded frame over a short tail, as clip decoding pads (decoder.iter_clips).
            log.warning("video %s: decoded %d of %d frames; the last frame stands in for the rest", self.id, n, len(self.index))
            last = buf[-1] if buf else None
            if last is None:
                raise FeatureStoreError(f"video {self.id}: no frame decoded on the fly from {path}")
            yield np.repeat(last[None], len(self.index) - n, axis=0)


class FrameStore(H5Reader):
    """Read-only access to a frame cache file (``layout: frames``); ``ids`` and ``in`` also
    cover the test videos it decodes on the fly."""

    kind = "frame cache"
    error = FeatureStoreError

    def __init__(self, path: str | Path):
        super().__init__(path)
        attrs = self._f.attrs
        if attrs.get("layout") != "frames":
            self._f.close()
            raise FeatureStoreError(f"{self.path} is not a frame cache (layout {attrs.get('layout')!r}, expected 'frames')")
        self.cfg: dict[str, Any] = json.loads(attrs["config"])
        self.name = str(attrs.get("name", self.path.stem))
        self.root = str(attrs["root"])
        self._fly: dict[str, dict[str, Any]] = json.loads(attrs.get("on_the_fly", "{}"))

    @property
    def channels(self) -> int:
        return int(self._f.attrs["channels"])

    @property
    def size(self) -> tuple[int, int]:
        h, w = (int(v) for v in self._f.attrs["size"])
        return h, w

    def ids(self) -> list[str]:
        return list(self._f.keys()) + list(self._fly)

    def __contains__(self, vid: str) -> bool:
        return vid in self._f or vid in self._fly

    def source(self, vid: str) -> FrameSource:
        if vid in self._fly:
            d = self._fly[vid]
            return FrameSource(self, vid, np.arange(0, int(d["n_frames"]), int(d["stride"]), dtype=np.int64), int(d["n_frames"]), d)
        if vid not in self._f:
            raise FeatureStoreError(f"{self.path}: no frames for video {vid} ({self.failed.get(vid, 'not cached')})")
        a = self._f[vid].attrs
        n = int(a["n_frames"])
        index = np.asarray(a["index"], dtype=np.int64) if "index" in a else np.arange(0, n, int(a["stride"]), dtype=np.int64)
        if len(index) != self._f[vid].shape[0]:
            raise FeatureStoreError(f"{self.path}: video {vid} holds {self._f[vid].shape[0]} frames but its index lists {len(index)}")
        return FrameSource(self, vid, index, n)
