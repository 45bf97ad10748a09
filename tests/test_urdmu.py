"""UR-DMU core (vadflow.methods.urdmu.core): shapes, an independent numpy forward of the whole
network and of every loss term, the memory read, the training-bag rule, determinism, and a toy
problem that training solves. The comparison with the original code itself is
benchmarks/crosscheck_urdmu.py (needs a checkout of it; not run here)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import erf

from vadflow.methods.urdmu import core

torch.set_num_threads(1)

# a small network of the same structure: every code path of the default one, in milliseconds
SMALL = {**core.DEFAULTS, "embed_dim": 8, "heads": 2, "dim_head": 4, "mlp_dim": 12, "a_nums": 6, "n_nums": 5,
         "mem_topk_div": 4, "time_topk_div": 4, "head_hidden": 6, "dropout": 0.0}


def small(in_dim: int = 5, seed: int = 0, **over) -> core.Net:
    torch.manual_seed(seed)
    return core.build(in_dim, {**SMALL, **over})


# ----------------------------------------------------------------------------- numpy reference

def np_params(net: core.Net) -> dict[str, np.ndarray]:
    return {k: v.detach().double().numpy() for k, v in net.state_dict().items()}


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_layernorm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def np_memory(h, mem, k):
    a = np_sigmoid(np.einsum("ntd,md->ntm", h, mem) / math.sqrt(mem.shape[1]))
    top = -np.sort(-a, axis=-1)[..., :k]
    return top.mean(-1), np.einsum("ntm,md->ntd", a, mem)


def np_encode(P, x, cfg):
    """``x [N, T, D]`` -> ``[N, T, E]``: conv (k=3, zero padding), ReLU, pre-norm GL-MHSA blocks."""
    N, T, _ = x.shape
    W, bias = P["embed.weight"], P["embed.bias"]                       # [E, D, 3]
    xp = np.concatenate([np.zeros((N, 1, x.shape[2])), x, np.zeros((N, 1, x.shape[2]))], axis=1)
    h = sum(np.einsum("ntd,ed->nte", xp[:, j:j + T], W[:, :, j]) for j in range(3)) + bias
    h = np.maximum(h, 0)
    H, dh = cfg["heads"], cfg["dim_head"]
    i = np.arange(T)
    w = np.exp(-np.abs(i[:, None] - i[None, :]) / math.e)
    w = w / (w.sum(1, keepdims=True) if cfg["local_attn_norm"] == "row" else w.sum(0, keepdims=True))
    for L in range(cfg["depth"]):
        p = f"blocks.{L}."
        z = np_layernorm(h, P[p + "norm1.weight"], P[p + "norm1.bias"]) @ P[p + "attn.qkvt.weight"].T
        q, k, v, t = (z[..., j * H * dh:(j + 1) * H * dh].reshape(N, T, H, dh).transpose(0, 2, 1, 3) for j in range(4))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh)
        s = np.exp(s - s.max(-1, keepdims=True))
        glob = (s / s.sum(-1, keepdims=True)) @ v                     # [N, H, T, dh]
        loc = np.einsum("ij,nhjd->nhid", w, t)
        cat = np.concatenate([glob, loc], -1).transpose(0, 2, 1, 3).reshape(N, T, 2 * H * dh)
        h = h + cat @ P[p + "attn.proj.weight"].T + P[p + "attn.proj.bias"]
        z = np_layernorm(h, P[p + "norm2.weight"], P[p + "norm2.bias"]) @ P[p + "ff1.weight"].T + P[p + "ff1.bias"]
        z = 0.5 * z * (1 + erf(z / math.sqrt(2)))
        h = h + z @ P[p + "ff2.weight"].T + P[p + "ff2.bias"]
    return h


def np_head(P, z):
    return np_sigmoid(np.maximum(z @ P["head1.weight"].T + P["head1.bias"], 0) @ P["head2.weight"].T + P["head2.bias"])[..., 0]


def np_forward(P, x4, cfg, branch, noise=None):
    """The whole network in numpy float64, written from the paper's equations and the original's
    data flow (docs/methods/urdmu.md), for ``x4 [B, C, T, D]``."""
    B, C, T, D = x4.shape
    h = np_encode(P, x4.reshape(B * C, T, D), cfg)
    ka, kn = cfg["a_nums"] // cfg["mem_topk_div"] + 1, cfg["n_nums"] // cfg["mem_topk_div"] + 1
    lin = {n: (lambda z, n=n: z @ P[n + ".weight"].T + P[n + ".bias"]) for n in ("enc_mu", "enc_logvar")}
    crops = lambda v, b: v.reshape(b, C, -1).mean(1)
    if branch == "test":
        _, ra = np_memory(h, P["memory_a"], ka)
        _, rn = np_memory(h, P["memory_n"], kn)
        return {"frame": crops(np_head(P, np.concatenate([h, lin["enc_mu"](ra) + lin["enc_mu"](rn)], -1)), B)}
    half = B * C // 2
    hn, ha = h[:half], h[half:]
    A_att, ra = np_memory(ha, P["memory_a"], ka)
    N_Aatt, rna = np_memory(ha, P["memory_n"], kn)
    A_Natt, ran = np_memory(hn, P["memory_a"], ka)
    N_att, rn = np_memory(hn, P["memory_n"], kn)
    k = T // cfg["time_topk_div"] + 1
    top = lambda s: np.argsort(-s, axis=-1)[:, :k]

    def pool(f, idx):
        return crops(np.stack([f[j, idx[j]].mean(0) for j in range(f.shape[0])]), B // 2)

    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)
    neg, anc, pos = unit(pool(ha, top(A_att))), unit(pool(hn, top(N_att))), unit(pool(ha, top(N_Aatt)))
    dist = lambda a, b: np.linalg.norm(a - b + 1e-6, axis=-1)          # torch pairwise_distance
    triplet = np.maximum(dist(anc, pos) - dist(anc, neg) + cfg["triplet_margin"], 0).mean()
    mu, lv = lin["enc_mu"](rn), lin["enc_logvar"](rn)
    n_new = mu + noise * np.exp(0.5 * lv)
    a_new = lin["enc_mu"](ra)
    inner = 1 + lv - mu ** 2 - np.exp(lv)
    kl = (-0.5 * inner.sum(-1 if cfg["kl_sum"] == "feature" else 1)).mean()
    distance = np.maximum(cfg["distance_margin"] - np.linalg.norm(pool(a_new, top(A_att)), axis=-1)
                          + np.linalg.norm(pool(n_new, top(N_att)), axis=-1), 0).mean()
    aug = np.concatenate([n_new + lin["enc_mu"](ran), a_new + lin["enc_mu"](rna)], 0)
    return {"frame": crops(np_head(P, np.concatenate([h, aug], -1)), B), "triplet_margin": triplet, "kl_loss": kl,
            "distance": distance, "A_att": crops(A_att, B // 2), "N_att": crops(N_att, B // 2),
            "A_Natt": crops(A_Natt, B // 2), "N_Aatt": crops(N_Aatt, B // 2)}


def np_bce(p, y):
    p, y = np.asarray(p, np.float64), np.broadcast_to(y, np.shape(p))
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def np_loss_terms(o, cfg):
    b, t = o["frame"].shape[0] // 2, o["frame"].shape[1]
    k = t // cfg["time_topk_div"] + 1
    tk = lambda v: -np.sort(-v, axis=-1)[:, :k].mean(-1)
    parts = {"att_loss": np_bce(tk(o["frame"]), np.r_[np.zeros(b), np.ones(b)]),
             "N_Aatt": np_bce(tk(1 - o["N_Aatt"]), 1.0), "A_loss": np_bce(tk(o["A_att"]), 1.0),
             "N_loss": np_bce(o["N_att"], 1.0), "A_Nloss": np_bce(o["A_Natt"], 0.0),
             "triplet": o["triplet_margin"], "kl_loss": o["kl_loss"], "distance": o["distance"]}
    parts["total_loss"] = (parts["att_loss"] + 0.1 * (parts["A_loss"] + parts["N_Aatt"] + parts["N_loss"] + parts["A_Nloss"])
                           + 0.1 * parts["triplet"] + 0.001 * parts["kl_loss"] + 0.0001 * parts["distance"])
    return parts


# ----------------------------------------------------------------------------- shapes

@pytest.mark.parametrize("C", [1, 5, 10])
@pytest.mark.parametrize("T", [1, 2, 17, 40])
def test_shapes_default_network(C, T):
    torch.manual_seed(0)
    net = core.build(60, core.DEFAULTS)
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(C, T, 60))["frame"].shape == (C, T)
        assert net(torch.randn(3, C, T, 60))["frame"].shape == (3, T)
        out = net(torch.randn(4, C, T, 60), branch="train")
    assert out["frame"].shape == (4, T)
    for k in ("A_att", "N_att", "A_Natt", "N_Aatt"):
        assert out[k].shape == (2, T)
    for k in ("triplet_margin", "kl_loss", "distance"):
        assert out[k].shape == ()
    s = core.snippet_scores(net, torch.randn(C, T, 60))
    assert s.shape == (T,) and s.dtype == np.float32 and np.all((s > 0) & (s < 1))


@pytest.mark.parametrize("crops", ["bags", "mean"])
@pytest.mark.parametrize("C", [1, 5, 10])
def test_loss_shapes_and_parts(crops, C):
    net = small()
    net.train()
    total, parts = core.loss(net, torch.randn(2, C, 9, 5), torch.randn(2, C, 9, 5), {**SMALL, "train_crops": crops})
    assert total.shape == () and total.requires_grad
    assert set(parts) == {"total_loss", "att_loss", "N_Aatt", "A_loss", "N_loss", "A_Nloss", "triplet", "kl_loss", "distance"}
    assert parts["total_loss"] == pytest.approx(float(total.detach()))


def test_training_batch_layout():
    n, a = torch.zeros(3, 2, 4, 5), torch.ones(3, 2, 4, 5)
    bags = core.training_batch(n, a, {"train_crops": "bags"})
    assert bags.shape == (12, 4, 5) and bags[:6].sum() == 0 and bags[6:].min() == 1   # normal first
    assert core.training_batch(n, a, {"train_crops": "mean"}).shape == (6, 2, 4, 5)
    assert core.training_batch(n[:, 0], a[:, 0]).shape == (6, 4, 5)
    with pytest.raises(ValueError):
        core.training_batch(n, a[:2])
    with pytest.raises(ValueError):
        small()(torch.randn(3, 4, 5), branch="train")                   # odd batch: no halves


# ----------------------------------------------------------------------------- numpy forward and losses

@pytest.mark.parametrize("attn_norm,kl_sum", [("row", "feature"), ("column", "time")])
@pytest.mark.parametrize("C", [1, 3])
def test_forward_and_every_loss_term_match_numpy(attn_norm, kl_sum, C):
    cfg = {**SMALL, "local_attn_norm": attn_norm, "kl_sum": kl_sum}
    net = small(**cfg).double().eval()                                  # eval: dropout off
    P = np_params(net)
    g = np.random.default_rng(3)
    x = g.standard_normal((4, C, 9, 5))                                 # 2 normal, 2 abnormal videos
    noise = g.standard_normal((2 * C, 9, cfg["embed_dim"]))
    ref = np_forward(P, x, cfg, "train", noise)
    out = net(torch.from_numpy(x), branch="train", noise=torch.from_numpy(noise))
    for k, v in ref.items():
        np.testing.assert_allclose(out[k].detach().numpy(), v, rtol=1e-9, atol=1e-11, err_msg=k)
    _, parts = core.loss_terms(out, cfg)
    for k, v in np_loss_terms(ref, cfg).items():
        assert float(parts[k].detach()) == pytest.approx(v, rel=1e-9, abs=1e-12), k
    # the same through loss(): [B, C, T, D] normal and abnormal, the model's crop-averaging path
    _, p2 = core.loss(net, torch.from_numpy(x[:2]), torch.from_numpy(x[2:]), {**cfg, "train_crops": "mean"},
                      noise=torch.from_numpy(noise))
    assert p2["total_loss"] == pytest.approx(np_loss_terms(ref, cfg)["total_loss"], rel=1e-9)
    test = np_forward(P, x, cfg, "test")["frame"]
    np.testing.assert_allclose(net(torch.from_numpy(x), branch="test")["frame"].detach().numpy(), test, rtol=1e-9)


def test_loss_terms_by_hand():
    """T = 2 so k = 2 // 16 + 1 = 1: each top-k mean is the row maximum."""
    t = torch.tensor
    out = {"frame": t([[0.1, 0.3], [0.6, 0.9]]), "N_Aatt": t([[0.8, 0.4]]), "A_att": t([[0.5, 0.7]]),
           "N_att": t([[0.9, 0.6]]), "A_Natt": t([[0.2, 0.4]]),
           "triplet_margin": t(0.5), "kl_loss": t(2.0), "distance": t(50.0)}
    total, parts = core.loss_terms(out, core.DEFAULTS)
    ln = math.log
    want = {"att_loss": -(ln(0.7) + ln(0.9)) / 2,    # normal max 0.3 -> label 0, abnormal max 0.9 -> 1
            "N_Aatt": -ln(0.6),                      # max(1 - [0.8, 0.4]) = 0.6 -> label 1
            "A_loss": -ln(0.7),                      # max [0.5, 0.7] -> label 1
            "N_loss": -(ln(0.9) + ln(0.6)) / 2,      # every snippet -> 1
            "A_Nloss": -(ln(0.8) + ln(0.6)) / 2}     # every snippet -> 0
    for k, v in want.items():
        assert float(parts[k]) == pytest.approx(v, rel=1e-6), k
    expect = (want["att_loss"] + 0.1 * (want["N_Aatt"] + want["A_loss"] + want["N_loss"] + want["A_Nloss"])
              + 0.1 * 0.5 + 0.001 * 2.0 + 0.0001 * 50.0)
    assert float(total) == pytest.approx(expect, rel=1e-6)


