"""MGFN core (vadflow.methods.mgfn.core): shapes, the selection, each loss term against numpy,
the segment rule, determinism and a toy fit. Fidelity to the authors' code is checked by
benchmarks/crosscheck_mgfn.py (needs their checkout; not run in CI)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vadflow.methods.mgfn import core

TINY = {"dims": (8, 16, 32), "depths": (1, 1, 1), "dim_head": 8}  # heads 1, 2, 4


def tiny(in_dim: int = 6, seed: int = 0, **cfg) -> core.Net:
    torch.manual_seed(seed)
    return core.build(in_dim, {**TINY, **cfg})


def bags(n: int, c: int, t: int, d: int = 6, seed: int = 1, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, t, d, generator=g).abs()
    if shift:
        x[:, :, t // 3:t // 3 + 3, :3] += shift  # a few anomalous rows
    return x


# ------------------------------------------------------------------------------------ shapes

@pytest.mark.parametrize("c", [1, 5, 10])
@pytest.mark.parametrize("t", [1, 2, 7, 32, 45])
def test_forward_shapes(c, t):
    net = tiny()
    n = 2
    out = net(bags(2 * n, c, t), n_normal=n)
    k = min(3, t)
    assert out.score_abnormal.shape == out.score_normal.shape == (n, 1)
    assert out.abn_feamagnitude.shape == out.nor_feamagnitude.shape == (c * n, k, 32)
    assert out.scores.shape == (2 * n, t, 1)
    assert torch.all((out.scores > 0) & (out.scores < 1))
    s = core.snippet_scores(net, bags(1, c, t)[0])
    assert s.shape == (t,) and s.dtype == np.float32


def test_default_network_layout_matches_the_original_state_dict():
    """Same keys as the authors' mgfn() (145 tensors), so their checkpoints load into Net(2048, {})."""
    net = core.build(2048, {})
    keys = list(net.state_dict())
    assert len(keys) == 145
    for key in ("to_tokens.weight", "to_mag.weight", "stages.0.0.layers.2.1.to_qkv.weight",
                "stages.0.1.0.g", "stages.0.1.1.weight", "stages.1.0.layers.0.1.norm.running_var",
                "stages.2.0.layers.1.1.rel_pos.weight", "stages.2.0.layers.1.2.4.bias", "to_logits.0.weight", "fc.bias"):
        assert key in keys, key
    assert not any(k.startswith("stages.2.1.") for k in keys)  # no transition after the last stage
    heads = [m.heads for m in net.modules() if isinstance(m, (core.Glance, core.Focus))]
    assert heads == [1] * 3 + [2] * 3 + [16] * 2
    out = net.eval()(bags(1, 1, 4, d=2048))
    assert out.scores.shape == (1, 4, 1) and out.abn_feamagnitude.shape == (1, 3, 1024)


def test_bad_inputs_are_named():
    net = tiny()
    with pytest.raises(ValueError, match=r"\[B, C, T, 6\]"):
        net(torch.zeros(2, 1, 8, 5))
    with pytest.raises(ValueError, match="n normal then n abnormal"):
        net(torch.zeros(5, 1, 8, 6), n_normal=2)
    with pytest.raises(ValueError, match="both be"):
        core.loss(net, torch.zeros(2, 1, 8, 6), torch.zeros(3, 1, 8, 6))
    with pytest.raises(ValueError, match="mc_pairing"):
        core.build(6, {"mc_pairing": "bags"})


# ------------------------------------------------------------------------------- selection

def test_selection_against_numpy_eval_mode():
    """Crop-mean scores, crop-mean L2 magnitudes, top-3 per bag, rows taken from every crop, crop-major."""
    net = tiny().eval()
    n, c, t = 2, 3, 9
    x = bags(2 * n, c, t, shift=2.0)
    with torch.no_grad():
        # at initialisation (gain 1, bias 0) the final LayerNorm makes every row's norm ~sqrt(32):
        # near-ties that float rounding would order; random affine parameters separate them
        g = torch.Generator().manual_seed(4)
        net.to_logits[0].weight.copy_(1 + torch.randn(32, generator=g))
        net.to_logits[0].bias.copy_(torch.randn(32, generator=g))
        feats, sc = net.embed(x)
        out = net.select(feats, sc, 2 * n, c, n)
    f = feats.numpy().reshape(2 * n, c, t, -1)
    s = sc.numpy().reshape(2 * n, c, t).mean(1)
    mag = np.linalg.norm(f, axis=3).mean(1)  # [2n, T]
    np.testing.assert_allclose(out.scores.numpy()[..., 0], s, rtol=1e-6)
    for part, rows, sel, score in (("abn", range(n, 2 * n), out.abn_feamagnitude, out.score_abnormal),
                                   ("nor", range(n), out.nor_feamagnitude, out.score_normal)):
        for j, b in enumerate(rows):
            idx = np.argsort(-mag[b], kind="stable")[:3]
            np.testing.assert_allclose(score.numpy()[j, 0], s[b, idx].mean(), rtol=1e-6, err_msg=part)
            for crop in range(c):
                np.testing.assert_array_equal(sel.numpy()[crop * n + j], f[b, crop, idx], err_msg=part)


