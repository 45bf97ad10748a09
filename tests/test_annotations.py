"""Parsers on the real public UCF-Crime files, and frame-label construction."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from vadflow.data import annotations as ann

TEST_COUNTS = {"Abuse": 2, "Arrest": 5, "Arson": 9, "Assault": 3, "Burglary": 13, "Explosion": 21, "Fighting": 5,
               "RoadAccidents": 23, "Robbery": 5, "Shooting": 23, "Shoplifting": 21, "Stealing": 5, "Vandalism": 5, "Normal": 150}
TRAIN_COUNTS = {"Abuse": 48, "Arrest": 45, "Arson": 41, "Assault": 47, "Burglary": 87, "Explosion": 29, "Fighting": 45,
                "RoadAccidents": 127, "Robbery": 145, "Shooting": 27, "Shoplifting": 29, "Stealing": 95, "Vandalism": 45,
                "Training_Normal_Videos_Anomaly": 800}


def test_test_annotation_counts(fixtures_dir):
    rows = ann.read_temporal_annotation(fixtures_dir / "Temporal_Anomaly_Annotation.txt")
    assert len(rows) == 290
    assert Counter(r.cls for r in rows.values()) == TEST_COUNTS
    assert sum(len(r.events) for r in rows.values()) == 156
    assert sum(len(r.events) == 2 for r in rows.values()) == 16
    assert rows["Arson011_x264"].events == [(150, 420), (680, 1267)]
    assert rows["Normal_Videos_003_x264"].events == []
    assert rows["Burglary035_x264"].events[0][0] == 1  # the smallest start: the file is 1-based


def test_with_frames_form_agrees(fixtures_dir):
    plain = ann.read_temporal_annotation(fixtures_dir / "Temporal_Anomaly_Annotation.txt")
    framed = ann.read_temporal_annotation(fixtures_dir / "Test_Annotation_with_frames.txt")
    assert framed.keys() == plain.keys()
    assert all(framed[k].events == plain[k].events and framed[k].cls == plain[k].cls for k in plain)
    assert framed["Arson022_x264"].n_frames == 8640 and framed["Arson022_x264"].relpath == "Arson/Arson022_x264.mp4"
    counts = ann.read_frame_counts(fixtures_dir / "Train_Annotation_with_frames.txt")
    assert len(counts) == 1610 and counts["Vandalism048_x264"] == 7183


def test_train_list_counts(fixtures_dir):
    rows = ann.read_split_list(fixtures_dir / "Anomaly_Train.txt")
    assert len(rows) == 1610
    assert Counter(r.split("/")[0] for r in rows) == TRAIN_COUNTS
    # The public file is not anomalous-first (normals start at line 766, docs/datasets.md §1.2),
    # so labels must come from folder names, never from positions.
    assert sum(not r.startswith("Training_Normal") for r in rows) == 810
    assert rows[765].startswith("Training_Normal") and not rows[-1].startswith("Training_Normal")


def test_missing_mp4_suffix_and_bad_line(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("Arson011_x264  Arson  150  420  680  1267  \n")
    assert ann.read_temporal_annotation(p)["Arson011_x264"].events == [(150, 420), (680, 1267)]
    p.write_text("Arson011_x264.mp4  Arson  150\n")
    with pytest.raises(ann.AnnotationError, match=r"a.txt:1"):
        ann.read_temporal_annotation(p)


def test_frame_base_one_based_inclusive():
    # "5 24" of a 26-frame video is frames [4, 24) 0-based (metrics.md §10, video A).
    lab = ann.frame_labels(ann.frame_events([(5, 24)], 26), 26)
    assert lab.tolist() == [0] * 4 + [1] * 20 + [0] * 2
    # The smallest public start (1) is frame 0; an end past N is clamped (Shooting015: 1715 of 1713).
    lab = ann.frame_labels(ann.frame_events([(1, 3), (1710, 1715)], 1713), 1713)
    assert lab[:3].tolist() == [1, 1, 1] and lab[3] == 0
    assert lab[1709:].tolist() == [1, 1, 1, 1] and lab[1708] == 0 and lab.sum() == 7


def test_second_events_floor_rule(tmp_path):
    assert ann.second_events([(8, 10), (33, 36)], 30.0, 2000) == [(240, 300), (990, 1080)]
    assert ann.second_events([(8, 10)], 30.0, 2000, end_inclusive=True) == [(240, 330)]
    assert ann.second_events([(5, 5), (7, 3)], 30.0, 2000) == []
    p = tmp_path / "train.json"
    p.write_text(json.dumps({"Abuse/Abuse001_x264.mp4": [{"start": 8, "end": 10}]}))
    assert ann.read_v2_json(p) == {"Abuse001_x264": ("Abuse/Abuse001_x264.mp4", [(8.0, 10.0)])}


def test_normal_labels_all_zero():
    assert not ann.frame_labels(ann.frame_events([], 50), 50).any()
    assert ann.frame_labels([], 7).dtype == np.uint8