def test_kl_term_reductions():
    g = np.random.default_rng(0)
    mu, lv = g.standard_normal((2, 3, 4)), g.standard_normal((2, 3, 4))
    per = -0.5 * (1 + lv - mu ** 2 - np.exp(lv))
    assert float(core.kl_term(torch.from_numpy(mu), torch.from_numpy(lv), "feature")) == pytest.approx(per.sum(2).mean())
    assert float(core.kl_term(torch.from_numpy(mu), torch.from_numpy(lv), "time")) == pytest.approx(per.sum(1).mean())
    assert float(core.kl_term(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))) == 0.0   # N(0, I) itself


# ----------------------------------------------------------------------------- memory and attention

def test_memory_read_matches_numpy():
    g = np.random.default_rng(1)
    x, mem = g.standard_normal((3, 7, 16)).astype(np.float32), g.standard_normal((10, 16)).astype(np.float32)
    score, read, att = core.memory_read(torch.from_numpy(x), torch.from_numpy(mem), 3)
    a = 1 / (1 + np.exp(-(x.astype(np.float64) @ mem.T.astype(np.float64)) / 4.0))   # sqrt(16) = 4
    np.testing.assert_allclose(att.numpy(), a, rtol=1e-5)
    np.testing.assert_allclose(score.numpy(), np.sort(a, -1)[..., -3:].mean(-1), rtol=1e-5)
    np.testing.assert_allclose(read.numpy(), a @ mem, rtol=1e-4, atol=1e-5)


