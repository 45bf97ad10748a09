"""LOF (docs/methods/lof.md §8): projection heads, the LOF wrapper, the thesis protocol, SupCon, end to end."""
from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from sklearn.metrics import roc_auc_score, silhouette_score
from sklearn.neighbors import LocalOutlierFactor

import vadflow.config as vc
from conftest import ROOT
from vadflow.methods.base import MethodError, VideoData
from vadflow.methods.lof.heads import (
    ProjectionHead,
    event_clips,
    simclr_views,
    load_head,
    make_head,
    save_head,
    silhouette,
    supcon_loss,
    train_head,
)
from vadflow.methods.lof.method import LOF, run_thesis, snippet_labels, thesis_split
from vadflow.video.geometry import n_clips


def video(vid, feats, anomalous=False, frame_labels=None, cls=None, clip_len=16):
    feats = np.asarray(feats, dtype=np.float32)
    n = feats.shape[0] * clip_len
    return VideoData(id=vid, features=feats, n_frames=n, clip_len=clip_len, stride=clip_len, anomalous=anomalous,
                     cls=cls or ("Anomaly" if anomalous else "Normal"), frame_labels=frame_labels)


def blobs(rng, n, dim=8):
    """Three Gaussian blobs."""
    centres = np.array([np.zeros(dim), np.full(dim, 6.0), np.r_[np.full(dim // 2, -6.0), np.zeros(dim - dim // 2)]])
    return (centres[rng.integers(0, 3, n)] + rng.normal(size=(n, dim))).astype(np.float32)


# ----------------------------------------------------------------------------- LOF wrapper


def test_lof_ranks_planted_outliers_first_and_equals_sklearn():
    rng = np.random.default_rng(0)
    train = [video(f"n{i}", blobs(rng, 100)) for i in range(5)]
    inl = blobs(rng, 60)
    out = (rng.uniform(-1, 1, size=(6, 8)) * 3 + np.array([20.0, -20, 20, -20, 0, 0, 20, -20])).astype(np.float32)
    test = np.concatenate([inl, out])
    model = LOF({"kind": "lof", "head": "none"})
    model.fit(train)
    s = model.snippet_scores(test)
    # Exactly sklearn's own -score_samples on the same fitting and query points (before normalisation).
    ref = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(np.concatenate([v.features for v in train]).astype(np.float64))
    np.testing.assert_array_equal(s, -ref.score_samples(test.astype(np.float64)))
    # Sign convention: higher = more anomalous; the outliers are ranked first; inliers have LOF ~ 1.
    assert set(np.argsort(-s)[: len(out)]) == set(range(len(inl), len(test)))
    assert s[len(inl):].min() > 2 and 0.9 <= np.median(s[: len(inl)]) <= 1.2


def test_lof_with_random_head_equals_sklearn_on_head_output():
    rng = np.random.default_rng(1)
    train = [video(f"n{i}", blobs(rng, 80, dim=32)) for i in range(3)]
    test = blobs(rng, 20, dim=32)
    model = LOF({"kind": "lof", "head": "random", "embedding_dim": 8, "seed": 5})
    model.fit(train)
    head = ProjectionHead.random(32, 8, 5)
    fit_z = head(np.concatenate([v.features for v in train])).astype(np.float64)
    ref = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(fit_z)
    np.testing.assert_array_equal(model.snippet_scores(test), -ref.score_samples(head(test).astype(np.float64)))


def test_lof_by_hand_k2():
    """§8.4: fitting points {0, 1, 2, 3}, k = 2: all lrd = 2/3; LOF(10) = 5, LOF(1.5) = 2/3."""
    train = [video("n", np.array([[0.0], [1.0], [2.0], [3.0]]))]
    model = LOF({"kind": "lof", "head": "none", "n_neighbors": 2})
    model.fit(train)
    np.testing.assert_allclose(-model._lof.negative_outlier_factor_, 1.0)
    np.testing.assert_allclose(model._lof._lrd, 2 / 3)
    np.testing.assert_allclose(model.snippet_scores(np.array([[10.0], [1.5]])), [5.0, 2 / 3])


def test_toy_gaussians_auc_and_frame_scores():
    """§8.5 and §8.10: N(0, I8) vs N(4*1, I8); frame scores of length n_frames with the tail filled."""
    rng = np.random.default_rng(0)
    train = [video(f"n{i}", rng.normal(size=(400, 8))) for i in range(5)]
    model = LOF({"kind": "lof", "head": "none", "normalize": "none"})
    model.fit(train)
    x = np.concatenate([rng.normal(size=(200, 8)), rng.normal(size=(200, 8)) + 4])
    s = model.snippet_scores(x.astype(np.float32))
    assert roc_auc_score(np.r_[np.zeros(200), np.ones(200)], s) > 0.99
    assert 0.9 <= np.median(s[:200]) <= 1.2
    v = VideoData(id="t", features=x[195:205].astype(np.float32), n_frames=10 * 16 + 7, clip_len=16, stride=16, anomalous=True)
    frames = model.score(v)
    clip = model.snippet_scores(v.features)
    assert frames.shape == (167,)
    np.testing.assert_allclose(frames[:160], np.repeat(clip, 16))
    np.testing.assert_allclose(frames[160:], clip[-1])


def test_standard_protocol_frame_auc_and_sign_in_scores():
    """§8.10 and §8.6: normal training videos, test videos with planted shifted snippets and frame
    labels; the min-max normalised frame scores keep -score_samples' order and the pooled frame
    AUC exceeds 0.9."""
    from scipy.stats import spearmanr

    from vadflow.evaluation.frame_metrics import frame_metrics

    rng = np.random.default_rng(3)
    train = [video(f"n{i}", rng.normal(size=(60, 8))) for i in range(5)]
    model = LOF({"kind": "lof", "head": "none"})
    model.fit(train)
    tests, labels = [], []
    for i in range(6):
        x = rng.normal(size=(12, 8))
        lab = np.zeros(12 * 16, np.int8)
        if i % 2:
            x[4:8] += 4
            lab[64:128] = 1
        tests.append(video(f"t{i}", x, anomalous=bool(i % 2), frame_labels=lab))
        labels.append(lab)
    model.calibrate(tests)
    scores = {v.id: model.score(v) for v in tests}
    allraw = np.concatenate([-model._lof.score_samples(v.features.astype(np.float64)).repeat(16) for v in tests])
    alls = np.concatenate([scores[v.id] for v in tests])
    assert spearmanr(alls, allraw).statistic == pytest.approx(1.0)
    m = frame_metrics(labels, [scores[v.id] for v in tests], [v.anomalous for v in tests])
    assert m["auc"] > 0.9


def test_minmax_keeps_order_and_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(2)
    train = [video(f"n{i}", blobs(rng, 50, dim=16)) for i in range(3)]
    model = LOF({"kind": "lof", "embedding_dim": 4, "seed": 9, "standardize": True})
    model.fit(train)
    tests = [video(f"t{i}", blobs(rng, 5, dim=16) + 3 * i) for i in range(3)]
    raw = {v.id: model._raw_frames(v) for v in tests}
    with pytest.raises(MethodError, match="calibrate"):
        model.score(tests[0])  # normalize: minmax without the test-set constants
    model.calibrate(tests)
    norm = {v.id: model.score(v) for v in tests}
    allr, alln = np.concatenate(list(raw.values())), np.concatenate(list(norm.values()))
    assert alln.min() == 0.0 and alln.max() == 1.0
    lo, hi = allr.min(), allr.max()
    np.testing.assert_allclose(alln, (allr - lo) / (hi - lo))  # one linear map, by hand
    np.testing.assert_array_equal(np.argsort(allr, kind="stable"), np.argsort(alln, kind="stable"))  # increases with LOF
    assert model.score_attrs() == {"minmax_lo": lo, "minmax_hi": hi}
    model.save(tmp_path / "m.pt")
    back = LOF.load(tmp_path / "m.pt")  # the constants travel in model.pt
    for v in tests:
        np.testing.assert_array_equal(back.score(v), norm[v.id])


def test_standardize_features_makes_lof_blind_to_feature_units(tmp_path):
    """z-scoring before the head: rescaling one feature dimension (another unit) leaves the
    LOF values unchanged; without it the large dimension dominates the neighbourhoods."""
    rng = np.random.default_rng(4)
    train = [video(f"n{i}", rng.normal(size=(40, 6))) for i in range(3)]
    test = video("t", np.vstack([rng.normal(size=(10, 6)), rng.normal(size=(4, 6)) + [0, 0, 0, 0, 0, 6]]))
    scale = np.array([1000.0, 1, 1, 1, 1, 1], np.float32)  # dimension 0 in other units, dimension 5 carries the anomaly

    def rescaled(v):
        return video(v.id, v.features * scale)

    for head in ("random", "none"):
        cfg = {"kind": "lof", "head": head, "embedding_dim": 16, "seed": 1, "n_neighbors": 10}
        plain, scaled = LOF({**cfg, "standardize_features": True}), LOF({**cfg, "standardize_features": True})
        plain.fit(train)
        scaled.fit([rescaled(v) for v in train])
        np.testing.assert_allclose(scaled.snippet_scores(rescaled(test).features), plain.snippet_scores(test.features), rtol=1e-4)
        assert plain.snippet_scores(test.features)[10:].min() > plain.snippet_scores(test.features)[:10].max()
        raw = LOF(cfg)
        raw.fit([rescaled(v) for v in train])
        s = raw.snippet_scores(rescaled(test).features)
        assert s[10:].min() < s[:10].max()  # the anomaly drowns in dimension 0's spread
        plain.save(tmp_path / f"{head}.pt")
        np.testing.assert_array_equal(LOF.load(tmp_path / f"{head}.pt").snippet_scores(test.features), plain.snippet_scores(test.features))
    trained = LOF({"kind": "lof", "head": "my_head", "standardize_features": True})
    trained.set_head(ProjectionHead(torch.eye(6), torch.zeros(6), {"mode": "simclr"}))
    with pytest.raises(MethodError, match="built-in heads"):
        trained.fit(train)


def test_lof_needs_normal_training_videos_and_a_head_file():
    with pytest.raises(MethodError, match="no normal training video"):
        LOF({"kind": "lof"}).fit([video("a", np.ones((4, 3)), anomalous=True)])
    with pytest.raises(MethodError, match="trained head"):
        LOF({"kind": "lof", "head": "my_head"}).fit([video("n", np.random.rand(30, 3))])


# ----------------------------------------------------------------------------- heads


def test_projection_head_shapes_and_seeds():
    x = np.random.default_rng(0).normal(size=(5, 2048)).astype(np.float32)
    a, b, c = ProjectionHead.random(2048, 256, 0), ProjectionHead.random(2048, 256, 0), ProjectionHead.random(2048, 256, 1)
    assert a(x).shape == (5, 256)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not torch.equal(a.weight, c.weight)
    bound = 1 / math.sqrt(2048)  # nn.Linear's default init
    assert float(a.weight.abs().max()) <= bound and float(a.bias.abs().max()) <= bound and float(a.weight.std()) > bound / 2
    for none in (make_head("none", 2048, 256, 0), make_head("random", 2048, None, 0), make_head("random", 2048, 0, 0)):
        assert none.identity and np.array_equal(none(x), x)


def test_supcon_loss_by_hand():
    """Four unit vectors, two classes, tau = 0.5, computed from the dot products by hand."""
    tau = 0.5
    z = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]]) * 3.0  # the loss normalises
    labels = torch.tensor([0, 0, 1, 1])
    e = lambda d: math.exp(d / tau)  # noqa: E731
    # dots: z1.z2 = 0.6, z1.z3 = 0, z1.z4 = -1, z2.z3 = 0.8, z2.z4 = -0.6, z3.z4 = 0
    l1 = -math.log(e(0.6) / (e(0.6) + e(0.0) + e(-1.0)))
    l2 = -math.log(e(0.6) / (e(0.6) + e(0.8) + e(-0.6)))
    l3 = -math.log(e(0.0) / (e(0.0) + e(0.8) + e(0.0)))
    l4 = -math.log(e(0.0) / (e(-1.0) + e(-0.6) + e(0.0)))
    assert float(supcon_loss(z, labels, tau)) == pytest.approx((l1 + l2 + l3 + l4) / 4, rel=1e-6)
    assert float(supcon_loss(z, labels, tau, reduction="sum")) == pytest.approx(l1 + l2 + l3 + l4, rel=1e-6)
    # §8.7: tau = 1, z1 = z2 = (1, 0) label A, z3 = (0, 1) label B: anchor 3 has no positive and is skipped.
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert float(supcon_loss(z, torch.tensor([0, 0, 1]), 1.0)) == pytest.approx(0.31326, abs=1e-5)
    assert float(supcon_loss(z, torch.tensor([0, 0, 1]), 1.0, reduction="sum")) == pytest.approx(0.62652, abs=1e-5)


def test_simclr_batch_is_supcon_with_video_ids():
    """§8.8: 4 views per video, each from its own video; the loss is SupCon with labels = video ids."""
    rng = np.random.default_rng(0)
    vids = [torch.from_numpy(rng.normal(size=(n, 5)).astype(np.float32)) + 10 * j for j, n in enumerate((6, 9, 2))]
    x, ids = simclr_views(vids, 4, 0.0, np.random.default_rng(1), torch.Generator().manual_seed(0))
    assert ids.tolist() == [0] * 4 + [1] * 4 + [2] * 4 and x.shape == (12, 5)
    for j, v in enumerate(vids):
        rows = x[4 * j: 4 * j + 4]
        hits = [[bool(torch.equal(r, s)) for s in v] for r in rows]
        assert all(any(h) for h in hits)  # every view is a snippet of its own video
        if len(v) >= 4:  # distinct times when the video has enough snippets
            assert len({h.index(True) for h in hits}) == 4
    z = torch.from_numpy(rng.normal(size=(12, 3)).astype(np.float32))
    # By hand for anchor 0: positives 1..3 among 11 others, cosine similarities / 0.07.
    zn = torch.nn.functional.normalize(z, dim=1)
    sim = zn @ zn.T / 0.07
    def anchor(i):
        others = [j for j in range(12) if j != i]
        pos = [j for j in others if ids[j] == ids[i]]
        den = torch.logsumexp(sim[i, others], 0)
        return -torch.stack([sim[i, p] - den for p in pos]).mean()
    want = torch.stack([anchor(i) for i in range(12)]).mean()
    assert float(supcon_loss(z, ids)) == pytest.approx(float(want), rel=1e-5)


def test_silhouette_equals_sklearn():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(20, 3)), rng.normal(size=(20, 3)) + 5])
    y = ["a"] * 20 + ["b"] * 20
    assert silhouette(x, y) == pytest.approx(silhouette_score(x, y))
    assert silhouette(x, ["a"] * 40) is None


