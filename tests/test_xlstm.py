"""Xception-LSTM clip extractor (docs/methods/mil.md §8, §10 item 10): the LSTM module, its Keras init,
pretraining, the pretraining sets, the derived feature file, the config keys, and an end-to-end
Snakemake run to results/synthetic/mil_xlstm_auc.csv on a tiny synthetic dataset."""
from __future__ import annotations

import copy
import json

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from vadflow import config as vc
from vadflow.features import lstm_clip as xl
from vadflow.features.backbones.frames import FrameModel
from vadflow.io import sha256_file
from vadflow.video.geometry import rnd, spread_indices


class TinyCNN(FrameModel):
    """Stand-in frame CNN: conv, ReLU, global average pool -> [N, C]."""

    def __init__(self, channels: int = 6) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(frames)).mean(dim=(2, 3))


# ----------------------------------------------------------------------------- module


def test_stand_in_cnn_gap_lstm_maps_clips_to_d_in_open_unit_interval():
    """§10.10: a tiny random CNN with GAP -> LSTM(d) maps [B, 16, 3, H, W] to [B, d] in (-1, 1)."""
    torch.manual_seed(0)
    d = 24
    model = xl.FrameLSTM(TinyCNN(6), xl.keras_init_(xl.LSTMClipEncoder(6, d), seed=1)).eval()
    x = torch.rand(3, 16, 3, 20, 28) * 255 - 127.5
    with torch.no_grad():
        y = model(x)
    assert y.shape == (3, d)
    assert torch.all(y > -1) and torch.all(y < 1) and y.abs().max() > 1e-3
    # The same as running the frame CNN per frame and the encoder on the [B, 16, C] sequence.
    with torch.no_grad():
        seq = model.frame_cnn.forward_frames(x.transpose(1, 2))  # FrameModel takes [B, 3, T, H, W]
        assert torch.allclose(model.encoder(seq), y, atol=1e-6)
    # h_16 is the last step of the LSTM's output sequence.
    with torch.no_grad():
        out, _ = model.encoder.lstm(seq)
    assert torch.allclose(out[:, -1], y, atol=1e-6)


