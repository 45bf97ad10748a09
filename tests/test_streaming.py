"""Online scoring parts of `vadflow watch` against their offline counterparts (no video needed)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vadflow.methods.base import VideoData
from vadflow.methods.mapping import clip_to_frames
from vadflow.streaming.scorers import FrameMapper, Windowed


def _stream_mapper(scores, clip_len, stride, n, mapping="average"):
    m = FrameMapper(clip_len, stride, mapping)
    out = np.full(n, np.nan)
    for s in scores:
        e = m.push(s)
        out[e.start : e.start + len(e.scores)] = e.scores
        assert not np.isnan(out[: e.start]).any()  # frames come out in order, none skipped
    e = m.finish(n)
    if e is not None:
        out[e.start : e.start + len(e.scores)] = e.scores
    return out


@pytest.mark.parametrize("clip_len,stride,n", [(16, 16, 100), (16, 8, 90), (8, 16, 100), (16, 16, 16), (5, 3, 40)])
@pytest.mark.parametrize("mapping", ["average", "cell"])
def test_frame_mapper_equals_offline_mapping(clip_len, stride, n, mapping):
    from vadflow.video.geometry import n_clips

    k = n_clips(n, clip_len, stride, "drop")
    scores = np.random.default_rng(k).random(k)
    online = _stream_mapper(scores, clip_len, stride, n, mapping)
    assert np.allclose(online, clip_to_frames(scores, n, clip_len, stride, mapping), atol=1e-12)


def _adnet(width, dim=6, seed=0):
    from vadflow.methods.adnet import ADNet

    m = ADNet({"window": width, "stages": 2, "layers": 3, "channels": 8, "device": "cpu"})
    torch.manual_seed(seed)
    m.in_dim = dim
    m.net = m.build(dim).eval()
    return m


def _windowed(model, mode):
    """The Windowed logic of a model's online plan (what vadflow watch builds)."""
    plan = model.online()
    return Windowed(plan.window, plan.window_scores, mode), plan.row


def _stream_windows(model, feats, mode):
    w, row = _windowed(model, mode)
    got = {}
    for k, f in enumerate(feats):
        for i, s in w.push(k, row(f)):
            assert i not in got
            got[i] = s
    for i, s in w.finish():
        got[i] = s
    assert sorted(got) == list(range(len(feats)))
    return np.array([got[i] for i in range(len(feats))]), w


@pytest.mark.parametrize("n", [3, 8, 13, 16, 30])
def test_windows_exact_mode_equals_offline_merge(n):
    model = _adnet(8)
    feats = np.random.default_rng(n).normal(size=(n, 6)).astype(np.float32)
    video = VideoData(id="v", features=feats, n_frames=n, clip_len=1, stride=1, anomalous=False)
    online, _ = _stream_windows(model, feats, "exact")
    np.testing.assert_allclose(online, model.score(video), atol=1e-5)


def test_windows_causal_mode_uses_each_windows_newest_half():
    n, width = 30, 8
    model = _adnet(width)
    feats = np.random.default_rng(1).normal(size=(n, 6)).astype(np.float32)
    online, _ = _stream_windows(model, feats, "causal")
    offline = model.score(VideoData(id="v", features=feats, n_frames=n, clip_len=1, stride=1, anomalous=False))
    w, row = _windowed(model, "causal")
    w.feats = {k: row(f) for k, f in enumerate(feats)}
    first = w._run([0], n)[0]
    np.testing.assert_allclose(online[:width], first, atol=1e-6)  # window 0 whole
    second = w._run([4], n)[0]
    np.testing.assert_allclose(online[8:12], second[4:], atol=1e-6)  # window 1: its newest half only
    assert np.abs(online - offline).max() > 1e-4  # the causal stream differs from the offline merge