def test_labelled_dataset_clips_and_validation_silhouette(tmp_path):
    """labelled.source: dataset: every clip of a train video takes its folder class; the test
    split is the validation set whose silhouette (Table 3.1's metric) is stored in the head."""
    import h5py

    from vadflow.data.manifest import COLUMNS, write_manifest
    from vadflow.methods.lof.heads import dataset_clips

    rng = np.random.default_rng(0)
    rows = [("a1", "A", "train", 3), ("a2", "A", "test", 2), ("b1", "B", "train", 2), ("b2", "B", "test", 4), ("c1", "C", "train", 1)]
    table = pd.DataFrame([{"id": v, "path": f"{c}/{v}.avi", "split": sp, "cls": c, "anomalous": False, "frames": 16 * k, "fps": 25.0,
                           "width": 32, "height": 32, "status": "ok" if v != "c1" else "failed", "error": ""} for v, c, sp, k in rows],
                         columns=COLUMNS)
    write_manifest(table, {}, tmp_path / "manifest.csv", tmp_path / "labels.h5")
    offset = {"A": 0.0, "B": 4.0, "C": 8.0}
    with h5py.File(tmp_path / "f.h5", "w") as f:
        for v, c, _, k in rows:
            f.create_dataset(v, data=(rng.normal(size=(k, 6)) + offset[c]).astype(np.float16))
    x, y = dataset_clips(tmp_path / "manifest.csv", tmp_path / "f.h5", 6, "train")
    assert y == ["A"] * 3 + ["B"] * 2 and x.shape == (5, 6)  # c1 failed to decode: not used
    with h5py.File(tmp_path / "f.h5") as f:
        np.testing.assert_array_equal(x[:3], f["a1"][()].astype(np.float32))
    val = dataset_clips(tmp_path / "manifest.csv", tmp_path / "f.h5", 6, "test")
    assert val[1] == ["A"] * 2 + ["B"] * 4
    assert dataset_clips(tmp_path / "manifest.csv", tmp_path / "f.h5", 6, "validation") is None
    with pytest.raises(MethodError, match=r"dataset a1 is \(3, 6\), expected \[K, 5\]"):
        dataset_clips(tmp_path / "manifest.csv", tmp_path / "f.h5", 5, "train")
    head = train_head({"name": "h", "mode": "supcon", "features": "x", "embedding_dim": 3, "epochs": 2, "batch_size": 4}, [], (x, y), val)
    assert head.meta["classes"] == ["A", "B"]
    assert head.meta["silhouette_val"] == pytest.approx(silhouette_score(head(val[0]), val[1]))
    init = make_head("random", 6, 3, 0)
    assert head.meta["silhouette_val_init"] == pytest.approx(silhouette_score(init(val[0]), val[1]))