def test_keras_init_forget_bias_one_and_seeded():
    enc = xl.keras_init_(xl.LSTMClipEncoder(40, 16), seed=7)
    lstm = enc.lstm
    d = 16
    assert torch.equal(xl.forget_bias(lstm), torch.ones(d))
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
    assert torch.all(b[:d] == 0) and torch.all(b[2 * d:] == 0)
    # Keras kernel [40, 4d] glorot-uniform; recurrent kernel orthogonal (orthonormal rows of [d, 4d]).
    limit = (6 / (40 + 4 * d)) ** 0.5
    assert lstm.weight_ih_l0.abs().max() <= limit and lstm.weight_ih_l0.abs().max() > 0.8 * limit
    w = lstm.weight_hh_l0.detach()
    assert torch.allclose(w.T @ w, torch.eye(d), atol=1e-5)
    # Seeded: the same seed reproduces every tensor, another seed does not; global RNG untouched.
    again = xl.LSTMClipEncoder(40, 16)  # torch's own init draws from the global RNG; keras_init_ does not
    state = torch.random.get_rng_state()
    xl.keras_init_(again, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (k, v), (_, v2) in zip(enc.state_dict().items(), again.state_dict().items()):
        assert torch.equal(v, v2), k
    other = xl.keras_init_(xl.LSTMClipEncoder(40, 16), seed=8)
    assert not torch.equal(other.lstm.weight_ih_l0, lstm.weight_ih_l0)
    clf = xl.keras_init_(xl.LSTMClassifier(40, 16, None, 5), seed=7)
    assert all(torch.all(m.bias == 0) for m in clf.head if isinstance(m, nn.Linear))


def test_head_sizes_follow_spec_and_a9():
    assert xl.head_sizes(1024) == [512, 128]
    assert xl.head_sizes(768) == [384, 96]
    assert xl.head_sizes(512) == [256, 64]
    assert xl.head_sizes(1024, [300, 30]) == [300, 30]
    clf = xl.LSTMClassifier(2048, 1024, None, 101)
    assert [m.out_features for m in clf.head if isinstance(m, nn.Linear)] == [512, 128, 101]


def toy_sequences(n_per_class: int = 24, t: int = 16, dim: int = 12, seed: int = 0) -> xl.Sequences:
    """Three classes of sequences: the class shows only as a direction in the last 4 steps."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(3):
        x = rng.normal(0, 1, (n_per_class, t, dim))
        x[:, -4:, c] += 3.0
        xs.append(x)
        ys += [f"class{c}"] * n_per_class
    return xl.Sequences(np.concatenate(xs).astype(np.float16), ys, [f"v{i}" for i in range(len(ys))])


def test_pretraining_learns_a_separable_toy_problem():
    data = toy_sequences()
    cfg = {"hidden": 16, "seed": 0, "device": "cpu",
           "pretrain": {"epochs": 25, "lr": 1e-2, "decay": 1e-3, "batch_size": 16, "eval_every": 5}}
    model, classes, hist = xl.pretrain(data, cfg, val=toy_sequences(8, seed=1))
    assert classes == ["class0", "class1", "class2"]
    assert [h["epoch"] for h in hist] == [1, 5, 10, 15, 20, 25]
    assert hist[-1]["train_loss"] < 0.5 * hist[0]["train_loss"]
    assert hist[-1]["train_top1"] >= 0.95 and hist[-1]["val_top1"] >= 0.9 and hist[-1]["val_top5"] == 1.0
    # Keras decay: after S steps the learning rate is lr / (1 + decay * S).
    steps = 25 * int(np.ceil(len(data) / 16))
    assert hist[-1]["lr"] == pytest.approx(1e-2 / (1 + 1e-3 * steps))
    # Deterministic from the seed.
    model2, _, hist2 = xl.pretrain(data, cfg)
    assert hist2[-1]["train_loss"] == pytest.approx(hist[-1]["train_loss"], rel=1e-5)
    assert torch.equal(model.encoder.lstm.weight_hh_l0, model2.encoder.lstm.weight_hh_l0)


# ----------------------------------------------------------------------------- pretraining sets


FRAME_CFG = {"backbone": "xception", "weights": "random", "seed": 0, "preprocess": "keras_squash", "resize": [64, 64], "crop": 64,
             "clip_len": 4, "stride": 4, "frames": True}


def write_frames(path, videos: dict[str, tuple[np.ndarray, int]], cfg=FRAME_CFG, failed=None):
    """A frame-sequence file as `vadflow merge` writes it for an extractor with frames: true."""
    with h5py.File(path, "w") as f:
        f.attrs.update({"extractor": "xframes", "backbone": cfg["backbone"], "config_hash": "f" * 16, "weights": "random-init",
                        "config": json.dumps(cfg), "layout": "clip_frames", "dim": 2048, "failed": json.dumps(failed or {})})
        for vid, (x, n_frames) in videos.items():
            ds = f.create_dataset(vid, data=x.astype(np.float16))
            ds.attrs.update({"extractor": "xframes", "clip_len": cfg["clip_len"], "stride": cfg["stride"], "tail": cfg.get("tail", "drop"), "fps": 30.0,
                             "n_frames": n_frames, "config_hash": "f" * 16, "weights": "random-init", "layout": "clip_frames",
                             "n_clips": len(x)})
    return path


def write_manifest(tmp_path, rows, labels):
    from vadflow.data.manifest import COLUMNS, write_manifest as wm

    table = pd.DataFrame([{"fps": 30.0, "width": 64, "height": 48, "status": "ok", "error": "", **r} for r in rows], columns=COLUMNS)
    wm(table, labels, tmp_path / "manifest.csv", tmp_path / "labels.h5")
    return tmp_path / "manifest.csv", tmp_path / "labels.h5"


def test_event_sequences_class_rule(tmp_path):
    rng = np.random.default_rng(0)
    # 5 clips of 4 frames; event frames 5..11 (0-based): clip 1 has 3 event frames, clip 2 has 4.
    lab = np.zeros(21, np.uint8)
    lab[5:12] = 1
    rows = [{"id": "a", "path": "a.mp4", "split": "train", "cls": "Fighting", "anomalous": True, "frames": 21},
            {"id": "n", "path": "n.mp4", "split": "train", "cls": "Normal", "anomalous": False, "frames": 9},
            {"id": "t", "path": "t.mp4", "split": "test", "cls": "Fighting", "anomalous": True, "frames": 9}]
    man, labels = write_manifest(tmp_path, rows, {"a": lab, "n": np.zeros(9, np.uint8), "t": np.ones(9, np.uint8)})
    frames = write_frames(tmp_path / "f.h5", {"a": (rng.normal(size=(5, 4, 8)), 21), "n": (rng.normal(size=(2, 4, 8)), 9),
                                             "t": (rng.normal(size=(2, 4, 8)), 9)})
    seq = xl.event_sequences(man, labels, frames, "train", snippet_threshold=2)
    # clip counts of a: [0, 3, 4, 0, 0] -> clips 1 and 2 exceed 2 -> Fighting; the test video is never used.
    assert seq.y == ["Normal", "Fighting", "Fighting", "Normal", "Normal", "Normal", "Normal"]
    assert seq.x.shape == (7, 4, 8) and seq.videos == ["a"] * 5 + ["n"] * 2
    seq3 = xl.event_sequences(man, labels, frames, "train", snippet_threshold=3)
    assert seq3.y == ["Normal", "Fighting", "Normal", "Normal", "Normal", "Normal"]  # clip 1 (3 frames) left out


def test_action_sequences_spread_frames_over_the_whole_video(tmp_path):
    # Per-frame feature = the frame index, so the picked frames can be read back.
    def video(n_frames, clip_len=4):
        k = -(-n_frames // clip_len)  # tail: pad covers every frame
        idx = np.minimum(np.arange(k * clip_len), n_frames - 1).reshape(k, clip_len)
        return np.repeat(idx[..., None], 3, axis=2).astype(np.float32), n_frames

    rows = [{"id": "v1", "path": "A/v1.avi", "split": "train", "cls": "A", "anomalous": False, "frames": 50},
            {"id": "v2", "path": "B/v2.avi", "split": "train", "cls": "B", "anomalous": False, "frames": 23},
            {"id": "v3", "path": "B/v3.avi", "split": "test", "cls": "B", "anomalous": False, "frames": 30}]
    man, _ = write_manifest(tmp_path, rows, {})
    frames = write_frames(tmp_path / "f.h5", {"v1": video(50), "v2": video(23), "v3": video(30)})
    seq = xl.action_sequences(man, frames, "train", n=16)
    assert seq.y == ["A", "B"] and seq.x.shape == (2, 16, 3)
    assert seq.x[0, :, 0].tolist() == spread_indices(50, 16).tolist()
    assert seq.x[1, :, 0].tolist() == spread_indices(23, 16).tolist()
    assert spread_indices(50, 16)[[0, -1]].tolist() == [0, 49]
    assert rnd(np.array([0.5, 1.5, 2.5])).tolist() == [1, 2, 3]  # rounds half up (A10)
    assert xl.action_sequences(man, frames, "test").y == ["B"]
    # A tail: spread cache holds exactly those frames, one clip per video, and is read as it is.
    spread = {"v1": (np.repeat(spread_indices(50, 16)[None, :, None], 3, axis=2).astype(np.float32), 50),
              "v2": (np.repeat(spread_indices(23, 16)[None, :, None], 3, axis=2).astype(np.float32), 23)}
    spread_cfg = {**FRAME_CFG, "clip_len": 16, "stride": 16, "tail": "spread"}
    seq_s = xl.action_sequences(man, write_frames(tmp_path / "s.h5", spread, spread_cfg), "train", n=16)
    assert seq_s.y == seq.y and np.array_equal(seq_s.x, seq.x)
    with pytest.raises(xl.PretrainError, match="spread over 16 frames; the LSTM pretrains on 8-frame"):
        xl.action_sequences(man, tmp_path / "s.h5", "train", n=8)


# ----------------------------------------------------------------------------- derived features


def test_derived_feature_file_shapes_and_attrs(tmp_path):
    rng = np.random.default_rng(1)
    videos = {"a": (rng.normal(size=(5, 4, 8)), 21), "b": (rng.normal(size=(1, 4, 8)), 6)}
    frames = write_frames(tmp_path / "frames.h5", videos, failed={"c": "corrupt"})
    cfg = {"name": "xlstm", "source": "lstm", "sequences": "xframes", "hidden": 6, "seed": 3, "device": "cpu", "standardize": True,
           "pretrain": {"epochs": 2, "lr": 1e-2, "batch_size": 4}}
    data = xl.Sequences(np.concatenate([videos["a"][0], videos["b"][0]]).astype(np.float16), ["x"] * 3 + ["y"] * 3, ["a"] * 6)
    model, classes, hist = xl.pretrain(data, cfg)
    with h5py.File(frames) as f:
        fattrs = dict(f.attrs)
    xl.save_model(tmp_path / "lstm.pt", model, classes, hist, cfg, fattrs, len(data))
    xl.derive_features(frames, tmp_path / "lstm.pt", cfg, tmp_path / "xlstm.h5", progress=False)
    sha = sha256_file(tmp_path / "lstm.pt")
    enc, state = xl.load_model(tmp_path / "lstm.pt")
    assert state["classes"] == ["x", "y"] and state["head_sizes"] == [3, 1]
    # standardize: the pretraining set's per-dimension statistics travel inside the encoder.
    assert torch.allclose(enc.in_mean, torch.from_numpy(data.x.astype(np.float32).reshape(-1, 8).mean(0)), atol=1e-4)
    with h5py.File(tmp_path / "xlstm.h5") as f:
        assert f.attrs["layout"] == "clips" and f.attrs["weights"] == sha and int(f.attrs["dim"]) == 6
        assert json.loads(f.attrs["failed"]) == {"c": "corrupt"}
        assert f.attrs["frames_extractor"] == "xframes"
        for vid, (x, n_frames) in videos.items():
            ds = f[vid]
            assert ds.shape == (len(x), 6)
            a = dict(ds.attrs)
            assert (a["clip_len"], a["stride"], a["n_frames"], a["fps"], a["layout"]) == (4, 4, n_frames, 30.0, "clips")
            assert a["weights"] == sha and a["extractor"] == "xlstm" and a["config_hash"] == vc.extractor_hash(xl.lstm_config(cfg))
            with torch.no_grad():
                want = enc(torch.from_numpy(x.astype(np.float16).astype(np.float32))).numpy()
            np.testing.assert_allclose(ds[()], want, atol=2e-3)
            assert np.all(np.abs(ds[()]) < 1)
    # Frames of another frame CNN (here: other preprocessing) are refused.
    other = write_frames(tmp_path / "other.h5", videos, cfg={**FRAME_CFG, "resize": [96, 96], "crop": 96})
    with pytest.raises(xl.PretrainError, match="frame CNN"):
        xl.derive_features(other, tmp_path / "lstm.pt", cfg, tmp_path / "bad.h5", progress=False)


# ----------------------------------------------------------------------------- config


def base_config(tmp_path=None) -> dict:
    cfg = {
        "dataset": "synthetic",
        "datasets": {"synthetic": {"kind": "synthetic"}},
        "features": {
            "xframes": {"backbone": "xception", "frames": True, "weights": "random", "clip_len": 16, "stride": 16,
                        "resize": [32, 32], "crop": 32, "preprocess": "keras_squash"},
            "xlstm": {"source": "lstm", "sequences": "xframes", "hidden": 8},
        },
        "methods": {"mil_xlstm": {"kind": "mil", "features": "xlstm", "segments": "seed001"}},
    }
    return validated(cfg)


def validated(cfg: dict) -> dict:
    from snakemake.utils import validate

    cfg = copy.deepcopy(cfg)
    validate(cfg, str(vc_root() / "workflow/schemas/config.schema.yaml"))
    vc.check(cfg)
    return cfg


def vc_root():
    from conftest import ROOT

    return ROOT


def test_config_lstm_source_inputs_command_and_defaults():
    cfg = base_config()
    p = vc.extractor_params(cfg, "synthetic", "xlstm")
    assert p["hidden"] == 8 and p["pretrain"]["epochs"] == 100 and p["pretrain"]["lr"] == 1e-5 and p["pretrain"]["decay"] == 1e-6
    assert "backbone" not in p and "shards" not in p and "weights" not in p
    assert vc.feature_inputs(cfg, "synthetic", "xlstm") == ["results/synthetic/features/xframes.h5", "results/synthetic/extractors/xlstm.pt"]
    cmd = vc.feature_command(cfg, "synthetic", "xlstm", vc.feature_inputs(cfg, "synthetic", "xlstm"), ["out.h5"])
    assert cmd.startswith("vadflow lstm-features") and "--model results/synthetic/extractors/xlstm.pt" in cmd
    assert vc.lstm_pretrain_inputs(cfg, "synthetic", "xlstm")["frames"] == "results/synthetic/features/xframes.h5"
    assert vc.lstm_pretrain_params(cfg, "synthetic", "xlstm")["pretrain_kind"] == "synthetic"
    assert vc.feature_layout(cfg, "synthetic", "xframes") == "clip_frames"
    assert vc.feature_layout(cfg, "synthetic", "xlstm") == "clips"
    assert vc.lstm_extractors(cfg) == ["xlstm"]
    assert vc.method_features(cfg, "synthetic", "mil_xlstm") == "results/synthetic/features/xlstm.h5"
    # A method reading the frame-sequence cache directly is refused when the DAG is built.
    bad = copy.deepcopy(cfg)
    bad["methods"]["mil_xlstm"]["features"] = "xframes"
    with pytest.raises(vc.ConfigError, match="clip_frames"):
        vc.method_features(bad, "synthetic", "mil_xlstm")


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["features"]["xlstm"].update(sequences="nope"), "sequences"),
    (lambda c: c["features"]["xframes"].pop("frames"), "frames: true"),
    (lambda c: c["features"]["xframes"].update(backbone="i3d"), "2-D frame backbone"),
    (lambda c: c["features"]["xlstm"].update(pretrain={"dataset": "nowhere"}), "pretrain.dataset"),
    (lambda c: c["datasets"].update(ucf101={"kind": "action_folder", "root": "x", "overrides": {"features": {"xframes": {"resize": [40, 40]}}}})
     or c["features"]["xlstm"].update(pretrain={"dataset": "ucf101"}), "must be pretrained on the frame features"),
    (lambda c: c["datasets"].update(ucf101={"kind": "action_folder", "root": "x"}) or c.update(dataset="ucf101"), "action_folder"),
    (lambda c: c["features"]["xframes"].update(tail="spread"), r"features.xframes.tail: spread .* dataset synthetic is scored"),
])
def test_config_errors_name_the_key(edit, match):
    cfg = base_config()
    edit(cfg)
    with pytest.raises(vc.ConfigError, match=match):
        vc.check(cfg)


def test_action_folder_manifest_and_pretraining_dataset_config(tmp_path):
    from conftest import ramp_frames, write_mp4
    from vadflow.data.manifest import build_manifest
    from vadflow.video.decoder import probe

    root = tmp_path / "UCF-101"
    for cls, vid in (("ApplyEyeMakeup", "v_ApplyEyeMakeup_g01_c01"), ("ApplyEyeMakeup", "v_ApplyEyeMakeup_g08_c01"), ("Archery", "v_Archery_g08_c02")):
        write_mp4(root / cls / f"{vid}.avi", ramp_frames(20, 32, 40), fps=25)
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "trainlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nArchery/v_Archery_g08_c02.avi 2\n")
    table, labels, facts = build_manifest({"kind": "action_folder", "root": str(root), "train_list": str(lists / "trainlist01.txt")}, probe=probe, progress=False)
    t = table.set_index("id")
    assert t.loc["v_ApplyEyeMakeup_g08_c01", "split"] == "train" and t.loc["v_ApplyEyeMakeup_g01_c01", "split"] == "test"
    assert t.loc["v_Archery_g08_c02", "cls"] == "Archery" and not t["anomalous"].any() and (t["status"] == "ok").all()
    assert t.loc["v_Archery_g08_c02", "frames"] == 20 and labels == {}
    # As the pretraining dataset of an lstm extractor on another dataset.
    cfg = base_config()
    cfg["datasets"]["ucf101"] = {"kind": "action_folder", "root": str(root), "train_list": str(lists / "trainlist01.txt"),
                                 "overrides": {"features": {"xframes": {"tail": "spread"}}}}
    cfg["datasets"]["synthetic"]["overrides"] = {"features": {"xlstm": {"pretrain": {"dataset": "ucf101"}}}}
    cfg = validated(cfg)
    assert vc.lstm_pretrain_inputs(cfg, "synthetic", "xlstm") == {
        "manifest": "results/ucf101/manifest.csv", "labels": "results/ucf101/labels.h5", "frames": "results/ucf101/features/xframes.h5"}
    assert vc.lstm_pretrain_params(cfg, "synthetic", "xlstm")["pretrain_kind"] == "action_folder"
    assert vc.dataset_inputs(cfg, "ucf101") == [str(lists / "trainlist01.txt")]
    # The DAG: UCF-101's manifest and frame cache alone feed the pretraining job of the synthetic LSTM.
    from test_workflow import planned_jobs, snakemake, write_config

    wf = yaml.safe_load(yaml.safe_dump(TINY_XLSTM))
    wf["datasets"]["ucf101"] = {"kind": "action_folder", "root": str(root), "train_list": str(lists / "trainlist01.txt"),
                                "overrides": {"features": {"xception_frames": {"tail": "spread"}}}}
    wf["datasets"]["synthetic"]["overrides"] = {"features": {"xception_lstm": {"pretrain": {"dataset": "ucf101"}}}}
    write_config(tmp_path, wf)
    assert planned_jobs(tmp_path, "results/synthetic/extractors/xception_lstm.pt") == {
        "manifest": 1, "extract_features": 1, "merge_features": 1, "pretrain_lstm": 1}
    # tail: spread runs the frame CNN on the 16 spread frames only: one [1, 16, 2048] clip per video.
    snakemake(tmp_path, "results/ucf101/features/xception_frames.h5")
    with h5py.File(tmp_path / "results/ucf101/features/xception_frames.h5") as f:
        assert sorted(f) == sorted(t.index) and all(f[v].shape == (1, 16, 2048) and f[v].attrs["tail"] == "spread" for v in f)


# ----------------------------------------------------------------------------- end to end


TINY_XLSTM = {
    "dataset": "synthetic",
    "datasets": {
        "synthetic": {
            "kind": "synthetic",
            "generator": {"seed": 3, "n_train_normal": 3, "n_train_anomalous": 3, "n_test_normal": 2, "n_test_anomalous": 2,
                          "duration_s": [1.5, 2.5], "width": 48, "height": 40, "classes": ["Explosion", "Fighting"],
                          "short_video_prob": 0.0},
        },
    },
    "features": {
        "xception_frames": {"backbone": "xception", "frames": True, "weights": "random", "preprocess": "keras_squash",
                            "resize": [32, 32], "crop": 32, "clip_len": 16, "stride": 16, "shards": 1},
        "xception_lstm": {"source": "lstm", "sequences": "xception_frames", "hidden": 8, "standardize": True,
                          "pretrain": {"epochs": 2, "lr": 1.0e-3, "eval_every": 1}},
    },
    "methods": {
        "mil_xlstm": {"kind": "mil", "features": "xception_lstm", "segments": "seed001", "hidden": [16, 8], "dropout": 0.4,
                      "lr": 0.2, "iterations": 20, "lambda_sparsity": 4.0e-5, "lambda_smooth": 4.0e-5, "lambda_weight": 1.0e-2},
    },
}


@pytest.mark.e2e
def test_mil_xlstm_end_to_end(tmp_path):
    from test_workflow import planned_jobs, snakemake, write_config

    write_config(tmp_path, TINY_XLSTM)
    snakemake(tmp_path, "results/synthetic/mil_xlstm_auc.csv")
    auc = pd.read_csv(tmp_path / "results/synthetic/mil_xlstm_auc.csv")
    assert auc["method"].iloc[0] == "mil_xlstm" and 0.0 <= auc["auc"].iloc[0] <= 1.0
    assert {"alarms_normal_pct", "alarms_anomalous_pct"} <= set(auc.columns)
    man = pd.read_csv(tmp_path / "results/synthetic/manifest.csv")
    pt = tmp_path / "results/synthetic/extractors/xception_lstm.pt"
    with h5py.File(tmp_path / "results/synthetic/features/xception_frames.h5") as fr, \
            h5py.File(tmp_path / "results/synthetic/features/xception_lstm.h5") as f:
        assert fr.attrs["layout"] == "clip_frames" and f.attrs["weights"] == sha256_file(pt)
        for r in man[man["status"] == "ok"].itertuples():
            k = max(1, r.frames // 16)
            assert fr[r.id].shape == (k, 16, 2048) and f[r.id].shape == (k, 8)
            assert f[r.id].attrs["n_frames"] == r.frames and f[r.id].attrs["layout"] == "clips"
    # The pretraining log has the spec's metrics.
    log = (tmp_path / "logs/synthetic/extractors/xception_lstm.log").read_text()
    assert "train_top1" in log and "train_top5" in log
    # An LSTM key reruns pretraining and what follows, not the frame extraction (and, with the
    # config back, nothing is left to do: checked by the exact job set).
    cfg = yaml.safe_load(yaml.safe_dump(TINY_XLSTM))
    cfg["features"]["xception_lstm"]["hidden"] = 6
    write_config(tmp_path, cfg)
    jobs = planned_jobs(tmp_path, "results/synthetic/mil_xlstm_auc.csv")
    assert jobs == {"pretrain_lstm": 1, "merge_features": 1, "train": 1, "score": 1, "evaluate": 1}
