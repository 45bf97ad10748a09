"""Evaluation metrics: docs/metrics.md §10 worked example, docs/methods/adnet.md §11 tests 8–10,
the B1–B6 project behaviours, and a property test against a literal MS-TCN port."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from vadflow.evaluation.frame_metrics import (
    confusion_scores,
    eer,
    false_alarm_rate,
    frame_confusion,
    frame_metrics,
    roc_auc,
    video_alarms,
)
from vadflow.evaluation.plots import choose_videos, plot_roc, plot_timelines
from vadflow.evaluation.segments import binarise, f1_table, segment_counts, segments
from vadflow.evaluation.tables import evaluate
from vadflow.methods.mapping import clip_to_frames

EXACT = dict(rel=1e-12, abs=1e-12)


from mstcn_reference import ref_f_score, ref_get_labels_start_end_time  # noqa: E402


BG = {"abnormal": [0], "normal": [1], "all": []}


def ref_counts(gt: list[int], pred: list[int], k: float, report: str) -> tuple[int, int, int]:
    """MS-TCN counts, with the project's B1 rule applied by the caller where MS-TCN crashes."""
    bg = BG[report]
    y, _, _ = ref_get_labels_start_end_time(gt, bg)
    p, _, _ = ref_get_labels_start_end_time(pred, bg)
    if not y and p:
        with pytest.raises(ValueError):  # B1: argmax of an empty array
            ref_f_score(pred, gt, k, bg)
        return 0, len(p), 0
    return tuple(int(x) for x in ref_f_score(pred, gt, k, bg))  # type: ignore[return-value]


def f1_rows(df: pd.DataFrame) -> dict[tuple[str, float], tuple[int, int, int, float]]:
    return {(r.report, r.k): (r.tp, r.fp, r.fn, r.f1) for r in df.itertuples()}


# --------------------------------------------------------------------------------------
# docs/metrics.md §10 worked example
# --------------------------------------------------------------------------------------
def _gt(n: int, s: int, e: int) -> np.ndarray:
    g = np.zeros(n, dtype=np.uint8)
    if s > 0:
        g[s - 1 : min(e, n)] = 1  # 1-based inclusive annotation → [s-1, min(e, N))
    return g


@pytest.fixture()
def worked():
    labels = {"A": _gt(26, 5, 24), "B": _gt(20, -1, -1), "C": _gt(22, 21, 22)}
    scores = {
        "A": clip_to_frames([0.1, 0.2, 0.7, 0.4, 0.9, 0.3], 26, 4, 4, "cell"),
        "B": clip_to_frames([0.2, 0.6, 0.3, 0.2, 0.1], 20, 4, 4, "cell"),
        "C": clip_to_frames([0.1, 0.3, 0.2, 0.4, 0.9], 22, 4, 4, "cell"),
    }
    videos = pd.DataFrame(
        {"id": ["A", "B", "C"], "cls": ["Abuse", "Normal", "Arson"], "anomalous": [True, False, True], "fps": 30.0}
    )
    return labels, scores, videos


def test_worked_example_frames_as_in_spec(worked):
    labels, scores, _ = worked
    s = lambda a: "".join(str(int(x)) for x in a)  # noqa: E731
    assert s(labels["A"]) == "00001111111111111111111100"
    assert s(labels["C"]) == "0000000000000000000011"
    assert s(scores["A"] > 0.5) == "00000000111100001111000000"
    assert s(scores["B"] > 0.5) == "00001111000000000000"
    assert s(scores["C"] > 0.5) == "0000000000000000111111"


WORKED_F1 = {
    ("abnormal", 10): (2, 2, 0, 200 / 3),
    ("normal", 10): (4, 2, 0, 80.0),
    ("all", 10): (6, 4, 0, 75.0),
    ("abnormal", 25): (1, 3, 1, 100 / 3),
    ("normal", 25): (4, 2, 0, 80.0),
    ("all", 25): (5, 5, 1, 62.5),
    ("abnormal", 50): (0, 4, 2, 0.0),
    ("normal", 50): (3, 3, 1, 60.0),
    ("all", 50): (3, 7, 3, 37.5),
}