def test_event_clips_labels():
    lab = np.zeros(64, dtype=np.int8)
    lab[16:20] = 1  # clip 1: 4 anomalous frames -> event class
    lab[34:36] = 1  # clip 2: 2 anomalous frames -> boundary, left out
    vids = [video("a", np.arange(4)[:, None] * np.ones((4, 2)), anomalous=True, frame_labels=lab, cls="Fighting"),
            video("n", np.full((2, 2), 9.0))]
    x, y = event_clips(vids)
    assert y == ["Normal", "Fighting", "Normal", "Normal", "Normal"]
    np.testing.assert_array_equal(x[:, 0], [0, 1, 3, 9, 9])
    with pytest.raises(MethodError, match="temporal annotations"):
        event_clips([video("a", np.ones((2, 2)), anomalous=True)])


@pytest.mark.parametrize("mode", ["ce", "supcon", "simclr"])
def test_trained_heads_are_one_linear_and_roundtrip(mode, tmp_path):
    rng = np.random.default_rng(0)
    vids = []
    for i in range(6):
        lab = np.zeros(8 * 16, dtype=np.int8)
        anomalous = i >= 3
        if anomalous:
            lab[32:96] = 1
        feats = rng.normal(size=(8, 12)) + 50  # a large shared offset, as random-init features have
        feats[2:6] += 3 * anomalous * (1 + i % 2)
        vids.append(video(f"v{i}", feats, anomalous=anomalous, frame_labels=lab, cls=["A", "B"][i % 2] if anomalous else None))
    cfg = {"name": "h", "mode": mode, "features": "x", "embedding_dim": 4, "epochs": 3, "batch_size": 8}
    head = train_head(cfg, vids)
    assert head.weight.shape == (4, 12) and head.bias.shape == (4,) and len(head.meta["history"]) == 3
    save_head(tmp_path / "h.pt", head, cfg, {"extractor": "x", "config_hash": "abc"})
    back = load_head(tmp_path / "h.pt", {"extractor": "x", "config_hash": "abc"})
    x = vids[0].features
    np.testing.assert_array_equal(back(x), head(x))
    with pytest.raises(MethodError, match="retrain the head"):
        load_head(tmp_path / "h.pt", {"extractor": "y", "config_hash": "def"})
    # A LOF method with a trained head uses it as is.
    model = LOF({"kind": "lof", "head": "h"})
    model.set_head(back)
    model.fit(vids)
    assert model.fit_x.shape == (24, 4)


