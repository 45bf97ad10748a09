"""ADNet and its Table 4.6 baselines (docs/methods/adnet.md §11)."""
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from vadflow.methods import KINDS, get_method

WINDOW_KINDS = ("adnet", "mlp", "edtcn")  # the kinds on the shared window training loop
from vadflow.methods.base import MethodError, VideoData
from vadflow.methods.edtcn import EncoderDecoderTCN
from vadflow.methods.losses import ad_loss, masked_mse, stage_sum_loss
from vadflow.methods.mlp import ClipMLP
from vadflow.methods.tcn import MultiStageTCN, layers_for_window
from vadflow.methods.temporal import clip_labels


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- network ----------------------------------------------------------------------------
def test_shapes_range_and_parameter_count():
    torch.manual_seed(0)
    net = MultiStageTCN(1024, channels=64, stages=5, layers=6, kernel=3)
    assert sum(p.numel() for p in net.parameters()) == 561_797
    assert sum(p.numel() for p in net.stages[0].parameters()) == 164_737
    assert sum(p.numel() for p in net.stages[1].parameters()) == 99_265
    m = torch.ones(2, 64)
    m[1, 40:] = 0
    out = net(torch.randn(2, 1024, 64), m)
    assert out.shape == (5, 2, 64)
    assert (out >= 0).all() and (out <= 1).all()


def test_mlp_matches_sultani_parameter_count():
    net = ClipMLP(4096)
    assert sum(p.numel() for p in net.parameters()) == 2_114_113
    out = net.eval()(torch.randn(2, 4096, 8), torch.ones(2, 8))
    assert out.shape == (1, 2, 8)


def _leak_check(net, d):
    torch.manual_seed(1)
    x = torch.randn(3, d, 64)
    m = torch.ones(3, 64)
    m[:, -20:] = 0
    with torch.no_grad():
        ref = net(x, m)
        x2 = x.clone()
        x2[:, :, -20:] = 1e3 * torch.randn(3, d, 20)
        out = net(x2, m)
    torch.testing.assert_close(out[..., :-20], ref[..., :-20], atol=1e-6, rtol=0)
    assert (out[..., -20:] == 0).all()
    # Masking after every layer makes padding act like the conv's own zero padding, so a
    # padded window scores its real clips exactly as the unpadded sequence would.
    with torch.no_grad():
        short = net(x[:, :, :-20], m[:, :-20])
    torch.testing.assert_close(short, ref[..., :-20], atol=1e-6, rtol=0)


def test_mask_stops_padding_leaking():
    _leak_check(MultiStageTCN(48, channels=16, stages=3, layers=6).eval(), 48)


def test_edtcn_mask_stops_padding_leaking():
    _leak_check(EncoderDecoderTCN(48, (16, 24), kernel=9, dropout=0.3).eval(), 48)


def test_receptive_field_one_stage_three_layers():
    torch.manual_seed(2)
    net = MultiStageTCN(8, channels=16, stages=1, layers=3)
    x = torch.randn(1, 8, 64)
    m = torch.ones(1, 64)
    t = 30
    x2 = x.clone()
    x2[0, :, t] += 5.0
    with torch.no_grad():
        diff = (net(x2, m) - net(x, m)).abs()[0, 0]
    changed = torch.nonzero(diff > 1e-7).flatten()
    assert changed.min() == t - 7 and changed.max() == t + 7


@pytest.mark.parametrize("w,expected", [(32, 5), (64, 6), (128, 7)])
def test_formula_10(w, expected):
    assert layers_for_window(w, 3) == expected


# -- losses -----------------------------------------------------------------------------
def test_masked_mse_example():
    y = torch.tensor([[0.2, 0.9, 0.7]])
    a = torch.tensor([[0.0, 1.0, -1.0]])
    m = torch.tensor([[1.0, 1.0, 0.0]])
    assert masked_mse(y, a, m).item() == pytest.approx(0.025)