def test_local_weights_normalisations():
    row, col = core.local_weights(9, "row"), core.local_weights(9, "column")
    np.testing.assert_allclose(row.sum(1).numpy(), 1, rtol=1e-6)
    np.testing.assert_allclose(col.sum(0).numpy(), 1, rtol=1e-6)
    long = core.local_weights(200, "column").sum(1)      # rows: the first and last snippets lose
    assert float(long[0]) < 0.85 and float(long[4]) > 1.03 and abs(float(long[100]) - 1) < 1e-5   # weight
    assert float(row[0, 0]) == pytest.approx(1 / sum(math.exp(-j / math.e) for j in range(9)), rel=1e-6)
    assert core.local_weights(1, "column").item() == 1.0


# ----------------------------------------------------------------------------- training bags

def test_segment_by_hand():
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    # T = 10, n = 4: boundaries floor([0, 2.5, 5, 7.5, 10]) = [0, 2, 5, 7, 10]
    np.testing.assert_array_equal(core.segment(x, 4), np.stack([x[0:2].mean(0), x[2:5].mean(0), x[5:7].mean(0), x[7:10].mean(0)]))
    # T = 3, n = 5: boundaries [0, 0, 1, 1, 2, 3]: empty segments copy their start row
    np.testing.assert_array_equal(core.segment(x[:3], 5), x[[0, 0, 1, 1, 2]])
    np.testing.assert_array_equal(core.segment(x, 10), x)                              # T = n
    np.testing.assert_array_equal(core.segment(x[:1], 4), x[[0, 0, 0, 0]])              # T = 1
    y = np.random.default_rng(0).standard_normal((400, 2)).astype(np.float32)
    np.testing.assert_allclose(core.segment(y, 200), (y[0::2] + y[1::2]) / 2, rtol=1e-6)