def test_worked_example_f1(worked):
    labels, scores, videos = worked
    out = evaluate(labels, scores, videos, {"threshold": 0.5, "f1_k": [10, 25, 50]})
    f1 = out["f1"]
    assert list(f1.columns) == ["report", "k", "tp", "fp", "fn", "precision", "recall", "f1"]
    got = f1_rows(f1)
    assert set(got) == set(WORKED_F1)
    for key, (tp, fp, fn, f) in WORKED_F1.items():
        assert got[key][:3] == (tp, fp, fn), key
        assert got[key][3] == pytest.approx(f, **EXACT), key
    row = f1.set_index(["report", "k"]).loc[("all", 25)]
    assert row.precision == pytest.approx(0.5) and row.recall == pytest.approx(5 / 6)


def test_worked_example_per_video_counts(worked):
    """The A/B/C columns of the §10 table (B's abnormal report is the B1 case)."""
    labels, scores, _ = worked
    ids = ["A", "B", "C"]
    c = segment_counts([labels[i] for i in ids], [binarise(scores[i], 0.5) for i in ids], [10, 25, 50], per_video=True)
    expect = {
        "abnormal": [[(1, 1, 0), (0, 1, 0), (1, 0, 0)], [(0, 2, 1), (0, 1, 0), (1, 0, 0)], [(0, 2, 1), (0, 1, 0), (0, 1, 1)]],
        "normal": [[(2, 1, 0), (1, 1, 0), (1, 0, 0)], [(2, 1, 0), (1, 1, 0), (1, 0, 0)], [(1, 2, 1), (1, 1, 0), (1, 0, 0)]],
        "all": [[(3, 2, 0), (1, 2, 0), (2, 0, 0)], [(2, 3, 1), (1, 2, 0), (2, 0, 0)], [(1, 4, 2), (1, 2, 0), (1, 1, 1)]],
    }
    for report, rows in expect.items():
        assert c[report].tolist() == [[list(v) for v in r] for r in rows], report


def test_worked_example_frame_metrics(worked):
    labels, scores, videos = worked
    auc = evaluate(labels, scores, videos, {})["auc"]
    assert len(auc) == 1
    r = auc.iloc[0]
    assert r.auc == pytest.approx(191 / 253, **EXACT)
    assert r.ap == pytest.approx(2726 / 5005, **EXACT)
    assert r.pr_auc_trapz == pytest.approx(9887 / 16380, **EXACT)
    assert r.eer == pytest.approx(32 / 101, **EXACT)
    # First ROC point with FPR ≥ FNR is (11/23, 9/11), reached at threshold 0.3.
    assert r.eer_threshold == pytest.approx(0.3, **EXACT)
    assert r.far == pytest.approx(0.2, **EXACT)
    assert r.alarms_normal_pct == 100.0 and r.alarms_anomalous_pct == 100.0
    assert r.vl_f1 == pytest.approx(0.8, **EXACT)
    assert r.n_videos == 3 and r.n_frames == 68
    # B: one predicted event in 20 frames at 30 fps.
    assert r.false_alarms_per_hour == pytest.approx(1 / (20 / 30 / 3600))


def test_worked_example_sultani_exact(worked):
    labels, scores, videos = worked
    r = evaluate(labels, scores, videos, {"auc": "sultani_exact"})["auc"].iloc[0]
    assert r.auc == pytest.approx(205 / 253, **EXACT)
    assert r.auc_method == "sultani_exact"
    # Tie order matters for sultani_exact only: reversing the pooling order changes it.
    rev = videos.iloc[::-1].reset_index(drop=True)
    r2 = evaluate(labels, scores, rev, {"auc": "sultani_exact"})["auc"].iloc[0]
    r3 = evaluate(labels, scores, rev, {})["auc"].iloc[0]
    assert r2.auc != pytest.approx(205 / 253)
    assert r3.auc == pytest.approx(191 / 253, **EXACT)