# ----------------------------------------------------------------------------- thesis protocol


@pytest.mark.parametrize("mode", ["ce", "supcon", "simclr"])
def test_trained_heads_depend_on_their_seed_only(mode):
    rng = np.random.default_rng(4)
    vids = [video(f"v{i}", rng.normal(size=(6, 5)) + (i >= 3) * (1 + i % 2), anomalous=i >= 3,
                  frame_labels=np.full(96, int(i >= 3), np.int8), cls=["A", "B"][i % 2] if i >= 3 else None) for i in range(6)]
    cfg = {"name": "h", "mode": mode, "features": "x", "embedding_dim": 3, "epochs": 2, "batch_size": 4, "seed": 5}
    heads = []
    for global_seed in (1, 2):  # whatever the global torch RNG holds
        torch.manual_seed(global_seed)
        heads.append(train_head(cfg, vids))
    assert torch.equal(heads[0].weight, heads[1].weight) and heads[0].meta["history"] == heads[1].meta["history"]


def test_snippet_labels_more_than_three_of_sixteen():
    lab = np.zeros(40, dtype=np.int8)  # a 40-frame video: 2 complete snippets, tail dropped
    lab[0:3] = 1  # snippet 0: 3 anomalous frames -> normal
    lab[16:20] = 1  # snippet 1: 4 anomalous frames -> anomalous
    lab[32:40] = 1  # the dropped tail does not count
    np.testing.assert_array_equal(snippet_labels(lab, n_clips(40, 16, 16, "drop")), [0, 1])
    np.testing.assert_array_equal(snippet_labels(lab, 2, threshold=2), [1, 1])