def test_ad_loss_example_and_absent_class():
    y = torch.tensor([[0.6, 0.9, 0.5, 0.1, 0.3]], requires_grad=True)
    a = torch.tensor([[1.0, 1.0, 0.0, 0.0, -1.0]])
    m = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
    thesis = ad_loss(y, a, m, 0.5, "thesis")
    assert thesis.item() == pytest.approx(0.9)
    assert ad_loss(y, a, m, 0.5, "per_clip").item() == pytest.approx(0.225)
    # Gradients reach both members of every hard pair: 0.6 is an abnormal and the hard
    # abnormal of both normals, 0.5 is a normal and the hard normal of both abnormals.
    thesis.backward()
    torch.testing.assert_close(y.grad, torch.tensor([[-3.0, -1.0, 3.0, 1.0, 0.0]]))
    only_abnormal = torch.tensor([[1.0, 1.0, -1.0, -1.0, -1.0]])
    assert ad_loss(y, only_abnormal, m, 0.5, "thesis").item() == 0
    assert ad_loss(y, only_abnormal, m, 0.5, "per_clip").item() == 0


def test_stage_loss_sums_stages_and_weights_ad():
    y = torch.tensor([[0.6, 0.9, 0.5, 0.1]])
    a = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    m = torch.ones(1, 4)
    outs = torch.stack([y, y])
    mse = masked_mse(y, a, m).item()
    assert stage_sum_loss(outs, a, m).item() == pytest.approx(2 * mse)
    assert stage_sum_loss(outs, a, m, 0.5, 0.5).item() == pytest.approx(2 * (mse + 0.5 * 0.225))


# -- labels -----------------------------------------------------------------------------
def test_clip_labels_threshold_and_modes():
    frames = np.zeros(50)
    frames[8:16] = 1  # clip 0: 8/16 anomalous -> 1
    frames[16:23] = 1  # clip 1: 7/16 -> 0
    frames[40:50] = 1  # clip 2: frames 32..47 -> 8/16 -> 1
    v = VideoData("v", np.zeros((3, 4), np.float32), 50, 16, 16, True, frame_labels=frames)
    assert clip_labels(v).tolist() == [1, 0, 1]
    assert clip_labels(v, threshold=0.6).tolist() == [0, 0, 0]
    assert clip_labels(v, mode="video_level").tolist() == [1, 1, 1]
    v.frame_labels = None
    with pytest.raises(MethodError, match="temporal annotations"):
        clip_labels(v)
    v.anomalous = False
    assert clip_labels(v).tolist() == [0, 0, 0]


