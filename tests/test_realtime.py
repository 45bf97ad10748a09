"""Real-time two-stream method (docs/methods/realtime.md §12): SAS, loss, mining, sampling, labels,
head shapes and parameter counts, freezing, video-level metrics, vatic parsing."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vadflow.data.vatic import hard_mask, parse_rows, vatic_files, find_vatic
from vadflow.evaluation.video_level import video_level, vl_metrics
from vadflow.methods.base import MethodError, VideoData
from vadflow.methods.realtime import (HARD, NORMAL, SOFT, FusionHead, Realtime, TwoStreamNet, adaptive_keep, frame_classes,
                                      hold, keras_weighted_ce, mined_batch, mining_steps, policy_labels, set_stage, train_mode)
from vadflow.sas import SAS, delta_minus, sas_series


def run(sigmas, x0=-7.0, **kw):
    acc = SAS(x0=x0, **kw)
    return [round(acc.update(s), 4) for s in sigmas], acc


# ------------------------------------------------------------------ 1. SAS hand values
def test_sas_sigma_one_reaches_alarm_at_fourth_sample_and_clamps():
    s, acc = run([1.0] * 8)
    assert s == [0.0067, 0.0474, 0.2689, 0.7311, 0.9526, 0.9933, 0.9991, 0.9991]
    assert acc.x == 7.0  # clamped at UB, not 9


def test_sas_sigma_075_is_exactly_half_at_seventh_sample():
    acc = SAS()
    values = [acc.update(0.75) for _ in range(8)]
    assert values[6] == 0.5 and acc.x == 1.0  # 7th sample: x = 0, s = 0.5 exactly, no alarm (strict)
    assert round(values[7], 4) == 0.7311
    acc = SAS()
    for _ in range(7):
        acc.update(0.75)
    assert not acc.alarm


def test_sas_from_saturation_needs_four_zero_samples():
    s, acc = run([0.0] * 4, x0=7.0)
    assert [v < 0.5 for v in s] == [False, False, False, True]


def test_sas_bounds_and_pre_update_overshoot():
    rng = np.random.default_rng(0)
    acc = SAS()
    for v in rng.random(500):
        s = acc.update(float(v))
        assert -7.0 <= acc.x <= 7.0 and 0.0 < s < 1.0
    acc = SAS(x0=6.0, clamp="pre_update")
    acc.update(1.0)
    assert acc.x == 8.0  # the notebook's order: x checked before updating, so it overshoots


def test_sas_series_updates_every_tenth_frame_and_holds():
    sigma = np.ones(35)
    s = sas_series(sigma)
    assert np.allclose(s[:10], s[0]) and round(s[0], 4) == 0.0067
    assert round(s[10], 4) == 0.0474 and round(s[30], 4) == 0.7311 and np.allclose(s[30:], s[30])


# ------------------------------------------------------------------ 2. delta-minus forms
def test_delta_minus_forms():
    assert delta_minus(0.2, 0.5, "code") == pytest.approx(delta_minus(0.2, 0.5, "paper"))
    assert delta_minus(0.5, 0.7, "paper") == pytest.approx(-0.667, abs=1e-3)
    assert delta_minus(0.5, 0.7, "code") == pytest.approx(0.2857, abs=1e-4)


# ------------------------------------------------------------------ 3. weighted CE
def test_keras_class_weight_divides_by_batch_size():
    y = torch.tensor([0, 1])
    p_anom = torch.tensor([0.2, 0.8])
    logits = torch.log(torch.stack([1 - p_anom, p_anom], dim=1))
    w = torch.tensor([1.0, 2.0])
    assert keras_weighted_ce(logits, y, w).item() == pytest.approx(0.33472, abs=1e-5)
    assert torch.nn.functional.cross_entropy(logits, y, weight=w).item() == pytest.approx(0.22314, abs=1e-5)


# ------------------------------------------------------------------ 4. hard mining
class LossIsIndex(torch.nn.Module):
    """Logits whose CE for label 0 equals the row's value (x holds the index)."""

    def forward(self, x):
        # CE = -log softmax[0]; with logits (0, z) CE = log(1 + e^z), monotone in z.
        return torch.cat([torch.zeros_like(x[:, :1]), x[:, :1]], dim=1)