def test_segment_boundaries_are_float_linspace():
    """T = 58, n = 200: 100 * (58 / 200) is 28.999999999999996 in float64, so r[100] = 28 (the
    original's np.linspace, not the exact 29): segments 99 and 100 both copy row 28."""
    x = np.random.default_rng(0).standard_normal((58, 4)).astype(np.float32)
    s = core.segment(x, 200)
    np.testing.assert_array_equal(s[99], x[28])
    np.testing.assert_array_equal(s[100], x[28])
    np.testing.assert_array_equal(s[101], x[29])


@pytest.mark.parametrize("T", [1, 7, 58, 199, 200, 201, 1234])
def test_segment_general(T):
    x = np.random.default_rng(T).standard_normal((2, T, 3)).astype(np.float32)          # [C, T, D]
    s = core.segment(x, 32)
    assert s.shape == (2, 32, 3) and s.dtype == np.float32
    np.testing.assert_array_equal(s[1], core.segment(x[1], 32))                         # crop by crop
    r = np.floor(np.arange(33) * (T / 32)).astype(int)
    r[-1] = T
    for i in range(32):
        want = x[1, r[i]] if r[i] == r[i + 1] else x[1, r[i]:r[i + 1]].mean(0)
        np.testing.assert_allclose(s[1, i], want, rtol=1e-6)
    with pytest.raises(ValueError):
        core.segment(x[:, :0], 32)