# -- training smoke tests -------------------------------------------------------------
def make_videos(n, seed, d=32, shift=1.0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = int(rng.integers(20, 151))
        lab = np.zeros(t, np.float32)
        if i % 2 == 0:
            start = int(rng.integers(0, t - 10))
            lab[start : start + int(rng.integers(5, t // 2 + 6))] = 1
        feats = (rng.normal(size=(t, d)) + shift * lab[:, None]).astype(np.float32)
        n_frames = t * 16 + int(rng.integers(0, 16))
        frames = np.zeros(n_frames, np.float32)
        frames[: t * 16] = np.repeat(lab, 16)
        out.append(VideoData(f"v{i}", feats, n_frames, 16, 16, bool(lab.any()), frame_labels=frames))
    return out


SMALL = {
    "adnet": {"window": 32, "stages": 2, "layers": 5, "channels": 16, "lr": 2e-3, "epochs": 3, "device": "cpu"},
    "mlp": {"hidden": [64, 16], "lr": 2e-3, "epochs": 3, "device": "cpu"},
    # Channel dropout on 16-24 channels slows ED-TCN's first epochs too much for a smoke test.
    "edtcn": {"window": 32, "enc_channels": [16, 24], "kernel": 9, "dropout": 0.0, "lr": 2e-3, "epochs": 3, "device": "cpu"},
}


@pytest.fixture(scope="module")
def data():
    return make_videos(20, seed=0), make_videos(8, seed=1)


@pytest.mark.parametrize("kind", WINDOW_KINDS)
def test_training_separates_abnormal_frames(kind, data):
    train, test = data
    method = get_method(kind)(SMALL[kind])
    method.fit(train)
    assert len(method.history) == 3 and method.history[-1] < method.history[0]
    scores = [method.score(v) for v in test]
    assert all(s.shape == (v.n_frames,) for s, v in zip(scores, test))
    auc = roc_auc_score(np.concatenate([v.frame_labels for v in test]), np.concatenate(scores))
    assert auc > 0.8


@pytest.mark.parametrize("kind", WINDOW_KINDS)
def test_save_load_and_seed_reproducibility(kind, data, tmp_path):
    train, test = data
    cfg = {**SMALL[kind], "epochs": 1}
    a = get_method(kind)(cfg)
    a.fit(train[:6])
    a.save(tmp_path / "model.pt")
    b = get_method(kind).load(tmp_path / "model.pt")
    for v in test[:3]:
        np.testing.assert_array_equal(a.score(v), b.score(v))
    c = get_method(kind)(cfg)
    c.fit(train[:6])
    for (k, w1), w2 in zip(a.net.state_dict().items(), c.net.state_dict().values()):
        assert torch.equal(w1, w2), k
    d = get_method(kind)({**cfg, "seed": 7})
    d.fit(train[:6])
    assert not torch.equal(next(iter(a.net.state_dict().values())), next(iter(d.net.state_dict().values())))


def test_unlabelled_training_videos_need_video_level_mode(data):
    train = [VideoData(v.id, v.features, v.n_frames, 16, 16, v.anomalous) for v in data[0][:4]]
    cfg = {**SMALL["adnet"], "epochs": 1}
    with pytest.raises(MethodError, match="UCF-Crime V2"):
        get_method("adnet")(cfg).fit(train)
    get_method("adnet")({**cfg, "train_labels": "video_level"}).fit(train)


def test_whole_video_mode_scores_every_frame(data):
    method = get_method("edtcn")({**SMALL["edtcn"], "window": 0, "epochs": 1})
    method.fit(data[0][:4])
    v = data[1][0]
    assert method.score(v).shape == (v.n_frames,)


def test_registry():
    assert set(WINDOW_KINDS) | {"mil"} <= set(KINDS)
    assert all(get_method(k).kind == k for k in KINDS)
    with pytest.raises(KeyError, match="adnet"):
        get_method("nope")


def test_standardize_uses_training_statistics_and_survives_save(data, tmp_path):
    """With ``standardize`` the model is invariant to a per-dimension affine change of the
    features (it z-scores them with the training statistics), and the statistics are saved."""
    train, test = data
    cfg = {**SMALL["adnet"], "epochs": 1, "standardize": True}
    a = get_method("adnet")(cfg)
    a.fit(train[:6])
    assert np.allclose(a.scaler.mu, np.concatenate([v.features for v in train[:6]]).mean(0), atol=1e-5)
    scale, offset = np.linspace(0.5, 3, 32, dtype=np.float32), np.float32(5.0)
    shifted = lambda vs: [VideoData(v.id, v.features * scale + offset, v.n_frames, 16, 16, v.anomalous, frame_labels=v.frame_labels) for v in vs]
    b = get_method("adnet")(cfg)
    b.fit(shifted(train[:6]))
    np.testing.assert_allclose(a.score(test[0]), b.score(shifted(test[:1])[0]), atol=1e-4)
    a.save(tmp_path / "m.pt")
    c = get_method("adnet").load(tmp_path / "m.pt")
    np.testing.assert_array_equal(a.score(test[1]), c.score(test[1]))
    # Without standardize the same affine change gives a different model.
    plain = get_method("adnet")({**cfg, "standardize": False})
    plain.fit(shifted(train[:6]))
    assert not np.allclose(plain.score(shifted(test[:1])[0]), a.score(test[0]), atol=1e-2)


def test_test_folds_never_score_a_video_with_a_model_that_saw_it(data, tmp_path, monkeypatch):
    from vadflow.methods import folds

    videos = data[0]
    assert len({v.id for v in videos}) == len(videos)
    seen: dict[int, set[str]] = {}
    cls = get_method("mlp")
    orig_fit = cls.fit

    def spy_fit(self, train):
        seen[id(self)] = {v.id for v in train}
        orig_fit(self, train)

    monkeypatch.setattr(cls, "fit", spy_fit)
    fm = folds.FoldModels(cls, {**SMALL["mlp"], "epochs": 1}, 3)
    fm.fit(videos)
    assert len(fm.models) == 3
    for v in videos:
        model = fm.models[folds.fold_of(v.id, 3)]
        assert v.id not in seen[id(model)]
    # Every video is in exactly one held-out fold, and each model trained on the others.
    assert sum(len(s) for s in seen.values()) == 2 * len(videos)
    fm.save(tmp_path / "m.pt")
    again = folds.FoldModels.load_folds(cls, tmp_path / "m.pt")
    np.testing.assert_array_equal(again.score(videos[0]), fm.score(videos[0]))
