"""End to end: the realtime method through the workflow, and `vadflow watch` on a synthetic mp4
against the offline scores.h5 of the same models (tiny config)."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import ROOT

pytestmark = pytest.mark.e2e

TINY = {
    "dataset": "synthetic",
    "datasets": {
        "synthetic": {
            "kind": "synthetic",
            "generator": {"seed": 3, "n_train_normal": 4, "n_train_anomalous": 4, "n_test_normal": 2, "n_test_anomalous": 3,
                          "n_val_normal": 1, "n_val_anomalous": 1,
                          "duration_s": [2, 4], "width": 80, "height": 64, "classes": ["Explosion", "Fighting"],
                          "short_video_prob": 0.0},
        },
    },
    "features": {
        # batch_size 1 and the PyAV decoder: the conditions under which online features are the cached ones bit for bit
        # (batches of 8 differ by ~1e-6 relative, which standardisation and float16 storage turn into ~2e-5 in scores).
        "i3d": {"backbone": "i3d", "weights": "random", "clip_len": 16, "stride": 16, "resize": 64, "crop": 64, "shards": 1,
                "batch_size": 1, "decoder": "pyav"},
        # ADOR's action maps: 2x2 Mixed_5c tokens at 64 px; 8-frame clips give the longest test video 13 clips (4 windows of 6).
        "i3d_map": {"backbone": "i3d_map", "weights": "random", "clip_len": 8, "stride": 8, "resize": 64, "crop": 64, "shards": 1,
                    "batch_size": 1, "decoder": "pyav"},
        "rt_rgb": {"backbone": "resnet50_2d", "weights": "random", "frame_steps": {"train": [10], "test": [3]}, "resize": [32, 32],
                   "preprocess": "caffe_bgr", "dtype": "float32", "shards": 1, "batch_size": 1, "decoder": "pyav"},
        "rt_flow": {"backbone": "resnet50_2d", "weights": "random", "seed": 1, "input": "flow_image", "frame_steps": {"train": [10], "test": [3]},
                    "resize": [32, 32], "preprocess": "caffe_bgr", "dtype": "float32", "shards": 1, "batch_size": 1, "decoder": "pyav"},
    },
    "detectors": {"blobs": {"backend": "background", "features": "rt_rgb", "roi": {"features": False}, "decoder": "pyav"},
                  "objs": {"backend": "background", "features": "i3d_map", "decoder": "pyav", "batch_size": 1}},
    "methods": {
        "adnet": {"kind": "adnet", "features": "i3d", "window": 4, "stages": 2, "layers": 2, "epochs": 2},
        "mlp": {"kind": "mlp", "features": "i3d", "window": 4, "epochs": 2},
        # test_window differs from window, so the stream must window z as scoring does (test_window), not as training.
        "ador": {"kind": "ador", "features": "i3d_map", "detections": "objs", "window": 4, "test_window": 6, "stages": 2, "layers": 2,
                 "channels": 8, "d_model": 16, "heads": 2, "ffn": 32, "half_layers": 1, "epochs": 2, "batch_size": 4, "standardize": True},
        "realtime": {"kind": "realtime", "features": "rt_rgb", "flow_features": "rt_flow", "detections": "blobs", "bag_conf": 0.2,
                     "hidden": 32, "batch_size": 4, "epochs": 3, "lr": 1.0e-4, "standardize": True, "test_stride": 3, "sampling": [10, 10]},
    },
}


def run(workdir, *args, check=True, timeout=1800):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}")
    return res


def vadflow(*args, timeout=600, **kw):
    return subprocess.run([sys.executable, "-m", "vadflow.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")}, **kw)


@pytest.fixture(scope="module")
def wd(tmp_path_factory):
    wd = tmp_path_factory.mktemp("rt")
    (wd / "config").mkdir()
    (wd / "config" / "config.yaml").write_text(yaml.safe_dump(TINY))
    run(wd, "results/synthetic/summary.csv")
    return wd


@pytest.fixture(scope="module")
def video(wd):
    """The longest test video, and its offline scores per method."""
    man = pd.read_csv(wd / "results/synthetic/manifest.csv")
    row = man[man["split"] == "test"].sort_values("frames").iloc[-1]
    return row, wd / "data/synthetic" / row["path"]


def offline(wd, method, vid):
    with h5py.File(wd / f"results/synthetic/{method}/scores.h5") as f:
        return f[vid][()]


def test_realtime_end_to_end(wd):
    auc = pd.read_csv(wd / "results/synthetic/realtime_auc.csv")
    assert auc["method"].tolist() == ["realtime"] and 0.0 <= auc["auc"].iloc[0] <= 1.0
    vl = pd.read_csv(wd / "results/synthetic/realtime_vl.csv")
    assert vl["n_anomalous"].iloc[0] == 3 and vl["n_normal"].iloc[0] == 2
    res = json.loads((wd / "results/synthetic/realtime/resources.json").read_text())
    assert res["params"]["rgb_backbone"] == res["params"]["flow_backbone"] == 23_508_032 and res["flops_per_frame"]["rgb_backbone"] > 0
    assert {"decode", "rgb_backbone", "flow_image", "flow_backbone", "detector", "head", "sas", "end_to_end"} <= set(res["stages"])
    assert res["streams"] == 2 and "reduced bag" in res["bag_note"]
    html = (wd / "results/synthetic/report.html").read_text()
    assert "Video-level decisions and cost" in html and "no pretraining, not comparable" in html and "reduced bag" in html
    model = torch.load(wd / "results/synthetic/realtime/model.pt", weights_only=True)
    assert model["state"]["dims"] == {"rgb": 2048, "flow": 2048, "bag": 1}  # 2S-bag, with a 1-d (class-less) bag
    with h5py.File(wd / "results/synthetic/realtime/scores.h5") as f:
        s = f[list(f)[0]][()]
    assert np.array_equal(s[1::3], s[0::3][: len(s[1::3])]) and np.array_equal(s[2::3], s[0::3][: len(s[2::3])])  # held (test_stride 3)


@pytest.mark.parametrize("method", ["realtime", "mlp"])
def test_watch_causal_methods_equal_offline_scores(wd, video, method, tmp_path):
    row, path = video
    out = tmp_path / f"{method}.csv"
    res = vadflow("watch", "--model", wd / f"results/synthetic/{method}/model.pt", path, "--out", out)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "frames/s" in res.stderr and "x the source's 30 fps" in res.stderr
    got = pd.read_csv(out)
    assert got["frame"].tolist() == list(range(row["frames"]))
    np.testing.assert_allclose(got["score"].to_numpy(), offline(wd, method, row["id"]), atol=1e-5)
    if method == "realtime":
        from vadflow.sas import sas_series

        np.testing.assert_allclose(got["sas"].to_numpy(), sas_series(offline(wd, method, row["id"])), atol=1e-5)


def test_watch_windows_exact_equals_offline_causal_differs(wd, video, tmp_path):
    row, path = video
    model = wd / "results/synthetic/adnet/model.pt"
    exact, causal = tmp_path / "exact.jsonl", tmp_path / "causal.csv"
    assert vadflow("watch", "--model", model, path, "--out", exact, "--windows", "exact").returncode == 0
    res = vadflow("watch", "--model", model, path, "--out", causal, "--stats", tmp_path / "stats.json")
    assert res.returncode == 0, res.stderr[-3000:]
    ref = offline(wd, "adnet", row["id"])
    got = [json.loads(line) for line in exact.read_text().splitlines()]
    np.testing.assert_allclose([r["score"] for r in got], ref, atol=1e-5)
    diff = np.abs(pd.read_csv(causal)["score"].to_numpy() - ref)
    print(f"adnet causal windows vs offline on {row['id']}: max |diff| {diff.max():.4f}, mean {diff.mean():.4f}")
    assert diff.max() > 1e-6  # the causal stream really emits each window's newest half, not the offline merge
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["frames"] == row["frames"] and stats["fps"] > 0 and stats["ended"] == "end of stream"


def test_watch_ador_exact_equals_offline_causal_differs(wd, video, tmp_path):
    """ADOR online: i3d_map maps and background-subtraction objects on each clip's centre frame,
    encoded per clip, then TCN windows of z; --windows exact is the offline scores.h5."""
    row, path = video
    with h5py.File(wd / "results/synthetic/detections/objs.h5") as f:
        assert f[row["id"]]["valid"][()].any(axis=1).mean() > 0.5  # most clips hold objects: the object stream is exercised
    model = wd / "results/synthetic/ador/model.pt"
    exact, causal = tmp_path / "exact.csv", tmp_path / "causal.csv"
    for out, mode in ((exact, "exact"), (causal, "causal")):
        res = vadflow("watch", "--model", model, path, "--out", out, "--windows", mode)
        assert res.returncode == 0, res.stderr[-3000:]
    ref = offline(wd, "ador", row["id"])
    got = pd.read_csv(exact)
    assert got["frame"].tolist() == list(range(row["frames"]))
    np.testing.assert_allclose(got["score"].to_numpy(), ref, atol=1e-5)
    diff = np.abs(pd.read_csv(causal)["score"].to_numpy() - ref)
    print(f"ador causal windows vs offline on {row['id']}: max |diff| {diff.max():.4f}, mean {diff.mean():.4f}")
    assert diff.max() > 1e-6  # causal emits each window's newest half from that window alone


def test_watch_ador_with_a_precomputed_detector_is_a_clear_error(wd, tmp_path):
    """Imported detections cannot be made on a live stream: the error names the detector and its backend."""
    from vadflow.methods.base import MethodError
    from vadflow.streaming.watch import build_scorer

    blob = torch.load(wd / "results/synthetic/ador/model.pt", weights_only=True)
    det = blob["origin"]["detections"]
    cfg = {**json.loads(det["config"]), "backend": "precomputed", "precomputed": {"format": "npz", "path": str(tmp_path / "butd")}}
    det.update(config=json.dumps(cfg), backend="precomputed")
    torch.save(blob, tmp_path / "model.pt")
    with pytest.raises(MethodError, match=r"detector 'objs' \(backend precomputed\) imports detections .* cannot detect on a live stream"):
        build_scorer(tmp_path / "model.pt")


def test_watch_sigint_mid_stream_leaves_a_complete_file(wd, video, tmp_path):
    _, path = video
    out = tmp_path / "live.csv"
    proc = subprocess.Popen([sys.executable, "-m", "vadflow.cli", "watch", "--model", str(wd / "results/synthetic/realtime/model.pt"),
                             str(path), "--out", str(out), "--pace"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    deadline = time.time() + 300
    tmp = lambda: list(tmp_path.glob(".live.csv.*.tmp"))  # noqa: E731
    while time.time() < deadline and not (tmp() and len(tmp()[0].read_text().splitlines()) > 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert "interrupted" in err and out.is_file() and not tmp()
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["frame", "time_s", "score", "sas", "alarm", "latency_ms"]
    frames = [int(r[0]) for r in rows[1:]]
    assert 5 <= len(frames) and frames == list(range(len(frames))) and all(len(r) == 6 for r in rows)