def test_thesis_split():
    labels = np.array([0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0])
    normal = set(np.flatnonzero(labels == 0))
    fit, test = thesis_split(labels, seed=7)
    fit2, test2 = thesis_split(labels, seed=7)
    assert np.array_equal(fit, fit2) and np.array_equal(test, test2)  # reproducible
    assert not np.array_equal(thesis_split(labels, seed=8)[0], fit)  # a new split per seed
    assert set(fit) <= normal  # never fits on an anomalous snippet
    assert not set(fit) & set(test)  # never fits on an evaluated snippet
    assert len(fit) == round(0.8 * len(normal))
    assert set(np.flatnonzero(labels == 1)) <= set(test) and set(fit) | set(test) == set(range(len(labels)))
    groups = np.repeat(np.arange(3), 5)
    fit, test = thesis_split(labels, seed=0, groups=groups)
    assert set(fit) <= normal and not set(fit) & set(test)
    for g in range(3):
        n_norm = int(((groups == g) & (labels == 0)).sum())
        assert int((groups[fit] == g).sum()) == round(0.8 * n_norm)


def test_run_thesis_fits_only_on_normal_snippets(monkeypatch):
    rng = np.random.default_rng(0)
    vids = []
    for i in range(4):
        lab = np.zeros(20 * 16, dtype=np.int8)
        lab[5 * 16:9 * 16] = 1
        feats = rng.normal(size=(20, 6))
        feats[5:9] += 6
        vids.append(video(f"a{i}", feats, anomalous=True, frame_labels=lab))
    vids.append(video("n0", rng.normal(size=(20, 6)), frame_labels=np.zeros(320)))  # normal test video: left out by default
    seen = []
    import vadflow.methods.lof.method as lofmod

    real = lofmod.fit_lof
    monkeypatch.setattr(lofmod, "fit_lof", lambda x, k=20: (seen.append(np.asarray(x).copy()), real(x, k))[1])
    df = run_thesis({"kind": "lof", "head": "none", "thesis_seeds": [0, 1, 2]}, vids)
    rows = df[df["seed"] != "mean"]
    assert list(rows["seed"]) == ["0", "1", "2"] and (rows["n_fit"] == 51).all()  # round(0.8 * 64)
    assert (rows["n_test_anomalous"] == 16).all() and (rows["n_test_normal"] == 13).all()
    assert (df["n_videos"] == 4).all() and df["protocol"].eq("thesis").all()
    assert rows["auc"].min() > 0.95
    mean = df[df["seed"] == "mean"].iloc[0]
    assert mean["auc"] == pytest.approx(rows["auc"].mean()) and mean["auc_std"] == pytest.approx(rows["auc"].std(ddof=1))
    # Every fitting point is a normal snippet (anomalous ones are shifted by +6 in every dim).
    assert len(seen) == 3 and all(x.mean(1).max() < 3 for x in seen)
    with_normal = run_thesis({"kind": "lof", "head": "none", "thesis_seeds": [0], "include_normal_test": True}, vids)
    assert with_normal["n_videos"].iloc[0] == 5


