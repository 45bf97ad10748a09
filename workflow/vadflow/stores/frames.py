"""Read-only access to a frame cache ``frames/{name}.h5`` (layout ``frames``), for methods that
read pixels. Test videos of a cache built with ``test: decode`` are not stored: their
:class:`FrameSource` decodes them on demand with the cache's own geometry
(:mod:`vadflow.video.pixels`), so a method cannot tell the two apart.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from vadflow.io import video_signature
from vadflow.stores.features import FeatureStoreError
from vadflow.stores.h5 import H5Reader
from vadflow.video.pixels import decode_frames

log = logging.getLogger(__name__)


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
