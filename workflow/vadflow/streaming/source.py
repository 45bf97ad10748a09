"""Live frame sources for ``vadflow watch``: a video file, a URL (RTSP/HTTP/...), standard input
or a camera index, decoded incrementally in a background thread.

The reader thread hands frames over a bounded queue; the consumer waits at most ``timeout``
seconds for the next one, so a stalled or broken source ends in a :class:`SourceError` naming
the source instead of a hang. Files and URLs are decoded with PyAV (FFmpeg, the library that
writes and reads the workflow's videos), camera indices with OpenCV.
"""
from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from vadflow.video.decoder import put_unless_stopped

log = logging.getLogger(__name__)

#: frame rate assumed when the source does not say (UCF-Crime's 30 fps); ``--fps`` overrides.
DEFAULT_FPS = 30.0


class SourceError(RuntimeError):
    """The source cannot be opened, stalls past the read timeout, or breaks mid-stream."""


@dataclass
class Frame:
    index: int
    image: np.ndarray  # RGB uint8 [H, W, 3]
    arrived: float  # time.perf_counter() when the frame was read


@dataclass
class _Info:
    fps: float | None
    kind: str


_END = object()


class FrameSource:
    """Iterate :meth:`frames` to receive :class:`Frame` items in order.

    ``pace``: release frames at the source's frame rate (a file replayed as if it were a live
    camera). ``fps``: overrides the rate the source reports; with neither, DEFAULT_FPS.
    """

    def __init__(self, source: str, fps: float | None = None, timeout: float = 10.0, pace: bool = False, queue_size: int = 64):
        self.source = str(source)
        self.timeout = float(timeout)
        self.pace = bool(pace)
        self._fps_override = fps
        self.fps = float(fps) if fps else DEFAULT_FPS
        self.fps_known = bool(fps)
        self.kind = "?"
        self._q: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vadflow-watch-reader", daemon=True)

    # -- reader thread ------------------------------------------------------------------
    def _put(self, item: Any) -> bool:
        return put_unless_stopped(self._q, item, self._stop)

    def _run(self) -> None:
        try:
            if self.source.isdigit():
                self._run_camera(int(self.source))
            else:
                self._run_av()
        except Exception as exc:  # noqa: BLE001 - every failure reaches the consumer as a SourceError
            self._put(SourceError(f"source {self.source}: {type(exc).__name__}: {exc}"))
            return
        self._put(_END)

    def _paced(self, t0: float, i: int, fps: float) -> None:
        if self.pace:
            wait = t0 + i / fps - time.perf_counter()
            if wait > 0:
                time.sleep(wait)

    def _run_av(self) -> None:
        import av

        target: Any = sys.stdin.buffer if self.source == "-" else self.source
        with av.open(target, timeout=(self.timeout, self.timeout)) as container:
            if not container.streams.video:
                raise SourceError("no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate
            self._put(_Info(float(rate) if rate else None, "stdin" if self.source == "-" else "av"))
            fps = self._fps_override or (float(rate) if rate else DEFAULT_FPS)
            t0 = time.perf_counter()
            for i, frame in enumerate(container.decode(stream)):
                self._paced(t0, i, fps)
                if not self._put(Frame(i, frame.to_ndarray(format="rgb24"), time.perf_counter())):
                    return

    def _run_camera(self, index: int) -> None:
        import cv2

        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            raise SourceError(f"camera {index} cannot be opened")
        try:
            rate = cap.get(cv2.CAP_PROP_FPS)
            self._put(_Info(float(rate) if rate and rate > 0 else None, "camera"))
            i = 0
            while not self._stop.is_set():
                ok, bgr = cap.read()
                if not ok:
                    break
                if not self._put(Frame(i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.perf_counter())):
                    return
                i += 1
        finally:
            cap.release()

    # -- consumer ---------------------------------------------------------------------
    def _get(self, stop: threading.Event | None, what: str) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            if stop is not None and stop.is_set():
                return _END
            try:
                return self._q.get(timeout=0.1)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise SourceError(f"source {self.source}: no {what} for {self.timeout:g} s (read timeout); the stream stalled "
                                      "or the source is unreachable") from None

    def frames(self, stop: threading.Event | None = None) -> Iterator[Frame]:
        """Frames until end of stream or until ``stop`` is set; SourceError on a stall or failure."""
        self._thread.start()
        try:
            while True:
                item = self._get(stop, "data" if self.kind == "?" else "frame")
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                if isinstance(item, _Info):
                    self.kind = item.kind
                    if not self._fps_override:
                        self.fps_known = item.fps is not None
                        self.fps = item.fps or DEFAULT_FPS
                        if item.fps is None:
                            log.warning("source %s does not report its frame rate; assuming %g fps (set --fps)", self.source, DEFAULT_FPS)
                    continue
                yield item
        finally:
            self._stop.set()