def test_hard_mining_keeps_the_highest_losses():
    x = torch.arange(48, dtype=torch.float32)[:, None]
    y = torch.zeros(48, dtype=torch.long)
    cand = torch.randperm(48, generator=torch.Generator().manual_seed(1))
    batch = mined_batch(LossIsIndex(), x, y, cand, 16, torch.Generator().manual_seed(0))
    assert sorted(batch.tolist()) == list(range(32, 48))
    assert mining_steps(100, 3, 16) == 2 and mining_steps(100, 1, 16) == 6


def test_alpha_one_is_a_plain_batch_without_inference_pass():
    class Boom(torch.nn.Module):
        def forward(self, x):
            raise AssertionError("alpha = 1 must not run an inference pass")

    cand = torch.arange(16)
    assert mined_batch(Boom(), torch.zeros(16, 1), torch.zeros(16, dtype=torch.long), cand, 16, torch.Generator()).tolist() == list(range(16))


# ------------------------------------------------------------------ 5. sampling
def test_adaptive_sampling_on_the_global_grid():
    j = np.arange(30)
    hard = (j >= 10) & (j <= 19)
    assert j[adaptive_keep(j, hard)].tolist() == [0, 12, 15, 18, 20]


# ------------------------------------------------------------------ 6. vatic, label policies
VATIC = """\
1 10 10 50 60 6 0 0 0 "person"
2 70 10 90 60 6 1 0 1 "person"
2 70 10 90 60 7 1 0 1 "person"
1 12 10 52 60 8 0 1 0 "person with bag"
"""


def test_vatic_hard_and_soft_frames(tmp_path):
    path = tmp_path / "Arrest002_x264.txt"
    path.write_text(VATIC)
    rows = parse_rows(path)
    assert rows[3].label == "person with bag" and rows[1].lost and not rows[0].lost
    mask = hard_mask(path, 10)
    assert mask.tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 1, 0]  # 6: one visible row; 7: only a lost row; 8: occluded counts
    assert hard_mask(path, 10, base=1).tolist() == [0, 0, 0, 0, 0, 1, 0, 1, 0, 0]
    assert find_vatic(vatic_files(tmp_path), "Arrest002_x264") == path
    video = VideoData(id="v", features=np.zeros((10, 1)), n_frames=10, clip_len=1, stride=1, anomalous=True, frame_labels=mask)
    cls = frame_classes(video)
    assert cls[6] == HARD and cls[7] == SOFT and cls[0] == SOFT
    train_ha = policy_labels(cls, "exclude", training=True)
    assert train_ha[7] == -1 and train_ha[6] == 1 and train_ha[0] == -1
    assert policy_labels(cls, "exclude", training=False).tolist() == mask.tolist()  # tests keep soft frames as 0
    assert policy_labels(cls, "normal", training=True).tolist() == mask.tolist()
    normal = VideoData(id="n", features=np.zeros((4, 1)), n_frames=4, clip_len=1, stride=1, anomalous=False)
    assert (frame_classes(normal) == NORMAL).all()


def test_vatic_bad_row_names_file_and_line(tmp_path):
    from vadflow.data.annotations import AnnotationError

    path = tmp_path / "Bad.txt"
    path.write_text('1 2 3 4 5 6 0 0 0 "a"\n1 2 3 x 5 6 0 0 0 "a"\n')
    with pytest.raises(AnnotationError, match="Bad.txt:2"):
        hard_mask(path, 10)


def test_manifest_uses_vatic_masks_as_frame_labels(tmp_path):
    from vadflow.data.manifest import _vatic_labels

    (tmp_path / "Arrest002.txt").write_text(VATIC)
    rows = [{"id": "Arrest002_x264", "anomalous": True, "frames": 10, "status": "ok"},
            {"id": "Normal_Videos_003_x264", "anomalous": False, "frames": 10, "status": "ok"}]
    labels = {"Arrest002_x264": np.ones(10, np.uint8)}
    used = _vatic_labels({"ucfcrime2local": {"path": str(tmp_path)}}, rows, labels)
    assert len(used) == 1 and labels["Arrest002_x264"].tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 1, 0]
    assert "Normal_Videos_003_x264" not in labels