def test_batch_indices_passes_and_drop_last():
    got = list(core.batch_indices(10, 3, 7, np.random.default_rng(0)))
    assert len(got) == 7 and all(b.shape == (3,) for b in got)
    for p in (got[0:3], got[3:6]):                     # 10 // 3 = 3 batches per pass, 1 bag dropped
        assert len(set(np.concatenate(p).tolist())) == 9
    assert not np.array_equal(np.concatenate(got[0:3]), np.concatenate(got[3:6]))       # reshuffled
    with pytest.raises(ValueError):
        next(core.batch_indices(2, 3, 1, np.random.default_rng(0)))


# ----------------------------------------------------------------------------- options, checkpoints, determinism

def test_defaults_and_optimizer():
    d = core.DEFAULTS
    assert (d["lr"], d["weight_decay"], d["batch_size"], d["steps"], d["num_segments"]) == (1e-4, 5e-5, 64, 3000, 200)
    assert (d["a_nums"], d["n_nums"], d["heads"], d["dim_head"], d["depth"], d["dropout"]) == (60, 60, 4, 128, 2, 0.5)
    assert (core.ORIGINAL["local_attn_norm"], core.ORIGINAL["kl_sum"]) == ("column", "time")
    assert (d["local_attn_norm"], d["kl_sum"], d["select_metric"]) == ("row", "feature", "auc")
    assert core.DATASETS["xd"] == {"select_metric": "ap", "n_crops": 5} and core.DATASETS["ucf"]["n_crops"] == 10
    opt = core.optimizer(small())
    assert isinstance(opt, torch.optim.Adam)
    assert (opt.defaults["lr"], opt.defaults["weight_decay"], opt.defaults["betas"]) == (1e-4, 5e-5, (0.9, 0.999))
    assert core.lr_at(5, {"lr": [1e-3] * 4 + [1e-4] * 2}) == 1e-4 and core.lr_at(1, {"lr": [1e-3, 1e-4]}) == 1e-3
    with pytest.raises(ValueError):
        core.build(5, {"kl_sum": "batch"})


