"""SVDD-CAE (docs/methods/svdd_cae.md §11): BCAE1 shapes and size, the SVDD losses and centre by hand,
freezing, regularity and smoothing, score ranges, the thesis metrics, training smoke, and the
method end to end on tiny in-memory frames."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d, savgol_filter
from sklearn.metrics import classification_report, roc_auc_score

from vadflow.evaluation.frame_metrics import eer, roc_auc, youden_report
from vadflow.methods.svdd_cae import cae, svdd
from vadflow.methods.base import VideoData
from vadflow.methods.svdd_cae.regularity import agg_scores, clipped, frame_errors, hold, regularity, smooth, ssim
from vadflow.methods.svdd_cae.method import SVDDCAE

SMALL = {"channels": [8, 8, 8, 12], "bottleneck_kernel": 3}  # 64 px, for CPU-sized tests


# ---- 1. shapes and parameter counts -------------------------------------------------------

@pytest.mark.parametrize("c, total", [(3, 652_841), (1, 650_531)])
def test_bcae1_shapes_and_parameter_count(c, total):
    torch.manual_seed(0)
    net = cae.BCAE1(c)
    assert cae.n_params(net) == total
    if c == 3:
        assert (cae.n_params(net.encoder), cae.n_params(net.decoder)) == (279_360, 373_481)
    z, x_hat = net(torch.rand(2, c, 128, 128))
    assert z.shape == (2, 96, 4, 4) and x_hat.shape == (2, c, 128, 128)
    assert x_hat.min() > 0 and x_hat.max() < 1
    cae.check_geometry((128, 128), 4)
    with pytest.raises(ValueError, match="multiples of 16"):
        cae.check_geometry((64, 64), 4)  # the 7x7 -> 4x4 bottleneck needs 128 px


# ---- 2. losses by hand ------------------------------------------------------------------

def test_soft_boundary_loss_radius_and_one_class_by_hand():
    d = torch.tensor([1.0, 4.0, 9.0, 16.0])
    assert float(svdd.soft_boundary_loss(d, r=2.0, nu=0.5)) == pytest.approx(12.5)  # 4 + 2 * (0+0+5+12)/4
    assert svdd.radius(d, nu=0.5) == pytest.approx(2.5)  # quantile_0.5 of [1, 2, 3, 4]
    assert float(svdd.one_class_loss(d)) == pytest.approx(7.5)
    assert float(svdd.svdd_loss(d, 2.0, 0.5, "one-class")) == pytest.approx(7.5)


# ---- 3. centre -------------------------------------------------------------------------

def test_centre_is_the_clamped_mean_embedding():
    z = [torch.tensor([[1.0, -0.004, 0.0, 2.0]]), torch.tensor([[3.0, 0.002, 0.0, -4.0], [2.0, -0.001, 0.0, 2.0]])]
    c = svdd.mean_embedding(torch.nn.Identity(), iter(z))
    assert c.tolist() == pytest.approx([2.0, -0.001, 0.0, 0.0])
    cc = svdd.clamp_centre(c, 0.01)
    assert cc.tolist() == pytest.approx([2.0, -0.01, 0.01, 0.01])  # sign kept, 0 -> +eps
    assert (cc.abs() >= 0.01).all() and torch.equal(svdd.clamp_centre(c, 0.0), c)


def tiny_frames(n: int = 64, side: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth blobs on a gradient: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side] / side
    out = []
    for _ in range(n):
        cy, cx = rng.uniform(0.2, 0.8, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.01)
        out.append(np.clip(60 + 100 * xx + 90 * blob, 0, 255))
    return np.stack(out).astype(np.uint8)[..., None]


def batches_of(x: np.ndarray, size: int):
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
    return lambda: iter(t.split(size))


# ---- 4. freezing ------------------------------------------------------------------------

@pytest.mark.parametrize("trainable", ["all", "last"])
def test_finetune_step_leaves_decoder_and_centre_alone(trainable):
    torch.manual_seed(0)
    net = cae.build(SMALL, 1)
    x = tiny_frames(8)
    c = svdd.clamp_centre(svdd.mean_embedding(net.encoder, batches_of(x, 4)()), 0.01)
    c0 = c.clone()
    before = copy.deepcopy(net.state_dict())
    cfg = {"objective": "soft-boundary", "nu": 0.01, "lr": 1e-2, "weight_decay": 1e-7, "epochs": 1, "trainable": trainable,
           "bn": "train", "warmup_epochs": 0}
    r, hist = svdd.finetune(net, batches_of(x, 8), c, cfg)  # one batch: one optimiser step
    after = net.state_dict()
    dec = [k for k in before if k.startswith("decoder.")]
    assert dec and all(torch.equal(before[k], after[k]) for k in dec)  # params and BN buffers
    assert torch.equal(c, c0)
    changed = [k for k in before if k.startswith("encoder.") and not torch.equal(before[k], after[k])]
    assert changed
    if trainable == "last":
        assert all(k.startswith("encoder.4.") for k in changed)  # E1-E4 weights and BN statistics untouched
    else:
        assert any(k.startswith("encoder.0.") for k in changed)
    assert r > 0 and len(hist) == 1


# ---- 5. regularity and smoothing ----------------------------------------------------------

def test_regularity_and_savitzky_golay():
    assert regularity(np.array([2.0, 4.0, 6.0])).tolist() == [1.0, 0.5, 0.0]
    assert regularity(np.full(5, 3.0)).tolist() == [1.0] * 5
    line = 0.3 * np.arange(40) + 2
    assert np.allclose(smooth(line), line)  # polyorder 1 reproduces a line
    assert smooth(np.array([0.0, 1.0])).tolist() == [0.0, 1.0]  # n = 2: no smoothing
    s = np.array([0.0, 1.0, 0.0, 1.0])  # even length 4 -> window 3
    assert np.allclose(smooth(s), savgol_filter(s, 3, 1))
    noisy = np.random.default_rng(0).normal(size=30)
    assert np.allclose(smooth(noisy), savgol_filter(noisy, 15, 1)) and not np.allclose(smooth(noisy), noisy)


def test_scores_held_over_unscored_frames():
    assert hold(np.array([0.1, 0.5, 0.9]), np.array([0, 3, 6]), 8).tolist() == [0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.9, 0.9]
    assert hold(np.array([0.4, 0.7]), np.array([2, 4]), 5).tolist() == [0.4, 0.4, 0.4, 0.4, 0.7]


# ---- 6. score range ----------------------------------------------------------------------

def test_score_range_and_one_frame_videos():
    a = agg_scores(np.array([0.0, 0, 0, 0, 0, 0, 10]))
    # one 7-point line through s = [1]*6 + [0]: 1 - fit = -5/28 at the first frame, 13/28 at the last
    assert a[0] == pytest.approx(-5 / 28) and a[-1] == pytest.approx(13 / 28)  # not clipped
    assert clipped(a).min() == 0 and clipped(a).max() <= 1
    one = agg_scores(np.array([5.0]))
    assert one.tolist() == [0.0] and np.isfinite(one).all()


def test_ssim_matches_an_independent_reference():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(1, 2, 24, 20))
    y = np.clip(x + rng.normal(scale=0.1, size=x.shape), 0, 1)
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    vals = []
    for ch in range(2):
        a, b = x[0, ch], y[0, ch]
        f = lambda t: correlate2d(t, w, mode="valid")  # noqa: E731
        ma, mb = f(a), f(b)
        va, vb, cab = f(a * a) - ma**2, f(b * b) - mb**2, f(a * b) - ma * mb
        vals.append((((2 * ma * mb + 1e-4) * (2 * cab + 9e-4)) / ((ma**2 + mb**2 + 1e-4) * (va + vb + 9e-4))).mean())
    got = float(ssim(torch.tensor(x), torch.tensor(y))[0])
    assert got == pytest.approx(np.mean(vals), rel=1e-9)
    errs = frame_errors(torch.tensor(x), torch.tensor(y))
    assert float(errs["sq_sum"][0]) == pytest.approx(((x - y) ** 2).sum())
    assert float(errs["psnr"][0]) == pytest.approx(10 * np.log10(1 / ((x - y) ** 2).mean()))


# ---- 7. metrics -------------------------------------------------------------------------

def test_thesis_metrics_on_toy_scores():
    gt = np.array([0, 0, 0, 1, 1, 0, 1, 0])
    sep = gt * 0.8 + 0.1
    assert roc_auc(gt, sep) == 1.0 and eer(gt, sep)[0] == 0.0
    assert roc_auc(gt, 1 - sep) == 0.0
    sc = np.array([0.1, 0.4, 0.35, 0.8, 0.3, 0.2, 0.7, 0.6])
    rep = youden_report(gt, sc)
    pred = sc >= rep["youden_threshold"]
    want = classification_report(gt, pred, output_dict=True, zero_division=0)
    assert rep["youden_threshold"] == 0.7  # TPR - FPR: 1/3 at 0.8, 2/3 at 0.7, 2/3 - 1/5 at 0.6, ...
    assert rep["wavg_precision"] == pytest.approx(want["weighted avg"]["precision"])
    assert rep["wavg_recall"] == pytest.approx(want["weighted avg"]["recall"])
    assert rep["wavg_f1"] == pytest.approx(want["weighted avg"]["f1-score"])
    assert rep["anomaly_f1"] == pytest.approx(want["1"]["f1-score"])
    s_tilde = 1 - sc  # the thesis's regularity: normal = 1
    assert roc_auc_score(1 - gt, s_tilde) == roc_auc_score(gt, 1 - s_tilde)


# ---- 8. training smoke and the method end to end ------------------------------------------

@pytest.fixture(scope="module")
def trained():
    """A small BCAE1 after 2 epochs on 64 frames (docs/methods/svdd_cae.md §11.8), with its MSE before and after."""
    torch.manual_seed(0)
    net = cae.build(SMALL, 1)
    x = tiny_frames(64)
    m = SVDDCAE({**SMALL, "ae": {"epochs": 2, "batch_size": 4}, "device": "cpu"})  # 32 steps: BN statistics settle
    before = m._mse(net, x)
    m._train_ae(net, x, x[:0], np.random.default_rng(0))
    return net, x, before, m._mse(net, x)


def test_two_epochs_reduce_the_mse(trained):
    _, _, before, after = trained
    assert after < 0.8 * before


@pytest.mark.parametrize("objective, bn", [("soft-boundary", "train"), ("soft-boundary", "eval"), ("one-class", "train"),
                                           ("one-class", "eval")])
def test_svdd_finetune_pulls_embeddings_in(trained, objective, bn):
    """§11.8 at lr 1e-3: one-class lowers the mean d; soft-boundary (nu = 0.01) lowers the radius
    its loss targets, the 0.99 quantile of sqrt(d), and with the default train-mode BatchNorm
    the mean d as well (in eval mode its few tail gradients, Adam-scaled, may raise the mean)."""
    net = copy.deepcopy(trained[0])
    x = trained[1]
    c = svdd.clamp_centre(svdd.mean_embedding(net.encoder, batches_of(x, 16)()), 0.01)

    def dists() -> np.ndarray:
        # d as the fine-tune's loss sees it: BatchNorm in the mode it trains in (batch
        # statistics for `train`; no gradient, and the statistics are restored afterwards).
        saved = copy.deepcopy(net.state_dict())
        net.encoder.train(bn == "train")
        with torch.no_grad():
            d = torch.cat([svdd.distances(net.encoder(b), c) for b in batches_of(x, 16)()]).numpy()
        net.load_state_dict(saved)
        return d

    d0 = dists()
    cfg = {"objective": objective, "nu": 0.01, "lr": 1e-3, "weight_decay": 1e-7, "epochs": 3, "trainable": "all",
           "bn": bn, "warmup_epochs": 0}
    svdd.finetune(net, batches_of(x, 16), c, cfg)
    d1 = dists()
    if objective == "one-class" or bn == "train":
        assert d1.mean() < 0.98 * d0.mean()
    if objective == "soft-boundary":
        assert np.quantile(np.sqrt(d1), 0.99) < 0.95 * np.quantile(np.sqrt(d0), 0.99)


class ArraySource:
    """A FrameSource over an in-memory array (the frame cache's interface)."""

    def __init__(self, frames: np.ndarray, index: np.ndarray, n_frames: int):
        self.frames, self.index, self.n_frames = frames, index, n_frames

    def __len__(self) -> int:
        return len(self.index)

    def read(self) -> np.ndarray:
        return self.frames

    def batches(self, size: int):
        for a in range(0, len(self.frames), size):
            yield self.frames[a : a + size]


def video(vid: str, frames: np.ndarray, anomalous: bool = False, stride: int = 1) -> VideoData:
    n = len(frames) * stride
    src = ArraySource(frames, np.arange(0, n, stride), n)
    return VideoData(id=vid, features=np.zeros((len(frames), 0), np.float32), n_frames=n, clip_len=1, stride=stride,
                     anomalous=anomalous, layout="frames", frames=src)


def test_method_fit_score_save_load(tmp_path):
    cfg = {**SMALL, "seed": 1, "device": "cpu", "ae": {"epochs": 3, "batch_size": 16},
           "svdd": {"epochs": 1, "batch_size": 16, "lr": 1e-3}}
    train = [video(f"n{i}", tiny_frames(16, seed=i)) for i in range(4)] + [video("anom", tiny_frames(4, seed=9) * 0, anomalous=True)]
    m = SVDDCAE(cfg)
    m.fit(train)
    assert set(m.models) == {"bcae1", "svdd"} and len(m.history["ae"]["epochs"]) == 3
    noise = np.random.default_rng(0).integers(0, 256, size=(3, 64, 64, 1), dtype=np.uint8)
    test = video("t", np.concatenate([tiny_frames(6, seed=20), noise]), stride=2)
    s = m.score(test)
    assert s.shape == (18,) and np.all((s > 0) & (s < 1))
    assert s[12:].min() > s[:12].max()  # noise frames reconstruct worst
    sets, logs = m.score_sets(), m.score_logs()
    e = logs["error_sq_sum"]["t"]  # the headline is e / (e + q), q from the validation frames
    assert np.allclose(s, e / (e + m.q["svdd"]), rtol=1e-6)
    assert np.allclose(sets["agg"]["t"][::2], agg_scores(e[::2]))
    assert set(sets) == {"agg", "bcae1_global", "bcae1_agg"}
    assert set(logs) == {"error_sq_sum", "error_l1_sum", "error_1_minus_ssim", "psnr_db", "svdd_d", "svdd_d_minus_R2"}
    assert np.allclose(logs["psnr_db"]["t"], 10 * np.log10(64 * 64 / e))  # PSNR of the same frames (MSE = e / pixels)
    assert np.array_equal(logs["svdd_d"]["t"][::2], logs["svdd_d"]["t"][1::2])  # held over the unscored frames
    one = m.score(video("one", tiny_frames(1, seed=30)))
    assert one.shape == (1,) and np.isfinite(sets["agg"]["one"]).all()
    m.save(tmp_path / "m.pt")
    back = SVDDCAE.load(tmp_path / "m.pt")
    assert np.allclose(back.score(test), s) and back.r == m.r and torch.equal(back.c, m.c)