# ----------------------------------------------------------------------------- config


@pytest.fixture()
def cfg():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_schema_defaults_match_lof_defaults(cfg):
    from snakemake.utils import validate

    cfg["methods"] = {"m": {"kind": "lof"}}
    cfg["heads"] = {"h": {"mode": "supcon", "features": "i3d"}}
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    filled = cfg["methods"]["m"]
    assert {k: filled[k] for k in LOF.defaults} == LOF.defaults
    assert set(filled) - set(LOF.defaults) <= {"kind", "mapping", "train_split", "folds", "device", "repeats"}
    from vadflow.methods.lof.heads import HEAD_DEFAULTS

    head = cfg["heads"]["h"]
    assert {k: head[k] for k in HEAD_DEFAULTS} == HEAD_DEFAULTS


def test_config_checks_for_heads(cfg):
    cfg = copy.deepcopy(cfg)
    cfg["methods"] = {"lof": {"kind": "lof", "features": "i3d", "head": "missing"}}
    for stage in ("methods", "heads"):
        cfg["datasets"]["synthetic"]["overrides"].pop(stage, None)
    with pytest.raises(vc.ConfigError, match=r"methods.lof.head = 'missing'"):
        vc.check(cfg)
    cfg["heads"] = {"missing": {"mode": "ce", "features": "c3d"}}
    with pytest.raises(vc.ConfigError, match="heads.missing is trained on 'c3d'"):
        vc.check(cfg)
    cfg["heads"]["missing"]["features"] = "i3d"
    vc.check(cfg)
    assert vc.method_head(cfg, "synthetic", "lof") == ["results/synthetic/heads/missing.pt"]
    with pytest.raises(vc.ConfigError, match="methods.lof.standardize_features: .* trained head"):
        vc.check({**cfg, "methods": {"lof": {**cfg["methods"]["lof"], "standardize_features": True}}})
    cfg["methods"]["lof"]["protocol"] = "thesis"
    assert vc.default_targets(cfg) == ["results/synthetic/summary.csv", "results/synthetic/lof_thesis_auc.csv"]
    cfg["methods"]["lof"]["train_split"] = "test_folds"
    with pytest.raises(vc.ConfigError, match="train_split"):
        vc.check(cfg)