def test_worked_example_per_video_and_per_class(worked):
    labels, scores, videos = worked
    out = evaluate(labels, scores, videos, {})
    pv = out["per_video"].set_index("id")
    assert np.isnan(pv.loc["B", "auc"])  # only one label in a normal video
    assert pv.loc["A", "auc"] == pytest.approx(roc_auc_score(labels["A"], scores["A"]))
    assert pv.loc["B", "max_score"] == pytest.approx(0.6)
    assert pv.loc["C", "mean_score"] == pytest.approx(scores["C"].mean())
    assert pv["alarm"].tolist() == [True, True, True]
    pc = out["per_class"].set_index("cls")
    assert sorted(pc.index) == ["Abuse", "Arson"]  # the normal class has no positives
    g = np.concatenate([labels["A"], labels["B"]])
    s = np.concatenate([scores["A"], scores["B"]])
    assert pc.loc["Abuse", "auc"] == pytest.approx(roc_auc_score(g, s))
    assert pc.loc["Abuse", "n_frames"] == 46


# --------------------------------------------------------------------------------------
# docs/methods/adnet.md §11 tests 8, 9, 10
# --------------------------------------------------------------------------------------
def _f1(g, p, ks=(10, 25, 50, 75), thr=0.5):
    return f1_rows(f1_table([np.asarray(x, np.uint8) for x in g], [np.asarray(x, float) for x in p], thr, ks))


