"""The shared loop of the weakly supervised kinds (docs/methods/weak.md): bags, schedules,
checkpoint selection, crop handling, windowed scoring and the online plan."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vadflow.methods import get_method
from vadflow.methods.base import MethodError, VideoData
from vadflow.methods.weak import frame_metric, passes
from vadflow.streaming.scorers import Windowed

TINY = {
    "rtfm": {"steps": 6, "batch_size": 2, "branch_channels": 8, "fc_hidden": [8, 4], "eval_every": 2, "segments": 8},
    "urdmu": {"steps": 6, "batch_size": 2, "num_segments": 8, "embed_dim": 16, "dim_head": 4, "mlp_dim": 16, "head_hidden": 8,
              "a_nums": 8, "n_nums": 8, "eval_every": 2},
    "mgfn": {"epochs": 3, "batch_size": 2, "dims": [8, 16], "depths": [1, 1], "block_types": ["gb", "fb"], "dim_head": 8,
             "segments": 8, "eval_every": 1},
}


def video(vid: str, anomalous: bool, rng: np.random.Generator, k: int = 12, d: int = 6, crops: int | None = None) -> VideoData:
    x = rng.normal(size=(crops or 1, k, d)).astype(np.float32)
    lab = np.zeros(k * 16, np.int8)
    if anomalous:
        x[:, 4:8, :2] += 3.0
        lab[64:128] = 1
    return VideoData(id=vid, features=x.mean(0), n_frames=k * 16, clip_len=16, stride=16, anomalous=anomalous, frame_labels=lab,
                     crops=x if crops else None)


def videos(rng, n=6, **kw):
    return [video(f"v{i}", i % 2 == 1, rng, **kw) for i in range(n)]


def model(kind: str, **over):
    return get_method(kind)({"kind": kind, "features": "f", "device": "cpu", **TINY[kind], **over})


def test_passes_cover_each_class_in_full_batches_and_cycle():
    rng = np.random.default_rng(0)
    it = passes(5, 2, True, rng)
    first = [next(it) for _ in range(2)]  # one pass of 5 bags: two full batches, the fifth dropped
    assert all(len(b) == 2 for b in first) and len(set(np.concatenate(first))) == 4
    ordered = passes(5, 2, False, rng)
    assert [next(ordered).tolist() for _ in range(3)] == [[0, 1], [2, 3], [0, 1]]  # no shuffle: list order, pass after pass


@pytest.mark.parametrize("kind", sorted(TINY))
def test_bags_follow_the_kinds_unit_and_segment_rule(kind):
    m = model(kind)
    v = video("a", True, np.random.default_rng(1), crops=3)
    bags = m.bags(v)
    n = TINY[kind].get("segments", TINY[kind].get("num_segments"))
    seg = np.stack([m.core.segment(c, n) for c in v.crops])
    if m.bag_unit == "videos":  # RTFM, MGFN: one bag of every crop
        assert len(bags) == 1 and bags[0].shape == (3, n, 6)
        np.testing.assert_array_equal(bags[0], seg)
    else:  # UR-DMU: every crop its own bag
        assert len(bags) == 3 and all(b.shape == (1, n, 6) for b in bags)
        np.testing.assert_array_equal(np.concatenate(bags), seg)


@pytest.mark.parametrize("kind", sorted(TINY))
def test_trains_counts_its_schedule_and_scores_every_frame(kind):
    rng = np.random.default_rng(2)
    m = model(kind, select="last")
    train = videos(rng)
    m.fit(train)
    steps = TINY[kind].get("steps") or TINY[kind]["epochs"] * (3 // 2)  # epochs: min(3, 3) // 2 = 1 step each
    assert len(m.history) == steps and m.score_attrs() == {"selection": "last", "selected_step": steps}
    v = video("t", True, rng)
    s = m.score(v)
    assert s.shape == (v.n_frames,) and np.all(np.isfinite(s))


def test_crops_are_averaged_as_the_network_does_and_z_scored_with_training_statistics():
    rng = np.random.default_rng(3)
    m = model("rtfm", select="last", standardize=True)
    m.fit(videos(rng, crops=2))
    v = video("t", True, rng, crops=2)
    x = (v.crops - m.scaler.mu) / m.scaler.sd
    want = m.core.snippet_scores(m.net, torch.from_numpy(x.astype(np.float32)))
    np.testing.assert_allclose(m.score(v), np.repeat(want, 16), rtol=1e-6)


def test_val_best_keeps_the_step_with_the_best_validation_auc():
    rng = np.random.default_rng(4)
    m = model("rtfm", select="val_best", steps=8, eval_every=2)
    val = videos(rng, n=4)
    m.set_validation(val)
    seen = []
    real = m._metric

    def spy(vids):
        value = real(vids)
        seen.append((len(m.history), value, {k: v.clone() for k, v in m.net.state_dict().items()}))
        return value

    m._metric = spy
    m.fit(videos(rng))
    steps = [s for s, _, _ in seen]
    assert steps == [2, 4, 6, 8]
    best = max(seen, key=lambda r: r[1])  # the first of equal values, as the loop keeps it
    assert m.score_attrs()["selected_step"] == best[0] and m.score_attrs()["selection"] == "val_best"
    for k, v in m.net.state_dict().items():
        assert torch.equal(v, best[2][k]), k


def test_val_best_without_validation_videos_keeps_the_last_step_and_says_so():
    m = model("urdmu")
    m.fit(videos(np.random.default_rng(5)))
    assert m.score_attrs()["selection"] == "last (no validation videos)"


def test_test_best_reads_the_test_videos_and_records_the_test_selection():
    cls = get_method("rtfm")
    assert cls.reads({"features": "f", "select": "test_best"}).test_at_train
    assert not cls.reads({"features": "f"}).test_at_train
    rng = np.random.default_rng(6)
    m = model("rtfm", select="test_best")
    with pytest.raises(MethodError, match="test videos"):
        m.fit(videos(rng))
    m.set_test_videos(videos(rng, n=4))
    m.fit(videos(rng))
    assert m.score_attrs()["selection"] == "test_best" and "selection_value" in m.score_attrs()


def test_selection_metric_is_the_pooled_frame_auc():
    pairs = [(np.array([0, 0, 1]), np.array([0.1, 0.4, 0.3])), (np.array([1, 0]), np.array([0.9, 0.2]))]
    # pooled: labels 0 0 1 1 0, scores .1 .4 .3 .9 .2 -> 5 of the 6 (anomalous, normal) pairs ranked right
    assert frame_metric(pairs, "auc") == pytest.approx(5 / 6)


@pytest.mark.parametrize("kind", sorted(TINY))
def test_windowed_scoring_equals_the_online_plan_in_exact_mode(kind):
    rng = np.random.default_rng(7)
    m = model(kind, select="last", test_window=4)
    m.fit(videos(rng))
    v = video("t", True, rng, k=11)
    plan = m.online()
    assert plan.window == 4
    w = Windowed(plan.window, plan.window_scores, "exact")
    got = {}
    for k, f in enumerate(v.features):
        got.update(w.push(k, plan.row(f)))
    got.update(w.finish())
    online = np.array([got[i] for i in range(len(v.features))])
    np.testing.assert_allclose(np.repeat(online, 16), m.score(v), atol=1e-6)


def test_a_model_file_round_trips_with_its_selection(tmp_path):
    rng = np.random.default_rng(8)
    m = model("mgfn", select="last")
    m.fit(videos(rng))
    m.save(tmp_path / "m.pt")
    back = get_method("mgfn").load(tmp_path / "m.pt")
    v = video("t", True, rng)
    np.testing.assert_array_equal(back.score(v), m.score(v))
    assert back.score_attrs() == m.score_attrs()


def test_fidelity_original_switches_on_the_original_codes_behaviour():
    assert model("rtfm", fidelity="original").core_cfg["smoothness"] == "across_batch"
    assert model("urdmu", fidelity="original").core_cfg["local_attn_norm"] == "column"
    assert model("mgfn", fidelity="original").core_cfg["mc_pairing"] == "original"
    assert model("rtfm").core_cfg["smoothness"] == "per_video"