def test_from_original_state_dict_names_every_parameter():
    net = small()
    orig = ["embedding.conv_1.0.weight", "embedding.conv_1.0.bias", "Amemory.memory_block", "Nmemory.memory_block",
            "encoder_mu.0.weight", "encoder_mu.0.bias", "encoder_var.0.weight", "encoder_var.0.bias",
            "cls_head.mlp.0.weight", "cls_head.mlp.0.bias", "cls_head.mlp.2.weight", "cls_head.mlp.2.bias"]
    for i in range(2):
        p = f"selfatt.layers.{i}."
        orig += [p + "0.norm.weight", p + "0.norm.bias", p + "0.fn.to_qkv.weight", p + "0.fn.to_out.0.weight",
                 p + "0.fn.to_out.0.bias", p + "1.norm.weight", p + "1.norm.bias", p + "1.fn.net.0.weight",
                 p + "1.fn.net.0.bias", p + "1.fn.net.3.weight", p + "1.fn.net.3.bias"]
    assert set(core.from_original_state_dict({k: torch.zeros(1) for k in orig})) == set(net.state_dict())
    with pytest.raises(KeyError):
        core.from_original_state_dict({"triplet.weight": torch.zeros(1)})


def test_determinism_with_a_seed():
    a, b = small(seed=4, dropout=0.5), small(seed=4, dropout=0.5)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    x = torch.randn(6, 2, 11, 5)
    losses = []
    for net in (a, b):
        net.train()
        torch.manual_seed(9)                               # dropout masks and the noise draw
        losses.append(core.loss(net, x[:3], x[3:], SMALL)[1])
    assert losses[0] == losses[1]
    np.testing.assert_array_equal(core.snippet_scores(a, x[0]), core.snippet_scores(b, x[0]))
    assert a.training                                      # snippet_scores restores the mode


def test_training_separates_a_toy_problem():
    """Abnormal bags hold 3 snippets shifted along feature 0; a few dozen Adam steps learn them."""
    g = torch.Generator().manual_seed(0)
    T, D, B = 16, 6, 8
    normal = torch.randn(B, 1, T, D, generator=g)
    abnormal = torch.randn(B, 1, T, D, generator=g)
    where = torch.randint(0, T - 3, (B,), generator=g)
    for i, s in enumerate(where.tolist()):
        abnormal[i, 0, s:s + 3, 0] += 4.0
    net = small(D, seed=1)
    cfg = {**SMALL, "lr": 3e-3}
    opt = core.optimizer(net, cfg)
    hist = [core.train_step(net, opt, normal, abnormal, cfg, step=s)["total_loss"] for s in range(1, 61)]
    assert np.mean(hist[-5:]) < 0.6 * np.mean(hist[:5]), hist
    scores = np.stack([core.snippet_scores(net, abnormal[i]) for i in range(B)])
    inside = np.zeros_like(scores, bool)
    for i, s in enumerate(where.tolist()):
        inside[i, s:s + 3] = True
    assert scores[inside].mean() > scores[~inside].mean() + 0.2
    assert scores[inside].mean() > np.stack([core.snippet_scores(net, normal[i]) for i in range(B)]).mean() + 0.2
