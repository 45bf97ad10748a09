"""The field's metrics against hand computations: step-wise vs trapezoid AP (they differ),
AUC_A, the false-alarm rate on normal videos, per-class counting of a multi-class video."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from vadflow.evaluation import field_metrics as fm


def test_two_aps_on_a_tie_by_hand():
    gt = np.array([1, 0, 1, 1, 0, 0])
    sc = np.array([0.9, 0.8, 0.8, 0.3, 0.3, 0.1])  # two ties, each holding a positive and a negative
    # thresholds 0.9, 0.8, 0.3, 0.1 give (R, P) = (1/3, 1), (2/3, 2/3), (1, 3/5), (1, 1/2)
    # step-wise: sum (R_n - R_{n-1}) P_n = 1/3·1 + 1/3·2/3 + 1/3·3/5 = 34/45
    assert fm.ap_stepwise(gt, sc) == pytest.approx(34 / 45)
    # trapezoid from the appended (R 0, P 1): 1/3·(1+1)/2 + 1/3·(1+2/3)/2 + 1/3·(2/3+3/5)/2 + 0 = 37/45
    assert fm.ap_trapezoid(gt, sc) == pytest.approx(37 / 45)


def test_trapezoid_end_point_when_the_top_frame_is_negative():
    gt, sc = np.array([0, 1]), np.array([0.9, 0.1])
    # step-wise: the one positive is found at precision 1/2 -> 1/2
    assert fm.ap_stepwise(gt, sc) == pytest.approx(0.5)
    # curve (0, 1) -> (0, 0) -> (1, 1/2): the vertical drop has no width, then (0 + 1/2)/2 = 1/4
    assert fm.ap_trapezoid(gt, sc) == pytest.approx(0.25)


def test_snippet_scores_repeat_sixteen_times():
    frames = fm.snippet_scores_to_frames(np.array([0.2, 0.9]))
    assert frames.shape == (32,) and (frames[:16] == 0.2).all() and (frames[16:] == 0.9).all()
    np.testing.assert_array_equal(frames, np.repeat([0.2, 0.9], 16))


# three videos: two anomalous, one normal
LABELS = [np.array([0, 0, 1, 1]), np.array([1, 0]), np.array([0, 0, 0])]
SCORES = [np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.6, 0.2]), np.array([0.9, 0.5, 0.49])]
ANOMALOUS = [True, True, False]


def test_auc_of_anomalous_videos_only_by_hand():
    got = fm.anomalous_only(LABELS, SCORES, ANOMALOUS)
    # positives 0.35, 0.8, 0.6 against negatives 0.1, 0.4, 0.2: 2 + 3 + 3 of 9 pairs
    assert got["auc_a"] == pytest.approx(8 / 9) and got["n_frames_a"] == 6
    # sorted: 0.8+, 0.6+, 0.4-, 0.35+, 0.2-, 0.1-: step AP = 1/3·(1 + 1 + 3/4)
    assert got["ap_a"] == pytest.approx(11 / 12)
    # every video: normal frames 0.9, 0.5, 0.49 join the negatives: 2 + 5 + 5 of 18 pairs
    row = fm.field_metrics(LABELS, SCORES, ANOMALOUS)
    assert row["auc"] == pytest.approx(2 / 3) and row["auc_a"] == pytest.approx(8 / 9)
    assert row["n_frames"] == 9 and row["n_videos"] == 3


def test_false_alarm_rate_on_normal_videos_by_hand():
    # normal frames 0.9, 0.5, 0.49: at >= 0.5 two of three fire (PEL4VAD), at > 0.5 one (MIST-style)
    assert fm.false_alarm_rate(SCORES, ANOMALOUS) == pytest.approx(2 / 3)
    assert fm.false_alarm_rate(SCORES, ANOMALOUS, comparison=">") == pytest.approx(1 / 3)
    assert fm.field_metrics(LABELS, SCORES, ANOMALOUS)["far"] == pytest.approx(2 / 3)
    assert np.isnan(fm.false_alarm_rate(SCORES, [True, True, True]))
    with pytest.raises(ValueError, match="comparison"):
        fm.false_alarm_rate(SCORES, ANOMALOUS, comparison="=>")


def test_a_three_class_video_counts_in_each_class():
    labels = [np.array([1, 1, 0, 0]), np.array([0, 1]), np.array([1, 0]), np.array([0, 0])]
    scores = [np.array([0.9, 0.7, 0.2, 0.6]), np.array([0.3, 0.95]), np.array([0.4, 0.5]), np.array([0.8, 0.1])]
    classes = ["Explosion|Shooting|CarAccident", "Shooting", ("Riot",), "Normal"]
    table = fm.per_class_metrics(classes, [True, True, True, False], labels, scores).set_index("cls")
    assert list(table.index) == ["CarAccident", "Explosion", "Riot", "Shooting"]
    assert table["n_videos"].to_dict() == {"CarAccident": 1, "Explosion": 1, "Riot": 1, "Shooting": 2}
    assert table["n_multi"].to_dict() == {"CarAccident": 1, "Explosion": 1, "Riot": 0, "Shooting": 1}
    assert (table["n_normal_videos"] == 1).all()
    # Explosion: the three-class video plus the normal one. Positives 0.9, 0.7 against 0.2, 0.6, 0.8, 0.1:
    # AUC (4 + 3)/8; sorted 0.9+ 0.8- 0.7+ ...: step AP (1 + 2/3)/2; trapezoid 1/2·1 + 1/2·(1/2 + 2/3)/2
    for c in ("Explosion", "CarAccident"):
        assert table.loc[c, "auc"] == pytest.approx(7 / 8)
        assert table.loc[c, "ap"] == pytest.approx(5 / 6)
        assert table.loc[c, "ap_trapz"] == pytest.approx(19 / 24)
        assert table.loc[c, "n_frames"] == 6 and table.loc[c, "n_positive_frames"] == 2
    # Shooting pools both of its videos with the normal one
    gt = np.concatenate([labels[0], labels[1], labels[3]])
    sc = np.concatenate([scores[0], scores[1], scores[3]])
    assert table.loc["Shooting", "auc"] == pytest.approx(roc_auc_score(gt, sc))
    assert table.loc["Shooting", "ap"] == pytest.approx(average_precision_score(gt, sc))
    assert table.loc["Shooting", "n_frames"] == 8


def test_per_class_with_ucf_names_and_degenerate_pools():
    labels = [np.array([1, 1]), np.array([0, 1]), np.array([0, 0])]
    scores = [np.array([0.9, 0.1]), np.array([0.2, 0.8]), np.array([0.3, 0.4])]
    table = fm.per_class_metrics(["Abuse", "Arson", "Normal"], [True, True, False], labels, scores).set_index("cls")
    assert table.loc["Abuse", "auc"] == pytest.approx(0.5)  # 0.9 beats both normal frames, 0.1 neither
    # without normal videos a class of all-positive frames has one label only: NaN, not an error
    alone = fm.per_class_metrics(["Abuse"], [True], [np.array([1, 1])], [np.array([0.2, 0.3])])
    assert np.isnan(alone.loc[0, "auc"]) and np.isnan(alone.loc[0, "ap"])
    with pytest.raises(ValueError, match="one of each per video"):
        fm.per_class_metrics(["Abuse"], [True, False], labels[:2], scores[:2])


def test_single_label_pools_are_errors():
    with pytest.raises(ValueError, match="needs both anomalous and normal frames"):
        fm.ap_trapezoid(np.zeros(4), np.arange(4.0))
    assert np.isnan(fm.anomalous_only(LABELS, SCORES, [False, False, False])["auc_a"])


def test_the_evaluate_table_holds_both_aps_and_the_headline():
    """The tie example above, as one anomalous and one normal video, through the evaluate job's
    table: ap (step-wise) 34/45 and ap_trapz (the papers') 37/45; XD-Violence's headline is the
    trapezoid one, UCF-Crime's the AUC."""
    import pandas as pd

    from vadflow.evaluation.tables import evaluate, headline_metric

    labels = {"a": np.array([1, 0, 1, 1]), "n": np.array([0, 0])}
    scores = {"a": np.array([0.9, 0.8, 0.8, 0.3]), "n": np.array([0.3, 0.1])}
    videos = pd.DataFrame({"id": ["a", "n"], "cls": ["Explosion", "Normal"], "anomalous": [True, False],
                           "classes": ["Explosion|Shooting", "Normal"]})
    assert headline_metric("xd_violence") == "ap_trapz" and headline_metric("ucf_crime") == headline_metric("synthetic") == "auc"
    out = evaluate(labels, scores, videos, headline=headline_metric("xd_violence"))
    row = out["auc"].iloc[0]
    assert row["ap"] == pytest.approx(34 / 45) and row["ap_trapz"] == pytest.approx(37 / 45) == row["pr_auc_trapz"]
    assert row["headline_metric"] == "ap_trapz" and row["headline_value"] == pytest.approx(37 / 45)
    # AUC_A over video a: positives 0.9, 0.8, 0.3 against the negative 0.8: (1 + 1/2 + 0) / 3
    assert row["auc_a"] == pytest.approx(1 / 2)
    # its step AP: 0.9+ (P 1), the 0.8 tie (P 2/3 at R 2/3), 0.3+ (P 3/4): (1 + 2/3 + 3/4) / 3
    assert row["ap_a"] == pytest.approx(29 / 36)
    assert row["far"] == 0.0  # normal frames 0.3, 0.1 are below 0.5
    # the two-class video counts in both classes, each pooled with the normal video
    pc = out["per_class"].set_index("cls")
    assert list(pc.index) == ["Explosion", "Shooting"] and (pc["n_videos"] == 1).all() and (pc["n_multi"] == 1).all()
    assert pc.loc["Shooting", "ap_trapz"] == pytest.approx(37 / 45)