def test_inference_aliases_and_single_bag_quirk():
    net = tiny().eval()
    with torch.no_grad():
        one = net(bags(1, 2, 8))  # inference: the abnormal outputs repeat the normal ones
        assert torch.equal(one.score_abnormal, one.score_normal)
        pair = net(bags(2, 2, 8))
        assert not torch.equal(pair.score_abnormal, pair.score_normal)
        quirk = tiny(single_bag_alias=True).eval()(bags(2, 2, 8))
        assert torch.equal(quirk.abn_feamagnitude, quirk.nor_feamagnitude)  # the normal bag used twice


def test_training_dropout_on_the_magnitudes_only():
    """Training mode: dropout (p = 0.7) masks magnitudes before top-k; scores themselves are not dropped."""
    net = tiny()
    x = bags(4, 1, 32)
    net.train()
    torch.manual_seed(0)
    a = net(x)
    torch.manual_seed(1)
    b = net(x)
    net.eval()
    with torch.no_grad():
        e = net(x)
    assert torch.allclose(a.scores, b.scores, atol=1e-6)  # BatchNorm batch stats, same batch
    assert not torch.equal(a.abn_feamagnitude, b.abn_feamagnitude)  # different masks, different rows
    assert e.abn_feamagnitude.shape == a.abn_feamagnitude.shape


# ------------------------------------------------------------------------------------- loss

def np_contrastive(o1, o2, label, margin=200.0):
    d = np.sqrt(((o1 - o2 + 1e-6) ** 2).sum(1))
    return np.mean((1 - label) * d ** 2 + label * np.maximum(margin - d, 0) ** 2)


def np_terms(out: core.Out, n: int, c: int, pairing: str, regularizers: str) -> dict[str, float]:
    o = [v.detach().double().numpy() for v in out]
    sa, sn, fa, fn, s = o
    p = np.concatenate((sn, sa))[:, 0]
    y = np.r_[np.zeros(n), np.ones(n)]
    bce = -np.mean(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))
    la, ln = np.abs(fa).sum(2), np.abs(fn).sum(2)

    def halves(m):
        if pairing == "original":
            h = len(m) // 2
            return m[h:], m[:h]
        v, q = m.reshape(c, n, -1), n // 2
        return v[:, q:2 * q].reshape(c * q, -1), v[:, :q].reshape(c * q, -1)
    s = s[..., 0]
    if regularizers == "head":
        sparse, smooth = np.sqrt((s[:n] ** 2).sum()), ((s[:, 1:] - s[:, :-1]) ** 2).sum()
    else:
        a = s[n:].reshape(-1)
        sparse, smooth = np.sqrt((a ** 2).sum()), ((a[1:] - a[:-1]) ** 2).sum()
    t = {"bce": bce, "mc_inter": np_contrastive(la, ln, 1), "mc_normal": np_contrastive(*halves(ln), 0),
         "mc_abnormal": np_contrastive(*halves(la), 0), "smooth": smooth, "sparse": sparse}
    t["total"] = (bce + 1e-3 * (1e-3 * t["mc_inter"] + t["mc_abnormal"] + t["mc_normal"])
                  + 8e-4 * smooth + 8e-3 * sparse)
    return t


@pytest.mark.parametrize("pairing,regularizers,c", [("videos", "head", 3), ("original", "head", 10),
                                                     ("videos", "release", 1), ("original", "release", 5)])
def test_each_loss_term_against_numpy(pairing, regularizers, c):
    cfg = {"mc_pairing": pairing, "regularizers": regularizers}
    net = tiny(**cfg)
    n, t = 4, 12
    nx, ax = bags(n, c, t, seed=2), bags(n, c, t, seed=3, shift=1.5)
    torch.manual_seed(7)
    total, parts = core.loss(net, nx, ax, cfg)
    torch.manual_seed(7)  # the same dropout masks again; train-mode BatchNorm uses batch statistics
    out = net(torch.cat((nx, ax)), n_normal=n)
    ref = np_terms(out, n, c, pairing, regularizers)
    for key, want in ref.items():
        assert parts[key] == pytest.approx(want, rel=2e-5, abs=1e-7), key
    assert float(total.detach()) == pytest.approx(parts["total"])
    assert parts["mc_inter"] > 1e4  # margin 200 on L1 magnitudes far below it