def test_config_checks_for_a_labelled_dataset(cfg):
    from snakemake.utils import validate

    cfg = copy.deepcopy(cfg)
    cfg["datasets"]["ucf101"] = {"kind": "action_folder", "root": "data/ucf101"}
    cfg["heads"]["sup"] = {"mode": "supcon", "features": "i3d"}  # synthetic: the default `events` set
    ucf = {"source": "dataset", "dataset": "ucf101"}
    cfg["datasets"]["ucf_crime"]["overrides"] = {"heads": {"sup": {"labelled": ucf}}}
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    vc.check(cfg)
    assert vc.head_inputs(cfg, "ucf_crime", "sup") == ["results/ucf101/manifest.csv", "results/ucf101/features/i3d.h5"]
    assert vc.head_inputs(cfg, "synthetic", "sup") == []
    # The synthetic dataset shrinks i3d's input to 64 px: UCF-101 features at 224 px would not match.
    cfg["datasets"]["synthetic"]["overrides"]["heads"]["sup"] = {"labelled": ucf}
    with pytest.raises(vc.ConfigError, match="heads.sup.labelled.dataset: features.i3d differs between dataset synthetic"):
        vc.check(cfg)
    cfg["datasets"]["synthetic"]["overrides"]["heads"]["sup"] = {"mode": "simclr", "labelled": ucf}  # ce/supcon's set only
    vc.check(cfg)
    cfg["datasets"]["ucf_crime"]["overrides"]["heads"]["sup"]["labelled"]["dataset"] = "ucf-101"
    with pytest.raises(vc.ConfigError, match="heads.sup.labelled.dataset = 'ucf-101'"):
        vc.check(cfg)


def test_default_configs_resolve_lof_per_dataset(cfg):
    from snakemake.utils import validate

    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    vc.check(cfg)
    # Synthetic: weight-free flow features (a 3D ResNet-50 is too slow on 2 CPU cores, and the
    # synthetic anomalies are motion); real data: the spec's R(2+1)D-50.
    assert vc.method_features(cfg, "synthetic", "lof") == "results/synthetic/features/flow.h5"
    assert vc.head_features(cfg, "synthetic", "simclr") == "results/synthetic/features/flow.h5"
    assert vc.method_params(cfg, "synthetic", "lof")["standardize_features"] is True
    assert vc.method_features(cfg, "ucf_crime", "lof") == "results/ucf_crime/features/r2plus1d_50.h5"
    lof = vc.method_params(cfg, "ucf_crime", "lof")
    assert (lof["head"], lof["embedding_dim"], lof["n_neighbors"], lof["standardize"], lof["standardize_features"]) == ("random", 256, 20, False, False)
    assert vc.method_head(cfg, "synthetic", "lof") == [] and vc.method_head(cfg, "ucf_crime", "lof_simclr") == ["results/ucf_crime/heads/simclr.pt"]
    assert "results/synthetic/lof_thesis_auc.csv" in vc.default_targets(cfg)


# ----------------------------------------------------------------------------- end to end