# ------------------------------------------------------------------ 9. shapes and parameters
def _video(vid, n, anomalous, dims, rng, labels=None, steps=1):
    idx = np.arange(0, n, steps)
    streams = {"rt_flow": rng.normal(size=(len(idx), dims[1])).astype(np.float32)} if dims[1] else {}
    extras = {"frame_index": idx, "streams": streams}
    if dims[2]:
        extras["bag"] = rng.poisson(1.0, size=(len(idx), dims[2])).astype(np.float32)
    return VideoData(id=vid, features=rng.normal(size=(len(idx), dims[0])).astype(np.float32), n_frames=n, clip_len=1, stride=1,
                     anomalous=anomalous, frame_labels=labels, layout="sampled_frames", extras=extras)


@pytest.mark.parametrize("flow,bag,dim", [(True, True, 4176), (True, False, 4096), (False, True, 2128), (False, False, 2048)])
def test_head_input_dims_of_the_variants(flow, bag, dim):
    rng = np.random.default_rng(0)
    dims = (2048, 2048 if flow else 0, 80 if bag else 0)
    lab = np.zeros(60, np.uint8)
    lab[20:40] = 1
    videos = [_video(f"a{i}", 60, True, dims, rng, lab) for i in range(3)] + [_video(f"n{i}", 60, False, dims, rng) for i in range(3)]
    cfg = {"flow_features": "rt_flow" if flow else None, "detections": "det" if bag else None, "hidden": 8, "batch_size": 2,
           "epochs": 1, "early_stopping": False}
    m = Realtime(cfg)
    m.fit(videos)
    assert m.in_dim == dim and m.net.fc1.in_features == dim
    s = m.score(videos[0])
    assert s.shape == (60,) and (s >= 0).all() and (s <= 1).all()


def test_parameter_counts():
    assert sum(p.numel() for p in FusionHead(4176).parameters()) == 33_898_498
    assert FusionHead(8192).fc1.in_features == 8192  # the C3D-ha head input
    from vadflow.features.backbones.resnet50_2d import ResNet50

    with torch.device("meta"):
        net = TwoStreamNet(ResNet50(), ResNet50(), FusionHead(4176))
        assert sum(p.numel() for p in net.rgb.parameters()) == 23_508_032
        assert sum(p.numel() for p in net.parameters()) == 80_914_562


# ------------------------------------------------------------------ 10. freezing
def _tiny_net():
    from vadflow.features.backbones.resnet50_2d import ResNet50

    torch.manual_seed(0)
    return TwoStreamNet(ResNet50(layers=(1, 1, 1, 1)), ResNet50(layers=(1, 1, 1, 1)), FusionHead(4096, hidden=8))


def test_stage_one_trains_the_head_only():
    net = _tiny_net()
    params = set_stage(net, 1)
    assert {id(p) for p in params} == {id(p) for p in net.head.parameters()}
    train_mode(net, 1)
    assert net.head.training and not any(m.training for t in net.trunks() for m in t.modules())  # frozen trunks: eval mode
    x = torch.randn(2, 3, 32, 32)
    keras_weighted_ce(net(x, x), torch.tensor([0, 1]), torch.tensor([1.0, 2.0])).backward()
    assert all(p.grad is None for t in net.trunks() for p in t.parameters())
    assert all(p.grad is not None for p in net.head.parameters())