def test_adnet_f1_test1():
    g = [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    p = [0, 0, 0, 1, 1, 1, 1, 1, 0, 0]
    rows = _f1([g], [p])
    for k in (10, 25, 50):
        assert rows[("abnormal", k)] == (1, 0, 0, 100.0)
        assert rows[("normal", k)] == (2, 0, 0, 100.0)
        assert rows[("all", k)] == (3, 0, 0, 100.0)
    for report in ("abnormal", "normal", "all"):
        assert rows[(report, 75)][3] == 0.0


def test_adnet_f1_test2_short_false_positive():
    g = [0] * 10
    p = [0] * 10
    p[5] = 1
    rows = _f1([g], [p], ks=(25,))
    assert rows[("abnormal", 25)] == (0, 1, 0, 0.0)
    tp, fp, fn, f = rows[("normal", 25)]
    assert (tp, fp, fn) == (1, 1, 0) and f == pytest.approx(200 / 3)
    assert rows[("all", 25)][3] == pytest.approx(50.0)


def test_adnet_f1_test3_micro_average():
    g1, p1 = [0] * 10, [0] * 5 + [1] + [0] * 4  # abnormal F1 0 (one FP)
    g2, p2 = [0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0]  # abnormal F1 100
    rows = _f1([g1, g2], [p1, p2], ks=(25,))
    tp, fp, fn, f = rows[("abnormal", 25)]
    assert (tp, fp, fn) == (1, 1, 0)
    assert f == pytest.approx(200 / 3)  # F1 of summed counts
    assert f != pytest.approx(50.0)  # not the mean of per-video F1 (0 and 100)


# --------------------------------------------------------------------------------------
# Hand-made cases and the B1–B6 behaviours
# --------------------------------------------------------------------------------------
def test_perfect_prediction_is_100_everywhere():
    rng = np.random.default_rng(0)
    gts = []
    for n in (30, 47, 12, 80):
        g = np.zeros(n, np.uint8)
        a = rng.integers(0, n - 5)
        g[a : a + rng.integers(1, 5)] = 1
        gts.append(g)
    gts.append(np.zeros(20, np.uint8))  # a normal video
    gts.append(np.ones(9, np.uint8))  # an all-anomalous video
    scores = [g * 0.9 + 0.05 for g in gts]
    rows = _f1(gts, scores, ks=(10, 25, 50, 100))
    assert len(rows) == 12
    for key, (tp, fp, fn, f) in rows.items():
        assert fp == 0 and fn == 0 and tp > 0 and f == 100.0, key


def test_empty_prediction_on_normal_only_video():
    rows = _f1([np.zeros(50)], [np.zeros(50)], ks=(10,))
    assert rows[("abnormal", 10)] == (0, 0, 0, 0.0)  # B6: 0/0 → 0, no NaN
    assert rows[("normal", 10)] == (1, 0, 0, 100.0)
    assert rows[("all", 10)] == (1, 0, 0, 100.0)
    df = f1_table([np.zeros(50)], [np.zeros(50)], 0.5, [10])
    assert not df[["precision", "recall", "f1"]].isna().any().any()


def test_two_events_in_one_video():
    g = [0] * 3 + [1] * 4 + [0] * 3 + [1] * 3 + [0] * 2  # events [3,7) and [10,13)
    p = [0] * 4 + [1] * 3 + [0] * 3 + [1] * 4 + [0] * 1  # [4,7) and [10,14): IoU 3/4 each
    rows = _f1([g], [p], ks=(50, 75, 80))
    assert rows[("abnormal", 75)][:3] == (2, 0, 0)
    assert rows[("abnormal", 80)][:3] == (0, 2, 2)
    # normal GT [0,3) [7,10) [13,15) vs pred [0,4) [7,10) [14,15): IoU 3/4, 1, 1/2
    assert rows[("normal", 50)][:3] == (3, 0, 0)
    assert rows[("normal", 75)][:3] == (2, 1, 1)
    # One long prediction covering both events matches only the better one (IoU 4/10 vs 3/10).
    long = [0] * 3 + [1] * 10 + [0] * 2
    rows = _f1([g], [long], ks=(25, 50))
    assert rows[("abnormal", 25)][:3] == (1, 0, 1)
    assert rows[("abnormal", 50)][:3] == (0, 1, 2)


def test_segment_touching_last_frame_b3():
    # One-frame final segment predicted exactly: IoU 1, a TP even at k = 100 %.
    rows = _f1([[0, 0, 0, 1]], [[0, 0, 0, 1]], ks=(10, 50, 100))
    for k in (10, 50, 100):
        assert rows[("abnormal", k)][:3] == (1, 0, 0)
        assert rows[("normal", k)][:3] == (1, 0, 0)
    # ADNet's end = N-1 would make C's IoU 1/5 in the worked example; here a 4-frame final
    # event predicted from one frame early has IoU 4/5 only with end = N.
    rows = _f1([[0] * 6 + [1] * 4], [[0] * 5 + [1] * 5], ks=(80, 81))
    assert rows[("abnormal", 80)][:3] == (1, 0, 0)
    assert rows[("abnormal", 81)][:3] == (0, 1, 1)
    s, e, v = segments(np.array([0, 0, 1]))
    assert s.tolist() == [0, 2] and e.tolist() == [2, 3] and v.tolist() == [0, 1]


def test_empty_sequence_has_no_segments_b2():
    s, e, v = segments(np.zeros(0, np.uint8))
    assert s.size == e.size == v.size == 0
    c = segment_counts([np.zeros(0, np.uint8), np.array([0, 1, 1], np.uint8)],
                       [np.zeros(0, bool), np.array([0, 1, 1], bool)], [50], per_video=True)
    assert c["all"][0].tolist() == [[0, 0, 0], [2, 0, 0]]


def test_several_thresholds_from_raw_scores_b4():
    g = np.array([0] * 5 + [1] * 10 + [0] * 5, np.uint8)  # event [5, 15)
    s = np.zeros(20)
    s[5:15] = 0.6
    s[8:15] = 0.8  # > 0.75 on [8, 15): IoU 0.7
    s[12:15] = 0.95  # > 0.9 on [12, 15): IoU 0.3
    raw = s.copy()
    expect = {0.5: (1, 0, 0), 0.75: (1, 0, 0), 0.9: (0, 1, 1)}
    for thr in (0.5, 0.75, 0.9):  # the order ADNet loops in
        rows = f1_rows(f1_table([g], [s], thr, [50]))
        assert rows[("abnormal", 50)][:3] == expect[thr], thr
    np.testing.assert_array_equal(s, raw)  # never binarised in place
    assert f1_rows(f1_table([g], [s], 0.9, [25]))[("abnormal", 25)][:3] == (1, 0, 0)


def test_prediction_without_gt_segment_is_fp_b1():
    g, p = [0] * 8, [0, 1, 1, 0, 0, 1, 0, 0]
    with pytest.raises(ValueError):  # what MS-TCN does
        ref_f_score(p, g, 0.1, [0])
    assert _f1([g], [p], ks=(10,))[("abnormal", 10)][:3] == (0, 2, 0)


def test_greedy_order_is_kept():
    # g1 = [0,10), g2 = [11,15). p1 = [0,3) (IoU 0.3 with g1); p2 = [4,15) prefers g1
    # (IoU 0.4 > 4/11) which p1 already took, so p2 is an FP although g2 would qualify.
    g = [1] * 10 + [0] + [1] * 4
    p = [1] * 3 + [0] + [1] * 11
    assert _f1([g], [p], ks=(30,))[("abnormal", 30)][:3] == (1, 1, 1)
    assert ref_f_score(p, g, 0.3, [0]) == (1.0, 1.0, 1.0)


def test_k_fractions_equal_percentages_and_k_must_be_positive():
    g, p = [0, 0, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0]
    a = f1_table([np.array(g)], [np.array(p, float)], 0.5, [10, 25, 50])
    b = f1_table([np.array(g)], [np.array(p, float)], 0.5, [0.10, 0.25, 0.50])
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError):
        f1_table([np.array(g)], [np.array(p, float)], 0.5, [0, 0.5])


