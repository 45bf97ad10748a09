"""Video probing and clip decoding over decord, with PyAV as the fallback.

Frames are decoded once, sequentially, resized (OpenCV) and centre-cropped; clips are cut
from a sliding buffer so a long video never sits in memory.
A *frame folder* (one image per frame, as UCSD Ped and ShanghaiTech ship their videos) is a
video too: its path is the folder, and the ``folder`` backend reads its images in natural
order through the same resize/crop path, so every consumer decodes both alike.
:class:`ClipStream` runs all of this in a background thread so the model never waits on
the decoder.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

# DecodeError is the decoder's error; it lives in frame_folders, which the data adapters may import.
from vadflow.frame_folders import DecodeError, frame_files
from vadflow.video.geometry import ClipSpec, clip_frame_indices, crop_box, region_box, resized_size

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoInfo:
    n_frames: int
    fps: float
    width: int
    height: int
    backend: str


def put_unless_stopped(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` on a bounded queue from a producer thread; False once ``stop`` is set.

    A plain blocking put would hang the producer forever when the consumer has gone away
    (an error, Ctrl-C) with the queue full; polling lets it see ``stop`` and end.
    """
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _read_image(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)  # grey .tif frames come back as 3 equal channels
    if img is None:
        raise DecodeError(f"{path}: cannot read image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _probe_folder(path: Path) -> VideoInfo:
    files = frame_files(path)
    first = _read_image(files[0])
    _read_image(files[-1])  # a truncated last file fails here, as a truncated video does
    # A folder has no frame rate: the dataset's (datasets.<name>.fps) goes into the manifest.
    return VideoInfo(len(files), 0.0, int(first.shape[1]), int(first.shape[0]), "folder")


def _frames_folder(path: Path, wanted: np.ndarray | None) -> Iterator[tuple[int, np.ndarray]]:
    files = frame_files(path)
    order = range(len(files)) if wanted is None else wanted[wanted < len(files)].tolist()
    for j in order:
        yield j, _read_image(files[j])


def _decord():
    try:
        import decord

        return decord
    except ImportError:  # decord has no wheels for some platforms (e.g. macOS arm64)
        return None


def _backends(backend: str, path: Path | None = None) -> list[str]:
    if path is not None and path.is_dir():
        return ["folder"]  # whatever the configured backend: it reads video files only
    if backend == "auto":
        return ["decord", "pyav"] if _decord() is not None else ["pyav"]
    if backend == "decord" and _decord() is None:
        raise DecodeError("decoder: decord is requested but not installed (pip install decord, or set decoder: pyav)")
    if backend not in ("decord", "pyav"):
        raise ValueError(f"unknown decoder backend {backend!r} (expected auto, decord or pyav)")
    return [backend]


# decord 0.6 bundles FFmpeg 4, whose decoders fill static VLC tables on first open without a
# lock (h263/mpeg4 ``done`` flags): two readers opened at once in a fresh process can abort
# the whole process ("incorrect codes", bitstream.c assertion; seen once in CI). Opening is
# cheap next to decoding, so every open is serialised; decoding itself stays parallel.
_DECORD_OPEN = threading.Lock()


def _open_decord(path: Path):
    decord = _decord()
    with _DECORD_OPEN:
        return decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)


def _probe_decord(path: Path) -> VideoInfo:
    vr = _open_decord(path)
    n = len(vr)
    if n == 0:
        raise DecodeError(f"{path}: no video frames")
    first = vr[0].asnumpy()
    vr[n - 1].asnumpy()  # a truncated file fails here, not deep inside extraction
    return VideoInfo(n, float(vr.get_avg_fps()), int(first.shape[1]), int(first.shape[0]), "decord")


def _probe_pyav(path: Path) -> VideoInfo:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise DecodeError(f"{path}: no video stream")
        stream = container.streams.video[0]
        n = 0
        width = height = 0
        for frame in container.decode(stream):
            n += 1
            width, height = frame.width, frame.height
        if n == 0:
            raise DecodeError(f"{path}: no decodable video frames")
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
    return VideoInfo(n, fps, width, height, "pyav")


def probe(path: str | Path, backend: str = "auto") -> VideoInfo:
    """Frame count, fps and size of a video; :class:`DecodeError` naming the file on failure.

    With decord the frame count is the length of its packet index, which equals the decoded
    frame count for constant-frame-rate mp4 files such as UCF-Crime's; PyAV decodes every
    frame to count them.
    """
    path = Path(path)
    if path.is_dir():
        return _probe_folder(path)
    if not path.is_file():
        raise DecodeError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DecodeError(f"{path}: file is empty (0 bytes)")
    errors = []
    for name in _backends(backend):
        try:
            return _probe_decord(path) if name == "decord" else _probe_pyav(path)
        except Exception as exc:  # noqa: BLE001 - both libraries raise a zoo of types on corrupt input
            errors.append(f"{name}: {exc}".strip())
    raise DecodeError(f"{path}: cannot decode ({'; '.join(errors)})")


