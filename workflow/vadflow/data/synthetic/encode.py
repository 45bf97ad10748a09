"""MPEG-4 Part 2 writer (PyAV's bundled FFmpeg), the codec UCF-Crime's ``_x264`` files decode like."""
from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# Fixed quantiser 3 (1 is best, 31 worst): events of a few grey levels and 1-px jitter
# survive compression, and files stay small (a 15 s video at 160x120 is about 1 MB).
QSCALE = 3


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: int) -> int:
    """Encode RGB uint8 ``[H, W, 3]`` frames to ``path`` as yuv420p mpeg4; return the frame count.

    One encoder thread keeps the output independent of the machine's core count.
    """
    n = 0
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        cc = stream.codec_context
        cc.thread_count = 1
        # Fixed-quantiser mode: PyAV frames carry no per-frame quality, so the quantiser
        # is pinned through its bounds (global_quality alone is ignored).
        cc.qscale = True
        cc.qmin = cc.qmax = QSCALE
        for frame in frames:
            if n == 0:
                stream.height, stream.width = frame.shape[:2]
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = n
            container.mux(stream.encode(vf))
            n += 1
        container.mux(stream.encode(None))
    return n
