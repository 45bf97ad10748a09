"""Optical flow (video/flow.py) and the weight-free ``flow`` extractor: flow values against known
motion, descriptors against hand-built clips, and bit-identical features through extraction."""
from __future__ import annotations

import shutil

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from conftest import write_mp4
from vadflow.data.manifest import COLUMNS
from vadflow.features.backbones import get_backbone
from vadflow.features.extract import extract_shard
from vadflow.features.writer import merge
from vadflow.video import flow as F

ALL = ("hof", "mbh", "mag", "diff", "accel")


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random grey texture spanning 0-255: enough structure for flow everywhere."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur((rng.random((h, w)) * 255).astype(np.float32), (0, 0), 1.5)
    return cv2.normalize(t, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def moving_square(x0: int, n: int = 8, h: int = 96, w: int = 192, size: int = 10) -> np.ndarray:
    """A bright square moving right at 1 px/frame on black, ``[n, h, w]`` grey."""
    frames = np.zeros((n, h, w), np.uint8)
    for t in range(n):
        frames[t, h // 2 - size // 2: h // 2 + size // 2, x0 + t: x0 + t + size] = 200
    return frames


def layout(cfg: F.FlowStatsConfig) -> dict[str, slice]:
    """Where each descriptor's values sit in one pooled half (max or mean) of the descriptor."""
    sizes = {"hof": cfg.bins, "mbh": 2 * cfg.bins, "mag": 2 + len(cfg.thresholds), "diff": 1, "accel": 1}
    out, at = {}, 0
    for name in cfg.descriptors:
        out[name] = slice(at, at + sizes[name])
        at += sizes[name]
    return out


def test_known_global_shift_gives_that_mean_flow():
    big = texture(200, 260)
    dy, dx = -1, 2  # content moves 2 px right and 1 px up
    prev = big[40:160, 40:200]
    nxt = big[40 - dy: 160 - dy, 40 - dx: 200 - dx]
    assert np.array_equal(nxt[:-1, 2:], prev[1:, :-2])  # the pair is the shift we claim
    flow = F.farneback(prev, nxt)
    assert flow.shape == (120, 160, 2) and flow.dtype == np.float32
    mean = flow[16:-16, 16:-16].reshape(-1, 2).mean(0)
    np.testing.assert_allclose(mean, [dx, dy], atol=0.05)
    # RGB input and a working resolution: half size, so half the shift in pixels.
    rgb = [np.repeat(f[..., None], 3, axis=2) for f in (prev, nxt)]
    half = F.farneback(*rgb, size=(60, 80))
    assert half.shape == (60, 80, 2)
    np.testing.assert_allclose(half[10:-10, 10:-10].reshape(-1, 2).mean(0), [dx / 2, dy / 2], atol=0.1)


def test_static_clip_has_no_motion_energy():
    cfg = F.FlowStatsConfig(descriptors=ALL)
    still = F.clip_descriptor(np.stack([texture(120, 160)] * 16), cfg)
    moving = F.clip_descriptor(np.stack([texture(140, 220)[10:130, 40 - 2 * t: 200 - 2 * t] for t in range(16)]), cfg)
    half = cfg.dim // 2
    at = layout(cfg)
    mag = at["mag"].start
    for pooled in (still[:half], still[half:]):  # max and mean over cells
        assert pooled[at["diff"]].max() == 0 and pooled[at["accel"]].max() < 0.05 and pooled[mag + 2: mag + 4].max() == 0  # no pixel over 1 or 3 px
    # Farnebäck leaves sub-pixel residue on texture; "no motion" is two orders below 1 px/frame.
    assert still.max() < 0.2 and still[half + mag] < 0.01
    # A 2 px/frame pan: mean magnitude 2, (nearly) every pixel over 1 px/frame, none over 3.
    assert moving[half + mag] == pytest.approx(2.0, abs=0.05)
    assert moving[half + mag + 2] > 0.95 and moving[half + mag + 3] < 0.01


def test_square_left_or_right_gives_the_same_pooled_descriptor():
    cfg = F.FlowStatsConfig(grid=(1, 2), descriptors=ALL)
    left, right = moving_square(43), moving_square(139)  # the same spot of the left and right cell
    grid = F.CellGrid(96, 192, cfg.grid)
    per_field = [d for d in cfg.descriptors if d != "accel"]
    per_cell = [np.mean([F.cell_descriptors(F.farneback(c[t], c[t + 1]), grid, cfg.bins, cfg.thresholds, per_field,
                                            (c[t], c[t + 1])) for t in range(len(c) - 1)], axis=0) for c in (left, right)]
    # The cells themselves swap: the motion is in cell 0 for one clip, in cell 1 for the other.
    assert per_cell[0][0, 0] > 0.01 and per_cell[0][1, 0] < 1e-3
    assert per_cell[1][1, 0] > 0.01 and per_cell[1][0, 0] < 1e-3
    a, b = F.clip_descriptor(left, cfg), F.clip_descriptor(right, cfg)
    assert np.abs(a).max() > 0.5
    np.testing.assert_allclose(a, b, atol=1e-3)
    # Rightward motion lands in HOF bin 0 (bins are centred on 0, 45, 90, ... degrees).
    hof = a[layout(cfg)["hof"]]
    assert hof.argmax() == 0 and hof[0] > 5 * np.delete(hof, 0).max()


def test_accel_separates_jitter_from_steady_motion():
    """A steady 2 px/frame pan has a constant flow (change ~0); a pan jittering between 0 and
    2 px offsets has flow +2, -2, +2, ... px/frame: a change of 4 px/frame between fields.
    The two have the same mean speed, which is what the other descriptors see."""
    big = texture(140, 240)
    steady = np.stack([big[10:130, 40 - 2 * t: 200 - 2 * t] for t in range(16)])
    jitter = np.stack([big[10:130, 40 - 2 * (t % 2): 200 - 2 * (t % 2)] for t in range(16)])
    cfg = F.FlowStatsConfig(descriptors=("accel", "mag"))
    half = cfg.dim // 2
    s, j = F.clip_descriptor(steady, cfg), F.clip_descriptor(jitter, cfg)
    assert s[half] < 0.05 and j[half] == pytest.approx(4.0, abs=0.1)  # mean over cells of the change
    assert s[half + 1] == pytest.approx(2.0, abs=0.05) and j[half + 1] == pytest.approx(2.0, abs=0.05)  # same speed
    with pytest.raises(ValueError, match="distinct names"):
        F.FlowStatsConfig.from_cfg({"descriptors": ["hof", "hof"]})


def test_flow_image_encodes_direction_as_hue():
    """docs/methods/realtime.md §2: HSV with H = angle / 2 (OpenCV's 0-180), S = 255, V = min-max magnitude."""
    big = texture(160, 200, seed=3)
    prev, nxt = big[20:140, 20:180], big[18:138, 20:180]  # content moves 2 px down: 90 degrees
    img = F.flow_image(prev, nxt, size=None)
    assert img.shape == (120, 160, 3) and img.dtype == np.uint8
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)[16:-16, 16:-16].reshape(-1, 3).astype(int)
    bright = hsv[hsv[:, 2] > 64]
    assert len(bright) > 100 and abs(np.median(bright[:, 0]) - 45) <= 2
    assert F.flow_image(prev, nxt).shape == (224, 224, 3)


def test_cell_grid_sums_and_maxima_match_brute_force():
    grid = F.CellGrid(10, 7, (3, 2))  # uneven cells: rows 4/3/3, cols 4/3
    idx = grid.index.reshape(10, 7)
    assert idx[0].tolist() == [0, 0, 0, 0, 1, 1, 1] and idx[:, 0].tolist() == [0] * 4 + [2] * 3 + [4] * 3
    v = np.random.default_rng(1).normal(size=(10, 7)).astype(np.float32)
    np.testing.assert_allclose(grid.mean(v), [v[idx == c].mean() for c in range(6)], rtol=1e-6)
    np.testing.assert_allclose(grid.max(v), [v[idx == c].max() for c in range(6)])
    with pytest.raises(ValueError, match="does not fit"):
        F.CellGrid(4, 4, (5, 1))


def test_backbone_matches_clip_descriptor_and_reports_its_dim():
    bb = get_backbone("flow")
    cfg = {"weights": "random", "descriptors": list(ALL), "grid": [2, 2], "bins": 4}
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (2, 5, 24, 32, 3), dtype=np.uint8)
    out = bb.build(cfg)(bb.normalize(torch.from_numpy(clips), cfg))
    assert out.shape == (2, bb.dim_for(cfg)) == (2, 2 * (4 + 8 + 4 + 1 + 1))
    ref = F.FlowStatsConfig.from_cfg(cfg)
    for i in range(2):
        assert np.array_equal(out[i].numpy(), F.clip_descriptor(clips[i], ref))
    assert bb.weights_id(cfg) == "weight-free"
    with pytest.raises(Exception, match="has no weights"):
        bb.build({"weights": "/some/file.pth"})