def _resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize one RGB frame to ``size`` (h, w): area averaging when shrinking (no aliasing, like
    PIL's antialiased bilinear that torchvision presets assume), bilinear when enlarging."""
    import cv2

    h, w = frame.shape[:2]
    if (h, w) == tuple(size):
        return frame
    interp = cv2.INTER_AREA if size[0] * size[1] < h * w else cv2.INTER_LINEAR
    return cv2.resize(frame, (size[1], size[0]), interpolation=interp)


def _frames_decord(path: Path, frame_hw: tuple[int, int], wanted: np.ndarray | None) -> Iterator[tuple[int, np.ndarray]]:
    # Decode at native size and resize with OpenCV: decord's built-in (FFmpeg filter) scaling
    # ran at about half the speed on 2 cores (benchmarks/extract.py, P2). One thread per
    # reader: parallelism comes from decoding several videos at once (decode_workers).
    vr = _open_decord(path)
    n = len(vr)
    # A subset of frames (e.g. tail: spread) is fetched by index: decord seeks to the nearest
    # key frame instead of decoding the whole video.
    order = np.arange(n) if wanted is None else wanted[wanted < n]
    chunk = int(max(8, min(128, (64 << 20) // max(1, frame_hw[0] * frame_hw[1] * 3))))  # ~64 MB of frames
    for a in range(0, len(order), chunk):
        part = order[a : a + chunk]
        for j, frame in zip(part.tolist(), vr.get_batch(part.tolist()).asnumpy()):
            yield j, frame


def _frames_pyav(path: Path, wanted: np.ndarray | None) -> Iterator[tuple[int, np.ndarray]]:
    import av

    keep = None if wanted is None else set(wanted.tolist())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for j, frame in enumerate(container.decode(stream)):
            if keep is None or j in keep:
                yield j, frame.to_ndarray(format="rgb24")


def _indexed_frames(path: Path, spec: ClipSpec, info: VideoInfo, backend: str,
                    wanted: np.ndarray | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, frame)`` for every frame, or for the sorted ``wanted`` indices only: the
    native frame cut to ``spec.region``, resized, then centre-cropped."""
    try:
        rt, rl, rh, rw = region_box(info.height, info.width, spec.region)
    except ValueError as exc:
        raise DecodeError(f"{path}: {exc}") from None
    size = resized_size(rh, rw, spec.resize)
    top, left, ch, cw = crop_box(size[0], size[1], spec.crop)
    names = _backends(backend, path)
    for i, name in enumerate(names):
        produced = 0
        try:
            if name == "folder":
                gen = _frames_folder(path, wanted)
            elif name == "decord":
                # Decode at native size and resize with OpenCV (_frames_decord says why).
                gen = _frames_decord(path, (info.height, info.width), wanted)
            else:
                gen = _frames_pyav(path, wanted)
            for j, frame in gen:
                produced += 1
                frame = _resize(frame[rt : rt + rh, rl : rl + rw], size)
                yield j, frame[top : top + ch, left : left + cw]
            return
        except Exception as exc:  # noqa: BLE001
            if produced or i == len(names) - 1:
                raise DecodeError(f"{path}: decoding failed after {produced} frames ({name}: {exc})") from exc
            log.warning("%s: %s failed (%s); falling back to %s", path, name, exc, names[i + 1])


def transform_frame(frame: np.ndarray, spec: ClipSpec) -> np.ndarray:
    """One native RGB frame resized and centre-cropped exactly as the decoder does it, for code
    that receives frames one at a time (live streams, flow images) and must match extraction."""
    size = resized_size(frame.shape[0], frame.shape[1], spec.resize)
    top, left, ch, cw = crop_box(size[0], size[1], spec.crop)
    return _resize(frame, size)[top : top + ch, left : left + cw]


def iter_frames_at(path: str | Path, spec: ClipSpec, info: VideoInfo, indices: np.ndarray | None = None,
                   backend: str = "auto") -> Iterator[tuple[int, np.ndarray]]:
    """``(index, frame)`` for the sorted frame ``indices`` only (every frame when None), resized
    and cropped per ``spec``: object detection reads clip centre frames this way."""
    wanted = None if indices is None else np.unique(np.asarray(indices, dtype=np.int64))
    if wanted is not None and np.array_equal(wanted, np.arange(info.n_frames)):
        wanted = None  # every frame: a sequential read beats fetching each by index
    yield from _indexed_frames(Path(path), spec, info, backend, wanted)


def iter_frames(path: str | Path, spec: ClipSpec, info: VideoInfo, backend: str = "auto",
                indices: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Resized and centre-cropped RGB uint8 frames ``[h, w, 3]``, in order: every frame, or
    only the sorted, unique ``indices`` (fetched by index where the backend can seek)."""
    for _, frame in iter_frames_at(path, spec, info, indices, backend):
        yield frame


def iter_clips(path: str | Path, spec: ClipSpec, info: VideoInfo, backend: str = "auto") -> Iterator[np.ndarray]:
    """Clips ``[clip_len, h, w, 3]`` uint8 in order, per :func:`clip_frame_indices`."""
    idx = clip_frame_indices(info.n_frames, spec.clip_len, spec.stride, spec.tail)
    if len(idx) == 0:
        return
    # Only frames some clip uses are decoded and buffered: a spread clip spans the whole video,
    # and holding every frame of a long one would not fit in memory.
    used = np.unique(idx)
    buf: deque[tuple[int, np.ndarray]] = deque()
    k = 0
    last = None
    n_seen = 0
    for j, frame in _indexed_frames(Path(path), spec, info, backend, used if len(used) < info.n_frames else None):
        n_seen = j + 1
        buf.append((j, frame))
        last = frame
        while k < len(idx) and idx[k, -1] <= j:
            yield _gather(buf, idx[k], last)
            k += 1
        # Frames before the next clip's first index are no longer needed.
        lo = idx[k, 0] if k < len(idx) else j + 1
        while buf and buf[0][0] < lo:
            buf.popleft()
    if n_seen < info.n_frames and k < len(idx):
        log.warning("%s: decoded %d frames, probe said %d; padding with the last frame", path, n_seen, info.n_frames)
    while k < len(idx) and last is not None:
        yield _gather(buf, np.minimum(idx[k], n_seen - 1), last)
        k += 1


def _gather(buf: deque, indices: np.ndarray, last: np.ndarray) -> np.ndarray:
    by_index = {j: f for j, f in buf}
    return np.stack([by_index.get(int(i), last) for i in indices])


@dataclass
class StreamItem:
    kind: str  # "clip" | "end" | "error"
    video: str
    index: int = 0
    clip: np.ndarray | None = None
    message: str = ""


class ClipStream:
    """Decode the clips of many videos in background threads.

    Iterating yields :class:`StreamItem`: each video's ``clip`` items in order, then one
    ``end`` (``index`` = number of clips) or one ``error`` (the video's clips so far must be
    discarded). With ``workers > 1`` several videos decode at once and their items
    interleave; consumers place clips by (video, index), not by arrival. The bounded queue
    keeps decoding a little ahead of the model.
    """

    def __init__(self, videos: Iterable[tuple[str, Path, VideoInfo]], spec: ClipSpec, backend: str = "auto",
                 prefetch: int = 64, workers: int = 1):
        self._videos = iter(list(videos))
        self._lock = threading.Lock()
        self._spec = spec
        self._backend = backend
        self._q: queue.Queue = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"vadflow-decoder-{i}", daemon=True)
                         for i in range(max(1, int(workers)))]

    def _put(self, item: StreamItem) -> bool:
        return put_unless_stopped(self._q, item, self._stop)

    def _next_video(self) -> tuple[str, Path, VideoInfo] | None:
        with self._lock:
            return next(self._videos, None)

    def _run(self) -> None:
        try:
            while (job := self._next_video()) is not None:
                vid, path, info = job
                k = 0
                try:
                    for clip in iter_clips(path, self._spec, info, self._backend):
                        if not self._put(StreamItem("clip", vid, k, clip)):
                            return
                        k += 1
                except Exception as exc:  # noqa: BLE001 - reported per video, the stream goes on
                    self._put(StreamItem("error", vid, k, message=str(exc)))
                    continue
                self._put(StreamItem("end", vid, k))
        finally:
            self._put(StreamItem("done", ""))

    def __iter__(self) -> Iterator[StreamItem]:
        for t in self._threads:
            t.start()
        running = len(self._threads)
        try:
            while running:
                item = self._q.get()
                if item.kind == "done":
                    running -= 1
                    continue
                yield item
        finally:
            self._stop.set()
            for t in self._threads:
                t.join(timeout=5)