def test_stage_two_keeps_batchnorm_statistics():
    net = _tiny_net()
    params = set_stage(net, 2)
    bn = [m for m in net.rgb.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [(m.running_mean.clone(), m.running_var.clone(), m.weight.detach().clone()) for m in bn]
    opt = torch.optim.Adam(params, lr=1e-3)
    train_mode(net, 2)
    x = torch.randn(2, 3, 32, 32) * 3 + 1
    keras_weighted_ce(net(x, x), torch.tensor([0, 1]), torch.tensor([1.0, 2.0])).backward()
    opt.step()
    assert net.rgb.conv1.weight.grad is not None  # the trunk trains in stage 2
    for m, (mean, var, w) in zip(bn, before):
        assert torch.equal(m.running_mean, mean) and torch.equal(m.running_var, var) and torch.equal(m.weight, w)


# ------------------------------------------------------------------ scoring on the test grid
def test_score_holds_sigma_over_unscored_frames():
    assert hold(np.array([0, 3, 6]), np.array([0.1, 0.5, 0.9]), 8).tolist() == [0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.9, 0.9]
    m = Realtime({"flow_features": None, "test_stride": 3})
    with pytest.raises(MethodError, match="test_stride 3"):
        m.scored_rows(np.arange(0, 20, 5), 20)
    assert m.scored_rows(np.arange(20), 20).tolist() == [0, 3, 6, 9, 12, 15, 18]


def test_training_rejects_a_grid_missing_sampled_frames():
    rng = np.random.default_rng(0)
    lab = np.zeros(60, np.uint8)
    lab[20:40] = 1
    videos = [_video("a", 60, True, (4, 0, 0), rng, lab, steps=5), _video("n", 60, False, (4, 0, 0), rng, steps=5)]
    with pytest.raises(MethodError, match="sampling steps"):
        Realtime({"flow_features": None, "hidden": 4, "batch_size": 1, "early_stopping": False}).fit(videos)


def test_training_learns_a_separable_signal_and_early_stops():
    rng = np.random.default_rng(1)
    videos = []
    for i in range(8):
        lab = np.zeros(90, np.uint8)
        if i % 2:
            lab[30:60] = 1
        v = _video(f"v{i}", 90, bool(i % 2), (6, 0, 0), rng, lab)
        v.features[:, 0] += 4.0 * lab  # the first feature marks hard frames
        videos.append(v)
    m = Realtime({"flow_features": None, "hidden": 16, "batch_size": 4, "lr": 1e-2, "epochs": 60, "patience": 3, "val_fraction": 0.25})
    m.fit(videos)
    assert "val_loss" in m.history[0] and len(m.history) < 60  # validation held out, early stop
    s = m.score(videos[1])
    assert s[30:60].mean() > 0.8 > 0.2 > s[:30].mean()


# ------------------------------------------------------------------ 11. video-level metrics
def test_vl_metrics_from_counts():
    m = vl_metrics(389, 450, 28, 150)
    assert (round(m["vl_precision"], 4), round(m["vl_recall"], 4), round(m["vl_f1"], 4)) == (0.9329, 0.8644, 0.8973)
    assert math.floor(m["vl_fpr"] * 1000) / 10 == 18.6


def test_video_level_flags_from_sas():
    import pandas as pd

    videos = pd.DataFrame({"id": ["a", "b", "n"], "anomalous": [True, True, False]})
    scores = {"a": np.r_[np.zeros(10), np.ones(40)], "b": np.tile([1.0] * 10 + [0.0] * 10, 3), "n": np.zeros(50)}
    per_video, summary = video_level(scores, videos)
    assert per_video["flagged"].tolist() == [True, False, False]  # b's isolated spikes are filtered
    assert per_video["first_alarm_frame"].tolist()[0] == 40
    assert summary["tp"] == 1 and summary["vl_recall"] == 0.5 and summary["vl_fpr"] == 0.0


# ------------------------------------------------------------------ 8. flow stream input
def _texture(h=140, w=180, seed=0):
    import cv2

    return cv2.GaussianBlur(np.random.default_rng(seed).integers(0, 256, (h, w), np.uint8), (7, 7), 0)


def test_flow_encoding_of_known_fields():
    import cv2

    from vadflow.video.flow import flow_to_image

    assert flow_to_image(np.zeros((120, 160, 2), np.float32)).max() == 0  # no motion: all black
    field = np.zeros((120, 160, 2), np.float32)
    field[40:80, 60:100, 0] = 1.0  # magnitude 1 inside a square, pointing right
    img = flow_to_image(field, size=None)
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    assert (hsv[40:80, 60:100, 2] == 255).all() and hsv[..., 2][field[..., 0] == 0].max() == 0
    out = flow_to_image(field)
    assert out.dtype == np.uint8 and out.shape == (224, 224, 3)


@pytest.mark.parametrize("dx,dy,hue", [(2, 0, 0), (0, 2, 45), (-2, 0, 90)])
def test_flow_stream_input_for_a_known_shift(dx, dy, hue):
    """docs/methods/realtime.md §2 step by step for frames whose content moves by (dx, dy) px: direction in the hue
    (H = angle/2), value = min-max magnitude, BGR image squashed with INTER_AREA, then fed as if
    it were RGB through the caffe preprocessing (BGR flip, mean subtraction)."""
    import cv2

    from vadflow.features.backbones import get_backbone
    from vadflow.features.sampled import FrameInput

    big = _texture()
    prev = big[10:130, 10:170]
    cur = big[10 - dy : 130 - dy, 10 - dx : 170 - dx]  # cur[y, x] = prev[y - dy, x - dx]
    rgb = lambda g: np.repeat(g[..., None], 3, axis=2)  # noqa: E731
    fi = FrameInput({"input": "flow_image", "resize": [56, 56]})
    img = fi.image(rgb(cur), rgb(prev))
    assert img.shape == (56, 56, 3) and img.dtype == np.uint8
    # Independent recomputation of §2 with the spec's own parameters.
    flow = cv2.calcOpticalFlowFarneback(prev, cur, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    mag, ang = cv2.cartToPolar(flow[..., 0], flow[..., 1])
    hsv = np.dstack([ang * 180 / np.pi / 2, np.full_like(mag, 255), cv2.normalize(mag, None, 0, 255, cv2.NORM_MINMAX)]).astype(np.uint8)
    ref = cv2.resize(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR), (56, 56), interpolation=cv2.INTER_AREA)
    assert np.array_equal(img, ref)
    inner = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)[12:44, 12:44]
    h = inner[..., 0].astype(int)
    assert np.median(np.minimum(np.abs(h - hue), 180 - np.abs(h - hue))) <= 3  # the motion's direction
    assert np.median(np.hypot(flow[20:100, 20:140, 0] - dx, flow[20:100, 20:140, 1] - dy)) < 0.2
    bb = get_backbone("resnet50_2d")
    x = bb.normalize(torch.from_numpy(img)[None, None], {"preprocess": "caffe_bgr"})[0, :, 0]
    assert torch.allclose(x[0], torch.from_numpy(img[..., 2]).float() - 103.939)  # channel 0 = the BGR image's red, as [C] does
    assert fi.image(rgb(prev), None).max() == 0  # frame 0: no predecessor, black


