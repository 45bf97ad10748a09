"""MIL ranking (docs/methods/mil.md): loss, 32-segment bags, segment->frame map, training."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from vadflow.methods import get_method
from vadflow.methods.base import MethodError, VideoData
from vadflow.methods.mil.method import MIL, MILNet, ekosman_loss, mil_loss, sample_batch
from vadflow.methods.mil.segments32 import boundaries, make_bag, n_clips, segments_to_frames, short_video_reason
from vadflow.video.geometry import rnd

# b_i = floor(i·(k−1)/32 + 0.5), i = 0..32, written out by hand
B_SULTANI = {
    7: [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 6, 6, 6],
    32: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
         26, 27, 28, 29, 30, 31],
    100: [0, 3, 6, 9, 12, 15, 19, 22, 25, 28, 31, 34, 37, 40, 43, 46, 50, 53, 56, 59, 62, 65, 68, 71, 74, 77,
          80, 84, 87, 90, 93, 96, 99],
}


# -- loss ---------------------------------------------------------------------------------------
def _slow_loss(fa, fn, kernels, lsp, lsm, lw):
    fa, fn = fa.tolist(), fn.tolist()
    hinge = 0.0
    for j in range(len(fn)):
        for i in range(len(fa)):
            hinge += max(0.0, 1.0 - max(fa[i]) + max(fn[j]))
    hinge /= len(fn)
    sp = sum(fa[i][t] for i in range(len(fa)) for t in range(len(fa[i])))
    sm = sum((fa[i][t] - fa[i][t + 1]) ** 2 for i in range(len(fa)) for t in range(len(fa[i]) - 1))
    w = sum(float(x) ** 2 for k in kernels for x in k.reshape(-1).tolist())
    return hinge + lsp * sp + lsm * sm + lw * w


def test_loss_matches_slow_formula():
    g = torch.Generator().manual_seed(0)
    fa = torch.rand(5, 32, generator=g, dtype=torch.float64)
    fn = torch.rand(4, 32, generator=g, dtype=torch.float64) * 0.8
    kernels = [torch.randn(3, 6, generator=g, dtype=torch.float64), torch.randn(1, 3, generator=g, dtype=torch.float64)]
    # large lambdas so every term matters at the 1e-6 tolerance
    lam = (0.3, 0.7, 0.05)
    got = mil_loss(fa, fn, kernels, *lam).item()
    assert got == pytest.approx(_slow_loss(fa, fn, kernels, *lam), abs=1e-6)
    # each term separately is non-trivial (a dropped term would change the value)
    assert abs(mil_loss(fa, fn, kernels, 0, *lam[1:]).item() - got) > 1e-2
    assert abs(mil_loss(fa, fn, kernels, lam[0], 0, lam[2]).item() - got) > 1e-2
    assert abs(mil_loss(fa, fn, kernels, *lam[:2], 0).item() - got) > 1e-2
    # spec defaults (8e-5, 8e-5, 1e-3)
    assert mil_loss(fa, fn, kernels).item() == pytest.approx(_slow_loss(fa, fn, kernels, 8e-5, 8e-5, 1e-3), abs=1e-6)


def test_loss_spec_hand_value_and_scope():
    fa = torch.tensor([[0.1, 0.9, 0.2, 0.0], [0.3, 0.3, 0.4, 0.5]], dtype=torch.float64)
    fn = torch.tensor([[0.2, 0.1, 0.0, 0.1], [0.6, 0.2, 0.2, 0.2]], dtype=torch.float64)
    assert mil_loss(fa, fn, (), 0.1, 0.1).item() == pytest.approx(1.789, abs=1e-9)
    assert mil_loss(fa, fn, (), 8e-5, 8e-5).item() == pytest.approx(1.4003112, abs=1e-9)
    fn2 = fn.clone()
    fn2[1, 1:] = 0.0  # below the bag max: no effect
    assert mil_loss(fa, fn2, (), 0.1, 0.1).item() == pytest.approx(1.789, abs=1e-12)


def test_ekosman_variant_hand_value_and_penalty():
    fa = torch.tensor([[0.1, 0.9, 0.2, 0.0], [0.3, 0.3, 0.4, 0.5]], dtype=torch.float64)
    fn = torch.tensor([[0.2, 0.1, 0.0, 0.1], [0.6, 0.2, 0.2, 0.2]], dtype=torch.float64)
    # pairs (A1,N1), (A2,N2): hinge (0.3 + 1.1)/2, sparsity (1.2 + 1.5)/2, smoothness (1.17 + 0.02)/2
    assert ekosman_loss(fa, fn, (), 0.1, 0.1).item() == pytest.approx(0.8945, abs=1e-12)
    fc = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 2.0]]))
        fc.bias.copy_(torch.tensor([0.0, 4.0]))
    # sqrt(1 + 4 + 4 + 16) = 5, not squared, bias included
    assert ekosman_loss(fa, fn, (fc,), 0.1, 0.1, 1e-3).item() == pytest.approx(0.8945 + 5e-3, abs=1e-12)
    with pytest.raises(MethodError, match="batch_anomalous must equal batch_normal"):
        ekosman_loss(fa, fn[:1])


def test_weight_penalty_uses_the_three_kernels_not_biases():
    torch.manual_seed(0)
    net = MILNet(10, 0.6)
    with torch.no_grad():
        for fc in net.kernels_modules():
            fc.bias.fill_(5.0)
    f = torch.full((2, 32), 0.5)
    expected = 1e-3 * sum(float((fc.weight.detach().double() ** 2).sum()) for fc in (net.fc1, net.fc2, net.fc3))
    got = mil_loss(f, f, net.kernels(), 0, 0, 1e-3).item() - mil_loss(f, f, (), 0, 0, 1e-3).item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_param_count_and_init():
    torch.manual_seed(0)
    net = MILNet(4096)
    assert sum(p.numel() for p in net.parameters()) == 2_114_113
    assert all(float(fc.bias.detach().abs().max()) == 0.0 for fc in net.kernels_modules())
    assert float(net.fc1.weight.detach().std()) == pytest.approx((2 / (4096 + 512)) ** 0.5, rel=0.02)
    x = torch.rand(3, 32, 4096)
    net.eval()
    with torch.no_grad():
        y = net(x)
    assert y.shape == (3, 32, 1) and float(y.min()) > 0 and float(y.max()) < 1
    with torch.no_grad():
        assert torch.equal(y, net(x))  # dropout off in eval


@pytest.mark.parametrize("d, count", [(1024, 557_697), (768, 426_625), (512, 295_553)])
def test_seed001_param_counts(d, count):
    assert sum(p.numel() for p in MILNet(d, 0.4, (512, 64)).parameters()) == count  # docs/methods/mil.md §3, seed 001


def test_sampler_distinct_anomalous_then_normal_and_seeded():
    labels = np.array([True] * 40 + [False] * 35)
    idx_a, idx_n = np.flatnonzero(labels), np.flatnonzero(~labels)
    batches = [sample_batch(np.random.default_rng(7), idx_a, idx_n, 30, 30) for _ in range(2)]
    np.testing.assert_array_equal(batches[0], batches[1])  # reproducible from the seed
    rng = np.random.default_rng(7)
    seen = set()
    for _ in range(5):
        b = sample_batch(rng, idx_a, idx_n, 30, 30)
        assert len(b) == 60 and labels[b[:30]].all() and not labels[b[30:]].any()
        assert len(set(b[:30].tolist())) == 30 and len(set(b[30:].tolist())) == 30
        seen.add(tuple(b))
    assert len(seen) == 5  # a fresh permutation every iteration


# -- segments ---------------------------------------------------------------------------------------
def test_rnd_rounds_half_up():
    assert rnd(np.array([0.5, 1.5, 2.5, 4.5, 2.49])).tolist() == [1, 2, 3, 5, 2]


@pytest.mark.parametrize("k", [7, 32, 100])
def test_sultani_boundaries_and_bag(k):
    assert boundaries(k, "sultani").tolist() == B_SULTANI[k]
    rng = np.random.default_rng(k)
    d = 5
    f = rng.random((k, d)).astype(np.float32) + 0.1
    b = B_SULTANI[k]
    f[: max(b[1], 1)] = 0.0  # zero clips -> segment 0 has norm 0 and must stay a row of zeros
    want = []
    for i in range(32):
        s = f[b[i]] if b[i + 1] <= b[i] else f[b[i] : b[i + 1]].mean(0)
        n = np.linalg.norm(s)
        want.append(s / n if n > 0 else np.zeros(d))
    want = np.array(want)
    got = make_bag(f, "sultani")
    assert got.shape == (32, d) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6)
    zero = np.linalg.norm(got, axis=1) == 0
    assert zero[0] and np.allclose(np.linalg.norm(got[~zero], axis=1), 1, atol=1e-5)
    if k == 7:
        # k < 32: segments repeat clips; segments 0..2 are built from the zero clip alone
        assert zero.tolist()[:3] == [True, True, True] and zero.sum() == 3
        np.testing.assert_allclose(got[3], got[4])  # b3 = b4 = 1: both F[1] normalised
        np.testing.assert_allclose(got[3], f[1] / np.linalg.norm(f[1]), atol=1e-6)
    # The last clip: a different direction changes nothing for k >= 18; up to k = 17 segment 31 is
    # F[k-1] alone (b_31 = rnd(31(k-1)/32) = k-1), docs/methods/mil.md §2 and §10.4.
    f2 = f.copy()
    f2[-1] = rng.random(d)[::-1] * 7
    changed = not np.allclose(make_bag(f2, "sultani"), got)
    assert changed == (k <= 17)
    # numpy's half-to-even rounding would give different boundaries (e.g. k = 7, i = 24: 4.5 -> 5)
    if k == 7:
        assert B_SULTANI[7][24] == 5


def test_last_clip_is_used_only_up_to_k17():
    for k in range(2, 200):
        f = np.ones((k, 3), np.float32)
        f2 = f.copy()
        f2[-1] = [5.0, -1.0, 2.0]
        assert (not np.allclose(make_bag(f, "sultani"), make_bag(f2, "sultani"))) == (k <= 17), k


@pytest.mark.parametrize("rule", ["sultani", "seed001", "seed001_demo"])
@pytest.mark.parametrize("k", [5, 31, 32, 33, 100, 1000])
def test_bags_are_32_unit_rows(rule, k):
    f = np.random.default_rng(k).random((k, 6)).astype(np.float32) + 0.01
    bag = make_bag(f, rule)
    assert bag.shape == (32, 6)
    np.testing.assert_allclose(np.linalg.norm(bag, axis=1), 1.0, atol=1e-5)


def test_segment_rules_one_hot_k33():
    """docs/methods/mil.md §10.4: with one-hot clips F[j] = e_j, sultani gives e_i and seed001_demo (e_i + e_{i+1})/√2."""
    f = np.eye(33, dtype=np.float32)
    np.testing.assert_allclose(make_bag(f, "sultani"), np.eye(33)[:32], atol=1e-6)
    want = (np.eye(33)[:32] + np.eye(33)[1:33]) / np.sqrt(2)
    np.testing.assert_allclose(make_bag(f, "seed001_demo"), want, atol=1e-6)
    # seed001: cuts ⌊33i/32⌋ = i for i <= 31, and 33: only the last run holds two clips
    want = np.eye(33)[:32].copy()
    want[31] = (np.eye(33)[31] + np.eye(33)[32]) / np.sqrt(2)
    np.testing.assert_allclose(make_bag(f, "seed001"), want, atol=1e-6)


def test_seed001_one_hot_k64_uses_every_clip_once():
    """docs/methods/mil.md §10.4: for k = 64 one-hot clips, seed001 segment i = (e_{2i} + e_{2i+1})/√2."""
    f = np.eye(64, dtype=np.float32)
    want = (np.eye(64)[0::2] + np.eye(64)[1::2]) / np.sqrt(2)
    np.testing.assert_allclose(make_bag(f, "seed001"), want, atol=1e-6)
    assert boundaries(64, "seed001").tolist() == list(range(0, 65, 2))


def _disjoint_runs_reference(f: np.ndarray) -> np.ndarray:
    """docs/methods/mil.md §2 seed001 restated clip by clip: clip j lies in the last run i whose start ⌊ik/32⌋ is
    <= j, i.e. ik/32 < j + 1, i.e. i = ⌈32(j+1)/k⌉ − 1; segment i = the run's mean, then L2 (no
    clip L2). Needs k >= 32."""
    k = len(f)
    run = [-(-32 * (j + 1) // k) - 1 for j in range(k)]
    out = []
    for i in range(32):
        members = [f[j].astype(np.float64) for j in range(k) if run[j] == i]
        s = sum(members) / len(members)
        out.append(s / np.linalg.norm(s))
    return np.array(out)


def test_seed001_is_the_disjoint_run_rule_and_differs_from_the_demo():
    """k = 32..300: seed001 equals the clip-by-clip reference, and the demo rule differs at every k
    (issue 17: the two rules disagree on every k from 32 to 300)."""
    rng = np.random.default_rng(0)
    for k in range(32, 301):
        f = rng.random((k, 4)) + 0.05
        got = make_bag(f, "seed001")
        np.testing.assert_allclose(got, _disjoint_runs_reference(f), atol=1e-6, err_msg=f"k={k}")
        assert not np.allclose(got, make_bag(f, "seed001_demo"), atol=1e-6), k
    # no clip L2 before the means: a clip scaled up pulls its segment towards it
    f = rng.random((64, 4)) + 0.05
    f2 = f.copy()
    f2[0] *= 100
    assert not np.allclose(make_bag(f, "seed001")[0], make_bag(f2, "seed001")[0], atol=1e-3)


def test_seed001_pads_short_videos_with_the_clip_each_segment_lies_in():
    """k = 5 < 32 (short_videos: pad): segment i spans clip time [5i/32, 5(i+1)/32), which starts
    in clip ⌊5i/32⌋; counted by hand: 7, 6, 7, 6, 6 segments on clips 0..4."""
    f = np.random.default_rng(5).random((5, 3)) + 0.1
    clip_of = [0] * 7 + [1] * 6 + [2] * 7 + [3] * 6 + [4] * 6
    want = f[clip_of] / np.linalg.norm(f[clip_of], axis=1, keepdims=True)
    np.testing.assert_allclose(make_bag(f, "seed001"), want, atol=1e-6)


def test_short_video_rule():
    assert short_video_reason(31, "pad") is None and short_video_reason(0, "pad") is None
    assert short_video_reason(32, "skip_like_seed001") is None
    assert "fewer than 32 clips" in short_video_reason(31, "skip_like_seed001")
    with pytest.raises(ValueError, match="short_videos"):
        short_video_reason(40, "drop")
    # k = floor(n/16) for 16/16 clips: 512 frames are the shortest video kept
    assert n_clips(511, 16, 16) == 31 and n_clips(512, 16, 16) == 32


# -- segment -> frame map -------------------------------------------------------------------------------
def test_segments_to_frames_hand_example():
    s = np.arange(32) / 31.0
    # k = 7 clips of stride 4 and 2 tail frames: clip c gets the last segment i with
    # b_i == c (see B_SULTANI[7]): clips 0..6 -> segments 2, 7, 13, 18, 23, 29, 31
    clip_seg = [2, 7, 13, 18, 23, 29, 31]
    want = np.array([s[c] for c in clip_seg for _ in range(4)] + [s[31], s[31]])
    np.testing.assert_allclose(segments_to_frames(s, 30, 7, 4, "sultani", "clip_aligned"), want)
    np.testing.assert_allclose(segments_to_frames(s, 30, 7, 4, "sultani", "auto"), want)
    exact = segments_to_frames(s, 30, 7, 4, "sultani", "sultani_exact")
    np.testing.assert_allclose(exact[:28], want[:28])
    assert exact[28:].tolist() == [0.0, 0.0]
    # k = 100: segment 31 covers clips [96, 99); the last clip (99) and tail are uncovered
    out = segments_to_frames(s, 100 * 2 + 1, 100, 2, "sultani", "sultani_exact")
    assert out[96 * 2 : 99 * 2].tolist() == [1.0] * 6 and out[198:].tolist() == [0.0] * 3
    assert segments_to_frames(s, 201, 100, 2, "sultani", "clip_aligned")[198:].tolist() == [1.0] * 3
    # nearest: round(linspace(0, 31, 5)) = [0, 8, 16, 23, 31]
    np.testing.assert_allclose(segments_to_frames(s, 5, 7, 4, "sultani", "nearest"), s[[0, 8, 16, 23, 31]])


# -- training ------------------------------------------------------------------------------------------
D, K, CL = 16, 40, 16


def _videos(n_a, n_n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for j in range(n_a + n_n):
        anomalous = j < n_a
        f = np.abs(rng.normal(0, 1, (K, D))).astype(np.float32) + 0.5
        lab = np.zeros(K * CL, dtype=np.int8)
        # a distractor event in every video (label 0): an untrained net reacts to it as much
        # as to the anomaly, so a high AUC needs the ranking loss to have learnt the difference
        s = int(rng.integers(0, K - 16))
        f[s : s + 16, 4:8] += 6.0
        if anomalous:
            s = int(rng.integers(2, K - 10))
            e = s + int(rng.integers(4, 8))
            f[s:e, :4] += 3.0
            lab[s * CL : e * CL] = 1
        out.append(VideoData(f"v{seed}_{j}", f, K * CL, CL, CL, anomalous, frame_labels=lab))
    return out


CFG = {"iterations": 200, "batch_anomalous": 10, "batch_normal": 10, "device": "cpu", "seed": 2}


@pytest.fixture(scope="module")
def trained():
    m = get_method("mil")(CFG)
    train = _videos(20, 20, seed=1)
    for v in train:
        v.frame_labels = None  # video labels only
    m.fit(train)
    return m


def test_training_smoke_auc(trained):
    test = _videos(8, 8, seed=2)
    scores = [trained.score(v) for v in test]
    assert all(len(s) == v.n_frames for s, v in zip(scores, test))
    auc = roc_auc_score(np.concatenate([v.frame_labels for v in test]), np.concatenate(scores))
    assert auc > 0.8, auc
    # the data is not separable without training: the same seed after 1 iteration is near chance
    base = get_method("mil")({**CFG, "iterations": 1})
    base.fit(_videos(20, 20, seed=1))
    auc0 = roc_auc_score(np.concatenate([v.frame_labels for v in test]), np.concatenate([base.score(v) for v in test]))
    assert auc0 < 0.7, auc0
    assert trained.history[-1] < 0.2 * trained.history[0]


def test_save_load_identical_scores(trained, tmp_path):
    p = tmp_path / "mil.pt"
    trained.save(p)
    loaded = MIL.load(p)
    v = _videos(1, 0, seed=3)[0]
    np.testing.assert_array_equal(trained.score(v), loaded.score(v))
    # segments32 layout is used as is
    v32 = VideoData("s", make_bag(v.features), v.n_frames, CL, CL, True, layout="segments32")
    np.testing.assert_allclose(loaded.score(v32), trained.score(v), atol=1e-6)


def test_same_seed_same_weights(trained):
    m = get_method("mil")({**CFG, "iterations": 5})
    m2 = get_method("mil")({**CFG, "iterations": 5})
    m3 = get_method("mil")({**CFG, "iterations": 5, "seed": 8})
    train = _videos(12, 12, seed=1)
    for x in (m, m2, m3):
        x.fit(train)
    a, b, c = (x.state()["net"] for x in (m, m2, m3))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["fc1.weight"], c["fc1.weight"])


def test_ekosman_loss_trains():
    """``loss: ekosman`` (one-to-one pairs, Adadelta) also learns the toy ranking."""
    m = get_method("mil")({**CFG, "loss": "ekosman", "lr": 1.0, "iterations": 300})
    train = _videos(20, 20, seed=1)
    for v in train:
        v.frame_labels = None
    m.fit(train)
    test = _videos(8, 8, seed=2)
    auc = roc_auc_score(np.concatenate([v.frame_labels for v in test]), np.concatenate([m.score(v) for v in test]))
    assert auc > 0.8, auc
    assert m.history[-1] < m.history[0]


# -- short_videos: skip_like_seed001 -----------------------------------------------------------------
def _short_videos():
    rng = np.random.default_rng(9)
    return [VideoData(f"short_{a}", np.abs(rng.normal(0, 1, (k, D))).astype(np.float32) + 0.5, k * CL, CL, CL, a)
            for a, k in ((True, 20), (False, 31))]


def test_skip_like_seed001_leaves_short_videos_out_of_training_and_scores_them_zero(tmp_path):
    cfg = {**CFG, "iterations": 5, "segments": "seed001", "short_videos": "skip_like_seed001"}
    train, short = _videos(6, 6, seed=1), _short_videos()
    m = MIL(cfg)
    m.fit(train + short)
    assert sorted(m.skipped_train) == ["short_False", "short_True"]
    assert all("fewer than 32 clips" in r for r in m.skipped_train.values())
    # exactly the model trained without them; padding them in trains another one
    alone, padded = MIL(cfg), MIL({**cfg, "short_videos": "pad"})
    alone.fit(train)
    padded.fit(train + short)
    w, w_alone, w_pad = (x.state()["net"]["fc1.weight"] for x in (m, alone, padded))
    assert torch.equal(w, w_alone) and not torch.equal(w, w_pad) and padded.skipped_train == {}
    # scoring: short videos get all-zero frame scores and a reason; others are scored
    v = short[1]
    assert m.skip_reason(v) is not None and padded.skip_reason(v) is None and m.skip_reason(train[0]) is None
    assert m.score(v).tolist() == [0.0] * v.n_frames and padded.score(v).min() > 0
    # segments32 rows: k comes from the frame count (511 frames -> 31 clips)
    v32 = VideoData("s32", np.ones((32, D), np.float32), 511, CL, CL, True, layout="segments32")
    assert m.skip_reason(v32) is not None and m.skip_reason(VideoData("s32", v32.features, 512, CL, CL, True,
                                                                       layout="segments32")) is None
    m.save(tmp_path / "m.pt")
    assert MIL.load(tmp_path / "m.pt").skipped_train == m.skipped_train
    with pytest.raises(MethodError, match="left no training video"):
        MIL(cfg).fit(short)
    with pytest.raises(MethodError, match="short_videos"):
        MIL({**cfg, "short_videos": "drop"})


def test_skip_like_seed001_through_train_score_evaluate_summary(tmp_path):
    """The score file records the skipped videos; the auc row and the summary count them and say
    why; the skipped test video is pooled with zero scores but left out of the video-level %."""
    import json

    import h5py
    import pandas as pd

    from vadflow import cli
    from vadflow.data.manifest import COLUMNS, write_manifest
    from vadflow.features.writer import FeatureWriter

    train, short = _videos(6, 6, seed=1), _short_videos()
    test = _videos(2, 2, seed=2)
    # The short anomalous video is a test video with an event; the short normal one trains.
    short_test = short[0]
    short_test.frame_labels = np.zeros(short_test.n_frames, np.int8)
    short_test.frame_labels[:CL] = 1
    split = {**{v.id: "train" for v in train + [short[1]]}, **{v.id: "test" for v in test + [short_test]}}
    videos = train + [short[1]] + test + [short_test]
    rows = [{"id": v.id, "path": f"x/{v.id}.mp4", "split": split[v.id], "cls": "Abuse" if v.anomalous else "Normal",
             "anomalous": v.anomalous, "frames": v.n_frames, "fps": 30.0, "width": 0, "height": 0, "status": "ok",
             "error": ""} for v in videos]
    labels = {v.id: v.frame_labels for v in videos if split[v.id] == "test"}
    write_manifest(pd.DataFrame(rows, columns=COLUMNS), labels, tmp_path / "manifest.csv", tmp_path / "labels.h5")
    with FeatureWriter(tmp_path / "f.h5", {"extractor": "f", "layout": "clips"}) as w:
        for v in videos:
            w.add(v.id, v.features, {"extractor": "f", "clip_len": CL, "stride": CL, "fps": 30.0, "n_frames": v.n_frames,
                                     "config_hash": "h", "weights": "w", "layout": "clips"}, dtype="float32")
    cfg = json.dumps({**CFG, "name": "mx", "kind": "mil", "iterations": 5, "segments": "seed001",
                      "short_videos": "skip_like_seed001"})
    io = ["--manifest", str(tmp_path / "manifest.csv"), "--labels", str(tmp_path / "labels.h5"), "--features", str(tmp_path / "f.h5")]
    assert cli.main(["train", "-q", "--cfg", cfg, *io, "--out", str(tmp_path / "m.pt")]) == 0
    assert cli.main(["score", "-q", "--cfg", cfg, *io, "--model", str(tmp_path / "m.pt"), "--out", str(tmp_path / "s.h5")]) == 0
    with h5py.File(tmp_path / "s.h5") as f:
        assert list(json.loads(f.attrs["skipped_test"])) == ["short_True"]
        assert list(json.loads(f.attrs["skipped_train"])) == ["short_False"]
        assert not f["short_True"][()].any() and f[test[0].id][()].min() > 0
    out = {k: str(tmp_path / f"{k}.csv") for k in ("auc", "f1", "per_video", "per_class")}
    ev = json.dumps({"threshold": 0.5, "alarm_threshold": 0.5, "f1_k": [10], "plot_videos": 1})
    assert cli.main(["evaluate", "--cfg", ev, "--method", "mx", "--manifest", str(tmp_path / "manifest.csv"),
                     "--labels", str(tmp_path / "labels.h5"), "--scores", str(tmp_path / "s.h5"),
                     "--auc", out["auc"], "--f1", out["f1"], "--per-video", out["per_video"],
                     "--per-class", out["per_class"], "--timelines", str(tmp_path / "t.png"),
                     "--details", str(tmp_path / "details.json")]) == 0
    auc = pd.read_csv(out["auc"]).iloc[0]
    assert (auc["n_videos"], auc["n_skipped_test"], auc["n_skipped_train"]) == (5, 1, 1)
    assert "fewer than 32 clips" in auc["skipped_reason"]
    assert auc["n_frames"] == sum(v.n_frames for v in test) + short_test.n_frames  # pooled with its zeros
    pv = pd.read_csv(out["per_video"]).set_index("id")
    assert pv.loc["short_True", "skipped"] and not pv.loc[test[0].id, "skipped"]
    # video level: over the 2 scored anomalous videos only
    scored_anom = pv[pv["anomalous"] & ~pv["skipped"]]
    assert len(scored_anom) == 2 and scored_anom["alarm"].any()  # else 0 % would not tell the denominators apart
    assert auc["alarms_anomalous_pct"] == pytest.approx(100 * scored_anom["alarm"].mean())
    assert cli.main(["summary", "--dataset", "toy", "--auc", out["auc"], "--f1", out["f1"],
                     "--details", str(tmp_path / "details.json"), "--out-csv", str(tmp_path / "summary.csv"), "--out-html", str(tmp_path / "report.html")]) == 0
    val = pd.read_csv(tmp_path / "summary.csv").set_index(["method", "metric"])["value"]
    assert val["mx", "n_skipped_test"] == 1 and val["mx", "n_skipped_train"] == 1
    html = (tmp_path / "report.html").read_text()
    assert "Skipped videos" in html and "mx: 1 of 5 test and 1 training videos skipped: fewer than 32 clips" in html