def test_same_video_twice_gives_bit_identical_features(tmp_path):
    """Two copies of one video (different ids, batch positions and shards of the clip list) and
    a second run into a fresh cache: every feature array is bit-identical."""
    rng = np.random.default_rng(5)
    base = texture(80, 120, seed=5)
    frames = np.stack([np.roll(base, (t // 3, t), axis=(0, 1)) for t in range(40)])
    frames = np.repeat(frames[..., None], 3, axis=3) + rng.integers(0, 3, (40, 80, 120, 3), dtype=np.uint8)
    write_mp4(tmp_path / "a.mp4", frames)
    shutil.copy(tmp_path / "a.mp4", tmp_path / "b.mp4")
    rows = [{"id": v, "path": f"{v}.mp4", "split": "test", "cls": "Normal", "anomalous": False, "frames": 40, "fps": 30.0,
             "width": 120, "height": 80, "status": "ok", "error": ""} for v in ("a", "b")]
    pd.DataFrame(rows, columns=COLUMNS).to_csv(tmp_path / "manifest.csv", index=False)
    cfg = {"backbone": "flow", "weights": "random", "clip_len": 8, "stride": 8, "resize": 60, "batch_size": 3,
           "device": "cpu", "decoder": "pyav", "dtype": "float32"}
    feats = []
    for run in ("one", "two"):
        receipt = tmp_path / run / "shard-0-of-1.json"
        extract_shard(tmp_path / "manifest.csv", tmp_path, cfg, "0-of-1", receipt, progress=False)
        merge([receipt], tmp_path / f"{run}.h5")
        with h5py.File(tmp_path / f"{run}.h5") as f:
            feats.append({k: f[k][()] for k in f})
            assert f["a"].attrs["weights"] == "weight-free" and f.attrs["dim"] == 60
    a = feats[0]["a"]
    assert a.shape == (5, 60) and a.dtype == np.float32 and np.abs(a).max() > 0.5  # 5 clips, real motion
    assert a.tobytes() == feats[0]["b"].tobytes() == feats[1]["a"].tobytes() == feats[1]["b"].tobytes()
