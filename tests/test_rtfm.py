"""RTFM core (vadflow.methods.rtfm.core): the segment rule against hand-computed boundaries, the
forward's shapes for 1, 5 and 10 crops and short videos, the whole eval-mode forward and every
loss term against an independent numpy implementation, determinism under a seed, and a few
Adam steps on a separable toy problem. The comparison with the authors' code itself is
benchmarks/crosscheck_rtfm.py (it needs their checkout, so it is not run here)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from vadflow.methods.rtfm import core

torch.set_num_threads(1)

TINY = {"branch_channels": 6, "nonlocal_channels": 3, "fc_hidden": (5, 3)}


def tiny_net(in_dim: int = 4, seed: int = 0, **cfg) -> core.Net:
    torch.manual_seed(seed)
    return core.build(in_dim, {**TINY, **cfg})


def randomise_bn(net: core.Net, seed: int = 1) -> None:
    """Non-trivial BatchNorm weights and statistics (the non-local block's BN starts at zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))


# ------------------------------------------------------------------------------------------
# segment rule
# ------------------------------------------------------------------------------------------

def by_boundaries(f: np.ndarray, r: list[int]) -> np.ndarray:
    return np.stack([f[a:b].mean(0) if b > a else f[a] for a, b in itertools.pairwise(r)])


def test_segment_boundaries_by_hand():
    f = np.arange(5 * 3 * 40, dtype=np.float32).reshape(-1, 3) ** 1.5  # distinct rows
    # T = 5 < 32: r_i = floor(5i/32) = 0 (i <= 6), 1 (7..12), 2 (13..19), 3 (20..25), 4 (26..31), 5
    r5 = [0] * 7 + [1] * 6 + [2] * 7 + [3] * 6 + [4] * 6 + [5]
    assert len(r5) == 33
    s5 = core.segment(f[:5])
    np.testing.assert_array_equal(s5, f[np.array(r5[:32])])  # coinciding boundaries: row r_i alone
    # T = 32: one row per segment; T = 33: floor(33i/32) = i for i < 32, so the last one is rows 31, 32
    np.testing.assert_array_equal(core.segment(f[:32]), f[:32])
    r33 = list(range(32)) + [33]
    np.testing.assert_allclose(core.segment(f[:33]), by_boundaries(f[:33], r33), rtol=1e-6)
    np.testing.assert_allclose(core.segment(f[:33])[31], (f[31] + f[32]) / 2, rtol=1e-6)
    # T = 40: floor(1.25 i) = 0 1 2 3 5 6 7 8 10 ...: every 4 segments cover 5 rows
    r40 = [5 * (i // 4) + [0, 1, 2, 3][i % 4] for i in range(32)] + [40]
    np.testing.assert_allclose(core.segment(f[:40]), by_boundaries(f[:40], r40), rtol=1e-6)
    assert np.array_equal(core.segment(f[:40])[3], (f[3] + f[4]) / 2)
    # T = 1: every segment is the one row; T = 64: means of pairs
    np.testing.assert_array_equal(core.segment(f[:1]), np.repeat(f[:1], 32, 0))
    np.testing.assert_allclose(core.segment(f[:64]), (f[0:64:2] + f[1:64:2]) / 2, rtol=1e-6)


def test_segment_dtype_other_n_and_errors():
    f = np.random.default_rng(0).normal(size=(100, 4))  # float64 in: cast to float32 first
    s = core.segment(f, n=10)
    assert s.dtype == np.float32 and s.shape == (10, 4)
    np.testing.assert_allclose(s, f.astype(np.float32).reshape(10, 10, 4).mean(1), rtol=1e-5)
    with pytest.raises(ValueError):
        core.segment(np.zeros((0, 4)))
    with pytest.raises(ValueError):
        core.segment(np.zeros((3, 4, 1)))


# ------------------------------------------------------------------------------------------
# network shapes
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("crops", [1, 5, 10])
@pytest.mark.parametrize("t", [1, 2, 3, 7, 32])
def test_forward_shapes(crops, t):
    net = tiny_net(in_dim=6)
    b, k = 2, min(3, t)
    for mode in (True, False):
        net.train(mode)
        out = net(torch.rand(2 * b, crops, t, 6))
        assert out.score_abnormal.shape == out.score_normal.shape == (b,)
        assert out.feat_select_abn.shape == out.feat_select_normal.shape == (crops * b, k, 6)
        assert out.scores.shape == out.feat_magnitudes.shape == (2 * b, t)
        assert out.idx_abn.shape == out.idx_normal.shape == (b, k)
        assert ((out.scores >= 0) & (out.scores <= 1)).all()
    one = net.eval()(torch.rand(1, crops, t, 6))  # inference: the video stands in for both halves
    assert one.scores.shape == (1, t) and torch.equal(one.score_abnormal, one.score_normal)
    s = core.snippet_scores(net, torch.rand(crops, t, 6))
    assert s.shape == (t,) and s.dtype == np.float32


def test_forward_rejects_unbalanced_halves():
    net = tiny_net()
    with pytest.raises(ValueError):
        net(torch.rand(3, 1, 8, 4), n_normal=2)
    with pytest.raises(ValueError):
        core.loss(net, torch.rand(2, 1, 8, 4), torch.rand(1, 1, 8, 4))


def test_parameter_count_of_the_published_2048d_network():
    net = core.build(2048, {})
    dil = 3 * (2048 * 512 * 3 + 512) + 3 * 2 * 512
    local = 2048 * 512
    fuse = 2048 * 2048 * 3 + 2 * 2048
    nonlocal_ = 3 * (512 * 256 + 256) + (256 * 512 + 512) + 2 * 512
    head = (2048 * 512 + 512) + (512 * 128 + 128) + (128 + 1)
    assert sum(p.numel() for p in net.parameters()) == dil + local + fuse + nonlocal_ + head
    # any in_dim: real XD-Violence features are 1024-d with 5 crops, ours 60-d with one crop
    for d, crops in ((1024, 5), (60, 1)):
        assert core.snippet_scores(core.build(d, {}), torch.rand(crops, 4, d)).shape == (4,)


# ------------------------------------------------------------------------------------------
# the eval-mode forward and the losses against numpy
# ------------------------------------------------------------------------------------------

def np_params(net: core.Net) -> dict[str, np.ndarray]:
    return {k: v.detach().double().numpy() for k, v in net.state_dict().items()}


def np_conv(x, w, b=None, dilation=1, padding=0):
    """x [n, cin, T], w [cout, cin, K] -> [n, cout, T] (stride 1)."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    t_out = xp.shape[2] - dilation * (w.shape[2] - 1)
    out = np.zeros((x.shape[0], w.shape[0], t_out))
    for j in range(w.shape[2]):
        out += np.einsum("oi,nit->not", w[:, :, j], xp[:, :, j * dilation:j * dilation + t_out])
    return out if b is None else out + b[None, :, None]


def np_bn(x, p, name):
    m, v = p[f"{name}.running_mean"], p[f"{name}.running_var"]
    return (x - m[None, :, None]) / np.sqrt(v[None, :, None] + 1e-5) * p[f"{name}.weight"][None, :, None] \
        + p[f"{name}.bias"][None, :, None]


def relu(x):
    return np.maximum(x, 0)


def np_forward(p: dict, x: np.ndarray, n_normal: int, k: int = 3, alias: bool = False) -> dict:
    """RTFM's eval-mode forward written out in numpy (dropout is the identity)."""
    n, c, t, d = x.shape
    h = x.reshape(n * c, t, d).transpose(0, 2, 1)
    pyr = [np_bn(relu(np_conv(h, p[f"dilated.{i}.weight"], p[f"dilated.{i}.bias"], dil, dil)), p, f"dilated_bn.{i}")
           for i, dil in enumerate((1, 2, 4))]
    z = relu(np_conv(h, p["local.weight"]))
    g = np_conv(z, p["attn.g.weight"], p["attn.g.bias"]).transpose(0, 2, 1)
    th = np_conv(z, p["attn.theta.weight"], p["attn.theta.bias"]).transpose(0, 2, 1)
    ph = np_conv(z, p["attn.phi.weight"], p["attn.phi.bias"])
    y = ((th @ ph) / t @ g).transpose(0, 2, 1)
    z = np_bn(np_conv(y, p["attn.out.weight"], p["attn.out.bias"]), p, "attn.out_bn") + z
    fused = np_bn(relu(np_conv(np.concatenate(pyr + [z], 1), p["fuse.weight"], padding=1)), p, "fuse_bn")
    feats = (fused + h).transpose(0, 2, 1)  # [n*c, t, d]
    s = relu(feats @ p["fc1.weight"].T + p["fc1.bias"])
    s = relu(s @ p["fc2.weight"].T + p["fc2.bias"])
    s = 1 / (1 + np.exp(-(s @ p["fc3.weight"].T + p["fc3.bias"])[..., 0]))
    scores = s.reshape(n, c, t).mean(1)
    mags = np.linalg.norm(feats, axis=2).reshape(n, c, t).mean(1)
    feats = feats.reshape(n, c, t, d)
    nor = slice(0, n_normal)
    abn = nor if (n == n_normal or (alias and n_normal == 1)) else slice(n_normal, n)
    k = min(k, t)
    idx_a = np.argsort(-mags[abn], axis=1, kind="stable")[:, :k]
    idx_n = np.argsort(-mags[nor], axis=1, kind="stable")[:, :k]

    def select(f, idx):  # -> [c*b, k, d], crop-major
        return np.concatenate([np.stack([f[bi, ci, idx[bi]] for bi in range(f.shape[0])]) for ci in range(c)])

    return {
        "score_abnormal": np.take_along_axis(scores[abn], idx_a, 1).mean(1),
        "score_normal": np.take_along_axis(scores[nor], idx_n, 1).mean(1),
        "feat_select_abn": select(feats[abn], idx_a), "feat_select_normal": select(feats[nor], idx_n),
        "scores": scores, "feat_magnitudes": mags, "idx_abn": idx_a, "idx_normal": idx_n,
    }


def np_loss(o: dict, n_normal: int, cfg: dict) -> dict:
    cfg = core.config(cfg)
    sc = np.concatenate([o["score_normal"], o["score_abnormal"]])
    lab = np.concatenate([np.zeros(n_normal), np.ones(n_normal)])
    cls = -np.mean(lab * np.log(sc) + (1 - lab) * np.log(1 - sc))
    fa, fn, m = o["feat_select_abn"], o["feat_select_normal"], cfg["margin"]
    if cfg["magnitude_loss"] == "squared":
        mag = np.mean((np.abs(m - np.linalg.norm(fa.mean(1), axis=1)) + np.linalg.norm(fn.mean(1), axis=1)) ** 2)
    else:
        mag = np.mean(np.maximum(0, m - np.linalg.norm(fa, axis=2).mean(1) + np.linalg.norm(fn, axis=2).mean(1)))
    a = o["scores"][n_normal:]
    if cfg["smoothness"] == "per_video":
        smooth = sum(np.sum(np.diff(row) ** 2) for row in a)
    else:
        smooth = np.sum(np.diff(a.reshape(-1)) ** 2)
    sparse = np.mean(a.sum(1)) if cfg["sparsity"] == "l1_per_video" else np.sqrt(np.sum(a ** 2))
    parts = {"cls": cls, "magnitude": cfg["alpha"] * mag, "magnitude_raw": mag,
             "smoothness": cfg["lambda_smooth"] * smooth, "sparsity": cfg["lambda_sparsity"] * sparse}
    parts["total"] = parts["cls"] + parts["magnitude"] + parts["smoothness"] + parts["sparsity"]
    return parts


CASES = {
    "paper": {},
    "original": {"fidelity": "original"},
    "hinge": {"magnitude_loss": "hinge", "margin": 2.0},
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("b", [1, 2])
def test_eval_forward_and_every_loss_term_against_numpy(case, b):
    """D = 4, T = 6, two crops, b normal + b abnormal bags; b = 1 is the original's alias case."""
    cfg = {**TINY, **CASES[case]}
    torch.manual_seed(3)
    net = core.build(4, cfg)
    randomise_bn(net)
    net.eval()
    g = torch.Generator().manual_seed(4)
    normal, abnormal = torch.rand(b, 2, 6, 4, generator=g), 1.5 * torch.rand(b, 2, 6, 4, generator=g)
    x = torch.cat([normal, abnormal])
    alias = core.config(cfg)["single_pair_alias"]
    ref = np_forward(np_params(net), x.double().numpy(), b, alias=alias)
    with torch.no_grad():
        out = net(x, n_normal=b)
    for name, want in ref.items():
        np.testing.assert_allclose(getattr(out, name).double().numpy(), want, rtol=1e-5, atol=1e-6, err_msg=name)
    _, parts = core.loss(net, normal, abnormal, cfg)
    want = np_loss(ref, b, cfg)
    assert set(parts) == set(want)
    for name in want:
        assert parts[name] == pytest.approx(want[name], rel=1e-5, abs=1e-7), name
    # the original's bug (b = 1): the normal bag stands in for the abnormal one
    assert torch.equal(out.score_abnormal, out.score_normal) == (alias and b == 1)


def test_the_originals_batch_size_one_bug_is_an_option():
    """With one bag per class the original puts the normal bag in place of the abnormal one
    (model.py:226-229): BCE sees one bag labelled 0 and 1, and the magnitude term is the constant
    (|m - n| + n)^2 = m^2 with no gradient. ``single_pair_alias`` (read per loss call) reproduces it."""
    net = tiny_net().eval()
    g = torch.Generator().manual_seed(2)
    normal, abnormal = torch.rand(1, 2, 8, 4, generator=g), 2 * torch.rand(1, 2, 8, 4, generator=g)
    _, bug = core.loss(net, normal, abnormal, {"fidelity": "original"})
    _, fixed = core.loss(net, normal, abnormal, {})
    assert bug["magnitude_raw"] == pytest.approx(100.0 ** 2)
    assert fixed["magnitude_raw"] != pytest.approx(100.0 ** 2)
    s = net(normal).score_normal.item()  # the normal bag's top-k score alone
    assert bug["cls"] == pytest.approx(-(np.log(1 - s) + np.log(s)) / 2, rel=1e-5)


def test_loss_terms_by_hand():
    """The four regularisers and magnitude forms on numbers small enough to check by eye."""
    s = torch.tensor([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    assert core.smoothness_loss(s, "per_video").item() == pytest.approx(0.25 + 1.0)
    assert core.smoothness_loss(s, "across_batch").item() == pytest.approx(0.25 + 0.25 + 1.0)  # 0.5 -> 1.0 across bags
    assert core.sparsity_loss(s, "l1_per_video").item() == pytest.approx((1.0 + 1.0) / 2)
    assert core.sparsity_loss(s, "l2_batch").item() == pytest.approx(np.sqrt(0.25 + 0.25 + 1.0))
    # one row, k = 2, D = 2: abnormal features (3, 4) and (3, 4): |10 - 5| = 5; normal (1, 0) and (-1, 0): mean 0
    fa = torch.tensor([[[3.0, 4.0], [3.0, 4.0]]])
    fn = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]])
    assert core.magnitude_loss(fa, fn, 10.0, "squared").item() == pytest.approx((5.0 + 0.0) ** 2)
    assert core.magnitude_loss(fa, fn, 10.0, "hinge").item() == pytest.approx(10.0 - 5.0 + 1.0)  # mean of norms
    assert core.magnitude_loss(fa, fn, 3.0, "hinge").item() == 0.0


# ------------------------------------------------------------------------------------------
# determinism, inference, options, checkpoints
# ------------------------------------------------------------------------------------------

def test_seeded_build_and_train_mode_loss_are_deterministic():
    a, b = tiny_net(seed=5), tiny_net(seed=5)
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())
    x = torch.rand(4, 2, 32, 4)
    a.train()
    b.train()
    torch.manual_seed(11)
    _, pa = core.loss(a, x[:2], x[2:])
    torch.manual_seed(11)
    _, pb = core.loss(b, x[:2], x[2:])
    assert pa == pb
    torch.manual_seed(12)  # another seed: other dropout masks
    _, pc = core.loss(a, x[:2], x[2:])
    assert pc["total"] != pa["total"]
    assert not all(torch.equal(a.state_dict()[k], v) for k, v in tiny_net(seed=6).state_dict().items())


def test_snippet_scores_average_the_crops_and_keep_the_mode():
    net = tiny_net(in_dim=5)
    randomise_bn(net)
    net.train()
    x = torch.rand(3, 9, 5)
    s = core.snippet_scores(net, x)
    assert net.training  # restored
    per_crop = np.stack([core.snippet_scores(net, x[c:c + 1]) for c in range(3)])
    np.testing.assert_allclose(s, per_crop.mean(0), rtol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(s, net.eval()(x[None]).scores[0].numpy())
    with pytest.raises(ValueError):
        core.snippet_scores(net, x[None])


def test_config_fidelity_and_optimizer():
    assert core.config({"fidelity": "original"}) == {**core.DEFAULTS, **core.ORIGINAL}
    assert core.config({"fidelity": "original", "smoothness": "per_video"})["smoothness"] == "across_batch"
    assert core.config({"lr": 0.01, "extra": 1})["extra"] == 1
    for bad in ({"fidelity": "code"}, {"sparsity": "l1"}, {"magnitude_loss": "abs"}):
        with pytest.raises(ValueError):
            core.config(bad)
    net = tiny_net()
    opt = core.optimizer(net, {})
    assert isinstance(opt, torch.optim.Adam)
    assert opt.param_groups[0]["lr"] == 1e-3 and opt.param_groups[0]["weight_decay"] == 5e-3
    assert sum(p.numel() for p in opt.param_groups[0]["params"]) == sum(p.numel() for p in net.parameters())


def test_original_state_dict_keys_round_trip():
    net = tiny_net()
    theirs = core.to_original_state_dict(net.state_dict())
    assert "Aggregate.non_local.W.1.running_var" in theirs and "Aggregate.conv_5.0.weight" in theirs
    assert all(k.startswith(("Aggregate.", "fc1.", "fc2.", "fc3.")) for k in theirs)
    back = core.from_original_state_dict({"module." + k: v for k, v in theirs.items()})  # DataParallel prefix
    assert back.keys() == net.state_dict().keys()
    with pytest.raises(KeyError):
        core.from_original_state_dict({"Aggregate.conv_9.weight": torch.zeros(1)})


# ------------------------------------------------------------------------------------------
# training on a separable toy problem
# ------------------------------------------------------------------------------------------

def toy_bags(g: torch.Generator, b: int, d: int = 8, t: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    normal = torch.rand(b, 1, t, d, generator=g)
    abnormal = torch.rand(b, 1, t, d, generator=g)
    for i in range(b):  # a burst of 4 anomalous segments with large features
        s = int(torch.randint(0, t - 4, (1,), generator=g))
        abnormal[i, 0, s:s + 4] += 3.0
    return normal, abnormal


def test_a_few_steps_on_a_separable_toy_problem_reduce_the_loss():
    # narrow layers learn too noisily under the original's dropout of 0.7: 0.3 here
    cfg = {"branch_channels": 16, "nonlocal_channels": 8, "fc_hidden": (16, 8), "margin": 10.0, "alpha": 1e-3,
           "dropout": 0.3}
    torch.manual_seed(0)
    net = core.build(8, cfg)
    opt = core.optimizer(net, cfg)
    g = torch.Generator().manual_seed(1)
    held = toy_bags(g, 4)

    def held_loss() -> float:
        net.eval()
        with torch.no_grad():
            return core.loss(net, *held, cfg)[1]["total"]

    before = held_loss()
    for _ in range(60):
        core.train_step(net, opt, *toy_bags(g, 4), cfg)
    after = held_loss()
    assert after < 0.6 * before, (before, after)
    normal, abnormal = held
    s_n = np.concatenate([core.snippet_scores(net, v) for v in normal])
    s_a = np.concatenate([core.snippet_scores(net, v) for v in abnormal])
    burst = (abnormal[:, 0].mean(-1) > 2).reshape(-1).numpy()
    assert s_a[burst].mean() > s_n.mean() + 0.1