def test_flow_of_a_moving_square_is_not_black():
    from vadflow.features.sampled import FrameInput

    a = np.zeros((64, 64, 3), np.uint8)
    b = a.copy()
    a[20:36, 20:36] = 255
    b[20:36, 23:39] = 255
    img = FrameInput({"input": "flow_image", "resize": [64, 64]}).image(b, a)
    assert img.max() > 0 and img[:8, :8].max() == 0


def test_anomalous_videos_without_frame_labels_are_left_out_when_others_have_them():
    rng = np.random.default_rng(3)
    lab = np.zeros(60, np.uint8)
    lab[20:40] = 1
    videos = [_video("a", 60, True, (4, 0, 0), rng, lab), _video("u", 60, True, (4, 0, 0), rng, None),
              _video("n", 60, False, (4, 0, 0), rng)]
    m = Realtime({"flow_features": None, "hidden": 4, "batch_size": 1, "epochs": 1, "early_stopping": False})
    m.fit(videos)  # "u" has no labels: left out with a warning, not an error
    with pytest.raises(MethodError, match="no frame labels"):
        Realtime({"flow_features": None, "hidden": 4, "batch_size": 1, "early_stopping": False}).fit([videos[1], videos[2]])


# ------------------------------------------------------------------ 7, 12. bag of objects
def _detections_file(path, rows, class_names):
    """A detections file of one video ``v`` with the given per-row (scores, labels)."""
    import json

    from vadflow.detection.writer import DetectionWriter

    k = max(1, max(len(s) for s, _ in rows))
    arrays = {"boxes": np.zeros((len(rows), k, 4), np.float32), "scores": np.zeros((len(rows), k), np.float32),
              "labels": np.full((len(rows), k), -1, np.int32), "feats": np.zeros((len(rows), k, 0), np.float32),
              "valid": np.zeros((len(rows), k), bool)}
    for i, (s, lab) in enumerate(rows):
        arrays["scores"][i, : len(s)], arrays["labels"][i, : len(s)], arrays["valid"][i, : len(s)] = s, lab, True
    with DetectionWriter(path, {"class_names": json.dumps(class_names)}) as w:
        w.add("v", arrays, np.arange(len(rows)) * 3, {"clip_len": 1, "stride": 1, "n_frames": 3 * len(rows), "frame_height": 8, "frame_width": 8})