@pytest.mark.e2e
def test_lof_end_to_end(tmp_path):
    """Tiny synthetic config of tests/test_workflow.py with only LOF methods: a random head, a
    trained supcon head (its own rule and artifact), and the thesis protocol."""
    from test_workflow import TINY, planned_jobs, snakemake, write_config

    cfg = copy.deepcopy(TINY)
    cfg["methods"] = {
        "lof": {"kind": "lof", "features": "i3d", "embedding_dim": 16, "protocol": "thesis", "thesis_seeds": [0, 1],
                "include_normal_test": True},
        "lof_sc": {"kind": "lof", "features": "i3d", "head": "sc"},
    }
    cfg["heads"] = {"sc": {"mode": "supcon", "features": "i3d", "embedding_dim": 16, "epochs": 2}}
    write_config(tmp_path, cfg)
    snakemake(tmp_path)  # rule all: summary of both plus the thesis table of `lof`
    for m in ("lof", "lof_sc"):
        auc = pd.read_csv(tmp_path / f"results/synthetic/{m}_auc.csv")
        assert 0.0 <= auc["auc"].iloc[0] <= 1.0
    assert (tmp_path / "results/synthetic/heads/sc.pt").is_file()
    thesis = pd.read_csv(tmp_path / "results/synthetic/lof_thesis_auc.csv")
    assert list(thesis["seed"].astype(str)) == ["0", "1", "mean"] and thesis["method"].eq("lof").all()
    import h5py

    with h5py.File(tmp_path / "results/synthetic/lof/scores.h5") as f:
        allv = np.concatenate([f[k][()] for k in f])
        assert allv.min() == 0.0 and allv.max() == pytest.approx(1.0)
    # Editing the head reruns the head and the one LOF that uses it, not the random-head LOF.
    cfg["heads"]["sc"]["epochs"] = 3
    write_config(tmp_path, cfg)
    assert planned_jobs(tmp_path, "results/synthetic/summary.csv") == {"train_head": 1, "train": 1, "score": 1, "evaluate": 1, "summary": 1}


@pytest.mark.e2e
def test_supcon_head_on_a_labelled_action_folder(tmp_path):
    """labelled.source: dataset: a UCF-101-style folder feeds the head through the DAG (its own
    manifest and i3d features); its test split gives the validation silhouette."""
    from conftest import ramp_frames, write_mp4
    from test_workflow import TINY, planned_jobs, snakemake, write_config

    root = tmp_path / "UCF-101"
    for cls in ("Archery", "Bowling"):
        for g in ("g01", "g08"):
            write_mp4(root / cls / f"v_{cls}_{g}_c01.avi", ramp_frames(40, 32, 40), fps=25)
    (tmp_path / "trainlist01.txt").write_text("Archery/v_Archery_g08_c01.avi 1\nBowling/v_Bowling_g08_c01.avi 2\n")
    cfg = copy.deepcopy(TINY)
    cfg["datasets"]["ucf101"] = {"kind": "action_folder", "root": str(root), "train_list": str(tmp_path / "trainlist01.txt"),
                                 "overrides": {"features": {"i3d": {"resize": 64, "crop": 64}}}}
    cfg["heads"] = {"ucf": {"mode": "supcon", "features": "i3d", "embedding_dim": 8, "epochs": 2,
                            "labelled": {"source": "dataset", "dataset": "ucf101"}}}
    cfg["methods"] = {"lof_ucf": {"kind": "lof", "features": "i3d", "head": "ucf"}}
    write_config(tmp_path, cfg)
    jobs = planned_jobs(tmp_path, "results/synthetic/heads/ucf.pt")
    assert jobs["manifest"] == 2 and jobs["merge_features"] == 2 and jobs["train_head"] == 1
    snakemake(tmp_path, "results/synthetic/heads/ucf.pt")
    blob = torch.load(tmp_path / "results/synthetic/heads/ucf.pt", weights_only=True)
    meta = blob["head"]["meta"]
    # 2 training videos x 2 clips (40 frames, tail drop): classes are the folders, not UCF-Crime events.
    assert meta["classes"] == ["Archery", "Bowling"] and meta["n_labelled"] == 4
    assert "silhouette_val" in meta
    log = (tmp_path / "logs/synthetic/heads/ucf.log").read_text()
    assert "validation silhouette" in log