def test_mc_pairings_agree_for_one_crop_and_differ_for_ten():
    n, t = 4, 10
    nx, ax = bags(n, 1, t, seed=2), bags(n, 1, t, seed=3)
    res = {}
    for pairing in ("videos", "original"):
        torch.manual_seed(3)
        res[pairing] = core.loss(tiny(), nx, ax, {"mc_pairing": pairing})[1]
    assert res["videos"] == res["original"]
    nx, ax = bags(n, 10, t, seed=2), bags(n, 10, t, seed=3)
    for pairing in ("videos", "original"):
        torch.manual_seed(3)
        res[pairing] = core.loss(tiny(), nx, ax, {"mc_pairing": pairing})[1]
    assert res["videos"]["mc_normal"] != res["original"]["mc_normal"]
    assert res["videos"]["bce"] == res["original"]["bce"]


def test_one_bag_per_class_has_no_intra_class_pairs_by_default():
    torch.manual_seed(0)
    _, parts = core.loss(tiny(), bags(1, 2, 8, seed=2), bags(1, 2, 8, seed=3), {})
    assert parts["mc_normal"] == parts["mc_abnormal"] == 0.0 and np.isfinite(parts["total"])


# --------------------------------------------------------------------------------- segments

def test_segment_rule_by_hand():
    rows = np.arange(64 * 2, dtype=np.float32).reshape(64, 2)
    np.testing.assert_array_equal(core.segment(rows), (rows[0::2] + rows[1::2]) / 2)  # T = 64: pairs
    one = np.array([[3.0, -1.0]], np.float32)
    np.testing.assert_array_equal(core.segment(one), np.repeat(one, 32, 0))  # T = 1: repeated
    r33 = np.arange(33 * 2, dtype=np.float32).reshape(33, 2)
    want = r33[:32].copy()
    want[31] = r33[31:33].mean(0)  # boundaries floor(33 i / 32): the last segment takes two rows
    np.testing.assert_array_equal(core.segment(r33), want)
    for t in (5, 31, 47, 100):
        f = np.random.default_rng(t).normal(size=(t, 3)).astype(np.float32)
        b = [(i * t) // 32 for i in range(33)]
        want = np.stack([f[b[i]:b[i + 1]].mean(0) if b[i + 1] > b[i] else f[b[i]] for i in range(32)])
        np.testing.assert_allclose(core.segment(f), want, rtol=1e-6, atol=1e-7)
    assert core.segment(rows, 8).shape == (8, 2) and core.segment(rows).dtype == np.float32
    with pytest.raises(ValueError):
        core.segment(np.zeros((0, 3)))


# ------------------------------------------------------------------------- determinism, fit

def test_determinism_with_a_seed():
    a, b = tiny(seed=5), tiny(seed=5)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    nx, ax = bags(2, 2, 16, seed=2), bags(2, 2, 16, seed=3)
    torch.manual_seed(9)
    la = core.loss(a, nx, ax, {})[1]
    torch.manual_seed(9)
    lb = core.loss(b, nx, ax, {})[1]
    assert la == lb
    v = bags(1, 2, 20)[0]
    a.train()
    np.testing.assert_array_equal(core.snippet_scores(a, v), core.snippet_scores(b, v))
    assert a.training  # snippet_scores restores the mode


def test_a_few_steps_fit_a_separable_toy_problem():
    torch.set_num_threads(1)
    cfg = {**TINY}
    net = tiny(**cfg)
    opt = core.optimizer(net, cfg)
    nx, ax = bags(4, 1, 32, seed=2), bags(4, 1, 32, seed=3, shift=3.0)

    def evaluate():
        torch.manual_seed(0)
        with torch.no_grad():
            return core.loss(net, nx, ax, cfg)[1]
    before = evaluate()
    for step in range(25):
        torch.manual_seed(100 + step)
        total, _ = core.loss(net, nx, ax, cfg)
        opt.zero_grad()
        total.backward()
        opt.step()
    after = evaluate()
    assert after["total"] < before["total"] - 0.05 and after["bce"] < before["bce"]
    s_n = core.snippet_scores(net, nx[0]).mean()
    s_a = core.snippet_scores(net, ax[0])[32 // 3:32 // 3 + 3].mean()
    assert s_a > s_n