def test_bag_of_objects_counts_per_class(tmp_path):
    from vadflow.stores.detections import DetectionStore

    coco = [f"class{i}" for i in range(80)]
    _detections_file(tmp_path / "d.h5", [([0.9, 0.4, 0.6], [0, 0, 2]), ([], [])], coco)
    with DetectionStore(tmp_path / "d.h5") as store:
        bag = store.objects("v").bag(0.5)
    assert bag.shape == (2, 80) and bag.dtype == np.float32
    assert bag[0, 0] == 1 and bag[0, 2] == 1 and bag[0].sum() == 2 and bag[1].sum() == 0
    _detections_file(tmp_path / "blobs.h5", [([0.9, 0.4, 0.6], [-1, -1, -1])], [])  # class-less (background blobs)
    with DetectionStore(tmp_path / "blobs.h5") as store:
        assert store.objects("v").bag(0.5).tolist() == [[2.0]]


def test_detections_on_sampled_frames_offline_equal_online(tmp_path):
    """The detect job on a frame_steps grid stores one row per sampled frame, and the bag of its
    stored objects equals what `vadflow watch` counts frame by frame."""
    import pandas as pd

    from conftest import write_mp4
    from vadflow.data.manifest import COLUMNS
    from vadflow.detection.run import detect_dataset
    from vadflow.stores.detections import DetectionStore
    from vadflow.streaming.scorers import OnlineBag

    rng = np.random.default_rng(0)
    bg = rng.integers(40, 110, (64, 96, 3)).astype(np.uint8)
    frames = []
    for t in range(30):
        f = bg.copy()
        f[20:36, 4 + 2 * t : 20 + 2 * t] = 230
        frames.append(f)
    write_mp4(tmp_path / "v.mp4", np.stack(frames))
    man = pd.DataFrame([{"id": "v", "path": "v.mp4", "split": "test", "cls": "Fighting", "anomalous": True, "frames": 30, "fps": 30.0,
                         "width": 96, "height": 64, "status": "ok", "error": ""}], columns=COLUMNS)
    man.to_csv(tmp_path / "manifest.csv", index=False)
    cfg = {"name": "bg", "backend": "background", "features": "rt", "roi": {"features": False}, "decoder": "pyav",
           "clip_len": 1, "stride": 1, "tail": "drop", "frame_steps": {"train": [10], "test": [4]}}
    detect_dataset(tmp_path / "manifest.csv", tmp_path, cfg, tmp_path / "det.h5", progress=False)
    with DetectionStore(tmp_path / "det.h5") as store:
        objs = store.objects("v", 1, 1, 8)
        assert objs.centres().tolist() == [0, 4, 8, 12, 16, 20, 24, 28] and objs.feature_dim == 0
        offline = objs.bag(0.5)
    assert offline[2:].min() >= 1  # the moving square is found once the background model has settled
    import av

    with av.open(str(tmp_path / "v.mp4")) as c:
        decoded = [fr.to_ndarray(format="rgb24") for fr in c.decode(c.streams.video[0])]
    bag = OnlineBag(cfg, [], 0.5)
    online = [b for j, f in enumerate(decoded) if (b := bag.push(f, j % 4 == 0)) is not None]
    np.testing.assert_array_equal(np.stack(online), offline)


def test_standardize_drops_dimensions_constant_in_training():
    """A dimension that never varies on training frames (a dead ReLU of a random trunk) must not
    blow up later inputs: it is dropped, so its value at test time changes nothing."""
    rng = np.random.default_rng(4)
    videos = []
    for i in range(4):
        lab = np.zeros(60, np.uint8)
        if i % 2:
            lab[20:40] = 1
        v = _video(f"v{i}", 60, bool(i % 2), (5, 0, 0), rng, lab)
        v.features[:, 4] = 0.0  # dead in training
        videos.append(v)
    m = Realtime({"flow_features": None, "hidden": 8, "batch_size": 2, "epochs": 2, "early_stopping": False, "standardize": True})
    m.fit(videos)
    test = _video("t", 60, True, (5, 0, 0), rng, np.zeros(60, np.uint8))
    base = m.score(test)
    test.features[:, 4] = 1000.0
    np.testing.assert_allclose(m.score(test), base, atol=1e-7)

