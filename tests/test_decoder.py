"""Clip indexing, geometry, probing and decoding of real (tiny) mp4 files."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import ramp_frames, write_mp4
from vadflow.video.decoder import ClipStream, DecodeError, iter_clips, probe
from vadflow.video.geometry import ClipSpec, clip_frame_indices, crop_box, n_clips, resized_size


@pytest.mark.parametrize(
    "n, L, S, tail, k",
    [(0, 16, 16, "drop", 0), (10, 16, 16, "drop", 1), (16, 16, 16, "drop", 1), (31, 16, 16, "drop", 1), (32, 16, 16, "drop", 2),
     (47, 16, 16, "drop", 2), (47, 16, 16, "pad", 3), (48, 16, 16, "pad", 3), (100, 16, 8, "drop", 11), (100, 16, 8, "pad", 12),
     (100, 79, 16, "drop", 2)],
)
def test_clip_count(n, L, S, tail, k):
    assert n_clips(n, L, S, tail) == k


def test_tail_rule_and_padding_indices():
    idx = clip_frame_indices(40, 16, 16, "pad")
    assert idx.shape == (3, 16)
    assert idx[2].tolist() == list(range(32, 40)) + [39] * 8  # last partial clip repeats the last frame
    assert clip_frame_indices(40, 16, 16, "drop")[-1].tolist() == list(range(16, 32))  # frames 32-39 dropped
    assert clip_frame_indices(10, 16, 16, "drop")[0].tolist() == list(range(10)) + [9] * 6  # short video: one padded clip


def test_geometry():
    assert resized_size(120, 160, 128) == (128, 171)  # short side, aspect kept
    assert resized_size(240, 320, (128, 171)) == (128, 171)
    assert crop_box(128, 171, 112) == (8, 29, 112, 112)  # C3D's Caffe crop [8:120, 29:141]
    with pytest.raises(ValueError, match="larger than the resized frame"):
        crop_box(100, 100, 112)


@pytest.fixture(scope="module")
def ramp_video(tmp_path_factory):
    return write_mp4(tmp_path_factory.mktemp("v") / "ramp.mp4", ramp_frames(45))


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_probe_and_clips_in_order(ramp_video, backend):
    info = probe(ramp_video, backend)
    assert (info.n_frames, info.width, info.height) == (45, 64, 48)
    assert info.fps == pytest.approx(30)
    spec = ClipSpec(clip_len=16, stride=8, resize=32, crop=24, tail="drop")
    clips = list(iter_clips(ramp_video, spec, info, backend))
    assert len(clips) == n_clips(45, 16, 8) == 4
    assert clips[0].shape == (16, 24, 24, 3) and clips[0].dtype == np.uint8
    # Grey level encodes the frame index (5 per frame): clip i starts at frame 8*i, in order.
    expected = (np.arange(45) * 5 + 2)[clip_frame_indices(45, 16, 8)]
    got = np.stack([c[:, 12, 12, 0] for c in clips]).astype(int)
    assert np.abs(got - expected).max() <= 6  # mpeg4 at qscale 2 is near-lossless on flat frames


def test_spread_clip_indices_by_hand():
    # linspace(0, 99, 16) = 0, 6.6, 13.2, 19.8, 26.4, 33, 39.6, 46.2, ... rounded half up.
    assert clip_frame_indices(100, 16, 16, "spread").tolist() == [[0, 7, 13, 20, 26, 33, 40, 46, 53, 59, 66, 73, 79, 86, 92, 99]]
    assert clip_frame_indices(4, 8, 8, "spread").tolist() == [[0, 0, 1, 1, 2, 2, 3, 3]]  # 0, 3/7, 6/7, 9/7, ...
    assert [n_clips(n, 16, 16, "spread") for n in (0, 1, 16, 1000)] == [0, 1, 1, 1]


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_spread_clip_decodes_the_spread_frames(ramp_video, backend, monkeypatch):
    import vadflow.video.decoder as dec

    resized = []
    real_resize = dec._resize
    monkeypatch.setattr(dec, "_resize", lambda frame, size: resized.append(1) or real_resize(frame, size))
    info = probe(ramp_video, backend)
    spec = ClipSpec(clip_len=16, stride=16, resize=32, crop=24, tail="spread")
    clips = list(iter_clips(ramp_video, spec, info, backend))
    assert len(resized) == 16  # only the spread frames are converted and resized, not all 45
    assert len(clips) == 1 and clips[0].shape == (16, 24, 24, 3)
    # linspace(0, 44, 16) steps by 44/15 = 2.933: 20.53 -> 21, 23.47 -> 23, 26.4 -> 26.
    frames = [0, 3, 6, 9, 12, 15, 18, 21, 23, 26, 29, 32, 35, 38, 41, 44]
    got = clips[0][:, 12, 12, 0].astype(int)
    assert np.abs(got - (np.array(frames) * 5 + 2)).max() <= 6


def test_corrupt_and_empty_files(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(DecodeError, match="empty.mp4.*0 bytes"):
        probe(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DecodeError, match="junk.mp4"):
        probe(junk)


def test_stream_reports_errors_and_goes_on(ramp_video, tmp_path):
    info = probe(ramp_video)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    spec = ClipSpec(16, 16, None, None)
    items = list(ClipStream([("a", ramp_video, info), ("bad", bad, info), ("b", ramp_video, info)], spec, prefetch=2))
    kinds = [(i.kind, i.video) for i in items if i.kind != "clip"]
    assert kinds == [("end", "a"), ("error", "bad"), ("end", "b")]
    assert sum(i.kind == "clip" and i.video == "b" for i in items) == 2
    assert "bad.mp4" in next(i.message for i in items if i.kind == "error")


def test_decord_opens_are_serialised(ramp_video, monkeypatch):
    """FFmpeg 4 (decord's) fills static decoder tables on first open without a lock; opening
    two readers at once once aborted CI. Probes from many threads must never open concurrently."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import decord

    real = decord.VideoReader
    inside, most = [0], [0]
    guard = threading.Lock()

    def watched(*args, **kwargs):
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.02)  # widen the window so overlapping opens would be seen
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(decord, "VideoReader", watched)
    with ThreadPoolExecutor(max_workers=6) as pool:
        infos = list(pool.map(lambda _: probe(ramp_video, backend="decord"), range(12)))
    assert [i.n_frames for i in infos] == [45] * 12
    assert most[0] == 1