# --------------------------------------------------------------------------------------
# Property test: vectorised counts == literal MS-TCN port on random sequences
# --------------------------------------------------------------------------------------
def _random_runs(rng: np.random.Generator, n: int) -> np.ndarray:
    mean_run = rng.choice([1.5, 3.0, 8.0, 30.0])
    out, v = [], int(rng.integers(0, 2))
    while len(out) < n:
        out += [v] * int(rng.geometric(1.0 / mean_run))
        v = 1 - v
    return np.array(out[:n], dtype=np.uint8)


def test_vectorised_counts_match_literal_mstcn_port():
    rng = np.random.default_rng(12345)
    gts, preds = [], []
    for i in range(200):
        n = int(rng.integers(1, 150))
        kind = i % 10
        g = np.zeros(n, np.uint8) if kind == 0 else np.ones(n, np.uint8) if kind == 1 else _random_runs(rng, n)
        p = np.zeros(n, np.uint8) if kind == 2 else _random_runs(rng, n)
        if kind == 3:  # prediction = GT with jittered edges: many near-threshold IoUs
            p = g.copy()
            p[rng.integers(0, n, size=max(1, n // 10))] ^= 1
        gts.append(g)
        preds.append(p)
    ks = [0.1, 0.25, 1 / 3, 0.5, 0.75, 1.0]
    ours = segment_counts(gts, [p.astype(bool) for p in preds], ks, per_video=True)
    n_b1 = 0
    for report in ("abnormal", "normal", "all"):
        for ki, k in enumerate(ks):
            for v, (g, p) in enumerate(zip(gts, preds)):
                ref = ref_counts(g.tolist(), p.tolist(), k, report)
                n_b1 += ref[2] == 0 and ref[0] == 0 and ref[1] > 0
                assert tuple(ours[report][ki, v]) == ref, (report, k, v)
    assert n_b1 > 0  # the random set does exercise videos without GT segments
    # Summed counts (what the table reports) agree too.
    tot = segment_counts(gts, [p.astype(bool) for p in preds], ks)
    for report in tot:
        np.testing.assert_array_equal(tot[report], ours[report].sum(axis=1))


# --------------------------------------------------------------------------------------
# Frame metrics details and input validation
# --------------------------------------------------------------------------------------
def test_eer_exact_crossing_and_auc_needs_both_labels():
    e, thr = eer(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert e == 0.0 and thr == pytest.approx(0.8)
    with pytest.raises(ValueError, match="both"):
        roc_auc(np.zeros(5), np.arange(5.0))


def test_alarm_threshold_is_inclusive_but_f1_binarisation_strict():
    s = [np.array([0.1, 0.5, 0.2])]
    assert false_alarm_rate(s, 0.5) == pytest.approx(1 / 3)
    assert video_alarms(s, [False], 0.5)["alarms_normal_pct"] == 100.0
    rows = _f1([[0, 0, 0]], s, ks=(10,))
    assert rows[("abnormal", 10)][:3] == (0, 0, 0)
    m = frame_metrics([np.array([0, 1, 1]), np.array([0, 0, 0])], [np.array([0.1, 0.9, 0.9]), s[0]],
                      [True, False], [25.0, float("nan")])
    assert m["false_alarms_per_hour"] == 0.0  # 0.5 is not > 0.5


@pytest.mark.parametrize("counts, acc, f1", [  # docs/methods/mil.md Table 2 (TN, FP, FN, TP) -> Table 3 (Acc, F1)
    ((902433, 125044, 49699, 34632), 0.8428, 0.2838),
    ((783342, 244135, 43699, 40632), 0.7411, 0.2201),
    ((875515, 151962, 44145, 40186), 0.8236, 0.2907),
    ((908518, 118959, 52874, 31457), 0.8455, 0.2681),
    ((914259, 113218, 60661, 23670), 0.8436, 0.2140),
])
def test_seed001_confusion_accuracy_f1_reproduce_table3(counts, acc, f1):
    got = confusion_scores(*counts)
    assert sum(counts) == 1_111_808
    assert got["accuracy"] == pytest.approx(acc, abs=2e-4) and got["f1"] == pytest.approx(f1, abs=2e-4)
    if counts[0] == 902433:
        assert got["accuracy"] == pytest.approx(0.84283, abs=5e-6) and got["f1"] == pytest.approx(0.28386, abs=5e-6)


def test_frame_confusion_by_hand_and_in_the_auc_row():
    # score >= 0.5 is positive: predictions [1, 1, 0, 0, 1] against gt [0, 1, 1, 0, 0].
    cm = frame_confusion(np.array([0, 1, 1, 0, 0]), np.array([0.5, 0.9, 0.2, 0.1, 0.7]))
    assert (cm["tn"], cm["fp"], cm["fn"], cm["tp"]) == (1, 2, 1, 1)
    assert cm["frame_accuracy"] == pytest.approx(2 / 5) and cm["frame_f1"] == pytest.approx(2 / 5)
    m = frame_metrics([np.array([0, 1, 1]), np.array([0, 0])], [np.array([0.5, 0.9, 0.2]), np.array([0.1, 0.7])], [True, False])
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (1, 2, 1, 1) and m["frame_f1"] == pytest.approx(0.4)
    # Video alarms from the same threshold: 18 of 135 normal videos is Table 4's 13.33 %.
    scores = [np.array([0.6])] * 18 + [np.array([0.4])] * 117
    assert video_alarms(scores, [False] * 135)["alarms_normal_pct"] == pytest.approx(13.33, abs=5e-3)


def test_seed001_skip_gives_table4s_135_131_subset(fixtures_dir):
    """Seed 001's k < 32 skip on the real test frame counts leaves 135 normal + 131 anomalous
    videos (docs/methods/mil.md §2, A13). The skipped 24 are pooled in the frame metrics with zero
    scores; the video-level % count the 135 / 131 only: 18/135 and 85/131 are Table 4's
    13.33 and 64.89 (its "Original" row)."""
    from vadflow.data import annotations as ann
    from vadflow.methods.base import VideoData
    from vadflow.methods.mil.method import MIL
    from vadflow.methods.mil.segments32 import n_clips

    rows = ann.read_temporal_annotation(fixtures_dir / "Test_Annotation_with_frames.txt")
    mil = MIL({"segments": "seed001", "short_videos": "skip_like_seed001"})
    skipped = {}
    for r in rows.values():
        k = n_clips(r.n_frames, 16, 16)  # rows an extractor writes for 16/16 clips
        reason = mil.skip_reason(VideoData(r.id, np.zeros((k, 1), np.float32), r.n_frames, 16, 16, r.cls != "Normal"))
        if reason is not None:
            skipped[r.id] = reason
    normal = {vid for vid, r in rows.items() if r.cls == "Normal"}
    assert (len(normal - skipped.keys()), len(rows.keys() - normal - skipped.keys())) == (135, 131)
    assert (len(normal & skipped.keys()), len(skipped.keys() - normal)) == (15, 9)

    ids = list(rows)
    labels = {vid: ann.frame_labels(ann.frame_events(r.events, r.n_frames, vid), r.n_frames) for vid, r in rows.items()}
    kept_n = [v for v in ids if v in normal and v not in skipped]
    kept_a = [v for v in ids if v not in normal and v not in skipped]
    alarm = set(kept_n[:18]) | set(kept_a[:85])
    scores = {vid: np.zeros(rows[vid].n_frames) if vid in skipped else np.full(rows[vid].n_frames, 0.9 if vid in alarm else 0.1)
              for vid in ids}
    videos = pd.DataFrame({"id": ids, "cls": [rows[v].cls for v in ids], "anomalous": [v not in normal for v in ids]})
    auc = evaluate(labels, scores, videos, {"f1_k": [10]}, skipped=skipped)["auc"].iloc[0]
    assert auc["alarms_normal_pct"] == pytest.approx(100 * 18 / 135) and round(auc["alarms_normal_pct"], 2) == 13.33
    assert auc["alarms_anomalous_pct"] == pytest.approx(100 * 85 / 131) and round(auc["alarms_anomalous_pct"], 2) == 64.89
    # frame level: all 290 videos and 1,111,808 frames, skipped ones scored 0 (negative at 0.5)
    assert (auc["n_videos"], auc["n_frames"], auc["n_skipped_test"]) == (290, 1_111_808, 24)
    assert auc["tn"] + auc["fp"] + auc["fn"] + auc["tp"] == 1_111_808
    assert auc["fn"] + auc["tp"] == sum(int(g.sum()) for g in labels.values())
    assert auc["fp"] == sum(int((labels[v] == 0).sum()) for v in alarm)
    # counted over all 290, the same scores would read 18/150 = 12 %
    assert video_alarms([scores[v] for v in ids], videos["anomalous"])["alarms_normal_pct"] == pytest.approx(12.0)


def test_evaluate_refuses_a_skipped_video_with_scores(worked):
    labels, scores, videos = worked
    with pytest.raises(ValueError, match="'A' is recorded as skipped"):
        evaluate(labels, scores, videos, {}, skipped={"A": "fewer than 32 clips"})
    zero = {**scores, "A": np.zeros_like(scores["A"])}
    auc = evaluate(labels, zero, videos, {}, skipped={"A": "why", "not_listed": "ignored"}, skipped_train={"t": "why"})["auc"]
    assert (auc["n_skipped_test"].iloc[0], auc["n_skipped_train"].iloc[0], auc["skipped_reason"].iloc[0]) == (1, 1, "why")


def test_evaluate_rejects_bad_inputs(worked):
    labels, scores, videos = worked
    with pytest.raises(ValueError, match="'B'"):
        evaluate(labels, {k: v for k, v in scores.items() if k != "B"}, videos, {})
    with pytest.raises(ValueError, match="'C'"):
        evaluate(labels, {**scores, "C": scores["C"][:-1]}, videos, {})
    bad = scores["A"].copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="'A'"):
        evaluate(labels, {**scores, "A": bad}, videos, {})
    with pytest.raises(ValueError, match="gt_span"):
        evaluate(labels, scores, videos, {"gt_span": "clips"})


# --------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------
def test_plots_write_png(worked, tmp_path):
    labels, scores, videos = worked
    two = np.zeros(40, np.uint8)
    two[5:10] = 1
    two[25:30] = 1
    extra = {f"N{i}": np.zeros(30, np.uint8) for i in range(4)}
    labels = {**labels, "D": two, **extra}
    scores = {**scores, "D": two * 0.7 + 0.1, **{k: np.full(30, 0.2) for k in extra}}
    videos = pd.concat(
        [videos, pd.DataFrame({"id": ["D", *extra], "cls": ["Fighting"] + ["Normal"] * 4,
                               "anomalous": [True] + [False] * 4, "fps": 30.0})],
        ignore_index=True,
    )
    rows = choose_videos(labels, videos, n=4)
    assert 3 in rows  # the two-event video D
    assert any(not videos.anomalous[i] for i in rows) and any(videos.anomalous[i] for i in rows)
    path = tmp_path / "plots" / "timelines.png"
    ids = plot_timelines(labels, scores, videos, path, n=6, threshold=0.5, title="demo")
    assert len(ids) == 6 and "D" in ids
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    roc = tmp_path / "roc.png"
    a = plot_roc(labels, scores, roc)
    assert roc.stat().st_size > 1000 and 0.5 < a <= 1.0
    assert not list(tmp_path.rglob("*.tmp"))