def test_windows_whole_video_scores_at_end_only():
    model = _adnet(0)
    feats = np.random.default_rng(2).normal(size=(12, 6)).astype(np.float32)
    w, row = _windowed(model, "causal")
    assert all(w.push(k, row(f)) == [] for k, f in enumerate(feats))
    got = dict(w.finish())
    offline = model.score(VideoData(id="v", features=feats, n_frames=12, clip_len=1, stride=1, anomalous=False))
    np.testing.assert_allclose([got[i] for i in range(12)], offline, atol=1e-5)


def test_stalled_source_raises_after_the_read_timeout(tmp_path):
    """A stream that delivers a few frames and then goes silent ends in a SourceError, not a hang."""
    import io
    import os
    import threading
    import time

    import av

    from vadflow.streaming.source import FrameSource, SourceError

    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        st = out.add_stream("mpeg2video", rate=30)
        st.width, st.height, st.pix_fmt = 32, 32, "yuv420p"
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 8, np.uint8), format="rgb24")
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    fifo = tmp_path / "live.ts"
    os.mkfifo(fifo)
    release = threading.Event()

    def writer():
        with open(fifo, "wb") as f:
            f.write(buf.getvalue())
            f.flush()
            release.wait(30)  # the stream stalls: the writer stays open and sends nothing more

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    src = FrameSource(str(fifo), timeout=1.0)
    got = 0
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="read timeout"):
        for _ in src.frames():
            got += 1
    release.set()
    assert 0 < got <= 30 and time.monotonic() - t0 < 20


def test_missing_source_is_a_clear_error(tmp_path):
    from vadflow.streaming.source import FrameSource, SourceError

    with pytest.raises(SourceError, match="nothing.mp4"):
        list(FrameSource(str(tmp_path / "nothing.mp4"), timeout=5).frames())


def _mpegts(n=12, size=32) -> bytes:
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        st = out.add_stream("mpeg2video", rate=25)
        st.width, st.height, st.pix_fmt = size, size, "yuv420p"
        for i in range(n):
            for pkt in st.encode(av.VideoFrame.from_ndarray(np.full((size, size, 3), i * 16, np.uint8), format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


def test_standard_input_source_reads_a_streamable_container(monkeypatch):
    import io
    import sys

    from vadflow.streaming.source import FrameSource

    monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": io.BytesIO(_mpegts())})())
    src = FrameSource("-", timeout=10)
    frames = list(src.frames())
    assert [f.index for f in frames] == list(range(12)) and frames[0].image.shape == (32, 32, 3)
    assert src.fps == 25 and src.fps_known and src.kind == "stdin"


def test_unknown_frame_rate_gets_the_documented_default():
    from vadflow.streaming import source as s

    class NoRate(s.FrameSource):
        def _run(self):
            self._put(s._Info(None, "test"))
            self._put(s.Frame(0, np.zeros((4, 4, 3), np.uint8), 0.0))
            self._put(s._END)

    src = NoRate("x", timeout=5)
    assert len(list(src.frames())) == 1 and src.fps == s.DEFAULT_FPS == 30.0 and not src.fps_known
    src = NoRate("x", fps=12.5, timeout=5)
    list(src.frames())
    assert src.fps == 12.5 and src.fps_known


def test_watch_finds_extractors_from_the_workflow_config(tmp_path):
    """--config: a model.pt without the origin of its inputs gets the extractor configs from the
    workflow config, dataset and method taken from the path results/<dataset>/<method>/model.pt."""
    import json

    import yaml

    from vadflow.jobs.watch import origin_from_config

    cfg = {"datasets": {"synthetic": {"kind": "synthetic", "overrides": {"features": {"i3d": {"crop": 64}}}}},
           "features": {"i3d": {"backbone": "i3d", "resize": 256, "crop": 224}},
           "methods": {"mlp": {"kind": "mlp", "features": "i3d"}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    model = tmp_path / "results/synthetic/mlp/model.pt"
    origin = origin_from_config(str(model), str(tmp_path / "c.yaml"), None, None)
    ext = json.loads(origin["features"][0]["config"])
    assert origin["features"][0]["extractor"] == "i3d" and ext["crop"] == 64 and ext["weights"] == "random"  # override + schema default
