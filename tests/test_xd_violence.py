"""XD-Violence adapter: names and classes, the published list and annotation formats, the
GT length policies against hand computations, and entries with and without videos."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from vadflow.data import annotations as ann
from vadflow.data import xd_violence as xd
from vadflow.data.ucf_crime import DatasetError, VideoEntry

# names as they appear in XDVioDet's lists
TRAIN_VIOLENT = "Bad.Boys.1995__#00-26-51_00-27-53_label_B2-0-0"
TRAIN_NORMAL = "A.Beautiful.Mind.2001__#00-01-45_00-02-50_label_A"
TEST_THREE = "Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6"
TEST_RIOT = "v=S-7rRLrxnVQ__#1_label_B4-0-0"
TEST_NORMAL = "Election.2005__#00-03-35_00-05-05_label_A"
FOREIGN = "/media/peng/Samsung_T5/i3d-features"  # the lists' paths are the producer's machine


# -- names and classes -----------------------------------------------------------------------
@pytest.mark.parametrize("name, code, classes", [
    (TRAIN_NORMAL, "A", ()),
    (TRAIN_VIOLENT, "B2-0-0", ("Shooting",)),
    (TEST_THREE, "G-B2-B6", ("Explosion", "Shooting", "CarAccident")),
    ("Bad.Boys.II.2003__#00-06-42_00-10-00_label_B2-G-0", "B2-G-0", ("Shooting", "Explosion")),
    ("v=l0N5tPaagbc__#1_label_G", "G", ("Explosion",)),  # two training names carry one code, no -0-0
    ("x__#1_label_B5-0-0", "B5-0-0", ("Abuse",)),
    ("x__#1_label_B1-0-0", "B1-0-0", ("Fighting",)),
    ("x__#1_label_B4-0-0", "B4-0-0", ("Riot",)),
])
def test_label_from_name(name, code, classes):
    assert xd.parse_label(name) == (code, classes)
    assert xd.split_classes(xd.join_classes(classes)) == classes


@pytest.mark.parametrize("name, pattern", [
    ("Movie__#1", "no '_label_<codes>' part"),
    ("Movie__#1_label_B3-0-0", r"unknown codes \['B3'\]"),
    ("Movie__#1_label_A-B1-0", "mixes the normal code A"),
    ("Movie__#1_label_B1-B1-0", "repeats a code"),
    ("Movie__#1_label_B1-B2-G-B4", "at most three"),
])
def test_bad_label_names_the_place(name, pattern):
    with pytest.raises(ann.AnnotationError, match=pattern) as err:
        xd.parse_label(name, "rgb.list:7")
    assert "rgb.list:7" in str(err.value) and name in str(err.value)


def test_entry_is_a_video_entry_with_all_classes():
    e = xd.XDVideoEntry(TEST_THREE, f"{TEST_THREE}.mp4", "test", "Explosion", True,
                        classes=("Explosion", "Shooting", "CarAccident"))
    assert isinstance(e, VideoEntry) and e.cls == e.classes[0]
    assert xd.join_classes(e.classes) == "Explosion|Shooting|CarAccident"
    assert xd.split_classes("Normal") == () and xd.join_classes(()) == "Normal"


# -- lists -----------------------------------------------------------------------------------
def crop_lines(folder: str, names: list[str], crops: int = 5) -> str:
    return "".join(f"{FOREIGN}/{folder}/{n}__{k}.npy\n" for n in names for k in range(crops))


def test_feature_list_one_line_per_crop(tmp_path):
    p = tmp_path / "rgb_test.list"
    p.write_text(crop_lines("RGBTest", [TEST_THREE, TEST_RIOT, TEST_NORMAL]))
    assert xd.read_feature_list(p) == [TEST_THREE, TEST_RIOT, TEST_NORMAL]
    audio = tmp_path / "audio_test.list"
    audio.write_text("".join(f"/media/peng/Samsung_T5/vggish-features/test/{n}__vggish.npy\n" for n in (TEST_THREE, TEST_NORMAL)))
    assert xd.read_feature_list(audio) == [TEST_THREE, TEST_NORMAL]
    win = tmp_path / "XD_Test.list"  # UR-DMU's copy: a Windows drive, no trailing newline
    win.write_text(crop_lines("RGBTest", [TEST_RIOT]).replace(FOREIGN, "E:/DLCode/datasets/XD/i3d-features").rstrip("\n"))
    assert xd.read_feature_list(win) == [TEST_RIOT]


@pytest.mark.parametrize("text, line, pattern", [
    (crop_lines("RGB", [TRAIN_VIOLENT]) + f"{FOREIGN}/RGB/{TRAIN_VIOLENT}__4.npy\n", 6, "listed twice"),
    (crop_lines("RGB", [TRAIN_VIOLENT, TRAIN_NORMAL]) + f"{FOREIGN}/RGB/{TRAIN_VIOLENT}__7.npy\n", 11, "listed again after other videos"),
    (crop_lines("RGB", [TRAIN_VIOLENT]) + "just some words\n", 6, "expected a path ending"),
])
def test_malformed_list_names_file_and_line(tmp_path, text, line, pattern):
    p = tmp_path / "rgb.list"
    p.write_text(text)
    with pytest.raises(ann.AnnotationError, match=pattern) as err:
        xd.read_feature_list(p)
    assert f"{p}:{line}:" in str(err.value)


def test_vadclip_csv(tmp_path):
    p = tmp_path / "xd_CLIP_rgb.csv"
    rows = [f"/home/x/XDTrainClipFeatures/{TRAIN_VIOLENT}__{k},B2-0-0" for k in range(10)]
    p.write_text("path,label\n" + "\n".join(r.replace(f"__{k},", f"__{k}.npy,") for k, r in enumerate(rows))
                 + f"\n/home/x/XDTrainClipFeatures/{TRAIN_NORMAL}__0.npy,A\n")
    assert xd.read_vadclip_csv(p) == [(TRAIN_VIOLENT, "B2-0-0"), (TRAIN_NORMAL, "A")]
    p.write_text(f"path,label\n/h/{TRAIN_VIOLENT}__0.npy,B2-0-0\n/h/{TRAIN_VIOLENT}__1.npy,B1-0-0\n")
    with pytest.raises(ann.AnnotationError, match=rf"{p}:3: video .* has label 'B1-0-0' here but 'B2-0-0' on line 2"):
        xd.read_vadclip_csv(p)
    p.write_text(f"file,class\n/h/{TRAIN_VIOLENT}__0.npy,B2-0-0\n")
    with pytest.raises(ann.AnnotationError, match=rf"{p}:1: expected the header 'path,label'"):
        xd.read_vadclip_csv(p)


# -- annotations -----------------------------------------------------------------------------
def test_annotations_both_published_forms(tmp_path):
    p = tmp_path / "annotations.txt"
    # 14 lines of the published file end .mp4; the file ends without a newline
    p.write_text(f"{TEST_RIOT} 0 1517 1970 3038\n{TEST_THREE}.mp4 30 40")
    got = xd.read_annotations(p)
    assert got[TEST_RIOT].events == [(0, 1517), (1970, 3038)] and got[TEST_RIOT].line == 1
    assert got[TEST_THREE].events == [(30, 40)] and got[TEST_THREE].event_classes is None
    m = tmp_path / "annotations_multiclasses.txt"  # VadCLIP: a class code before each event
    m.write_text(f"{TEST_THREE} B2 157 180 G 185 244\n")
    assert xd.read_annotations(m)[TEST_THREE].event_classes == ["Shooting", "Explosion"]
    assert xd.read_annotations(m)[TEST_THREE].events == [(157, 180), (185, 244)]


@pytest.mark.parametrize("line, pattern", [
    (f"{TEST_RIOT} 0 1517 1970", "expected '<name> s1 e1"),
    (f"{TEST_RIOT} 0 x", "expected '<name> s1 e1"),
    (f"{TEST_RIOT} 40 30", "ends before it starts"),
    (f"{TEST_RIOT} B9 1 2", "unknown event class codes"),
    ("Movie_label_Q 1 2", "unknown codes"),
])
def test_malformed_annotation_names_file_and_line(tmp_path, line, pattern):
    p = tmp_path / "annotations.txt"
    p.write_text(f"{TEST_THREE} 1 2\n{line}\n")
    with pytest.raises(ann.AnnotationError, match=pattern) as err:
        xd.read_annotations(p)
    assert f"{p}:2" in str(err.value)


# -- the GT length rule ----------------------------------------------------------------------
def published_rule(n: int, events: list[tuple[int, int]]) -> np.ndarray:
    """XDVioDet list/make_gt.py's steps restated: label [s, e) on all n frames, drop the last
    frame, then drop (n-1) % 16 more."""
    gt = np.zeros(n, np.uint8)
    for s, e in events:
        gt[s:e] = 1
    mod = (n - 1) % 16
    gt = gt[:-1]
    return gt[:-mod] if mod else gt


@pytest.mark.parametrize("n, mod, length", [
    (33, 0, 32),   # 33 - 1 = 32 frames, 32 % 16 = 0: nothing more dropped
    (34, 1, 32),   # 34 - 1 = 33, 33 % 16 = 1: one more dropped -> 32
    (48, 15, 32),  # 48 - 1 = 47, 47 % 16 = 15: fifteen more dropped -> 32
    (49, 0, 48),
    (1000, 7, 992),  # 999 = 62 * 16 + 7 -> 62 snippets
])
def test_gt_length_official_by_hand(n, mod, length):
    assert (n - 1) % 16 == mod
    assert xd.gt_length(n, "xd_official") == length == len(published_rule(n, []))
    assert xd.n_snippets(n, "xd_official") == length // 16
    # the plain policy labels every complete snippet of n frames
    assert xd.gt_length(n, "snippets_x16") == 16 * (n // 16)


def test_tiny_and_unknown_policy():
    assert xd.gt_length(16, "xd_official") == 0 and xd.gt_length(17, "xd_official") == 16
    assert xd.gt_length(0, "xd_official") == 0
    with pytest.raises(ValueError, match="unknown XD-Violence label policy 'ucf'"):
        xd.gt_length(40, "ucf")


@pytest.mark.parametrize("n", [33, 34, 48, 61, 100])
def test_frame_labels_match_the_published_rule(n):
    raw = [(0, 5), (20, 31), (29, n)]  # 0-based start, exclusive end, the last one to the video's end
    events = [(s + 1, e) for s, e in raw]  # the adapter's 1-based inclusive form
    got = xd.frame_labels(events, n, "xd_official", "v")
    np.testing.assert_array_equal(got, published_rule(n, raw))
    # videos: false: the frame count is 16·T and the plain policy gives the same labels
    np.testing.assert_array_equal(xd.frame_labels(events, 16 * xd.n_snippets(n, "xd_official"), "snippets_x16", "v"), got)


def test_frame_labels_by_hand_and_warnings(caplog):
    # 40 frames: 39 % 16 = 7 -> 39 - 7 = 32 labelled; the event 30-40 keeps frames 30 and 31 only
    lab = xd.frame_labels([(1, 5), (31, 40)], 40, "xd_official", "vid1")
    assert lab.tolist() == [1] * 5 + [0] * 25 + [1] * 2 and lab.dtype == np.uint8
    with caplog.at_level(logging.WARNING):
        xd.frame_labels([(1, 5)], 40, "xd_official", "vid1")
        assert not caplog.text
        xd.frame_labels([(1, 45)], 40, "xd_official", "vid2")
        assert "video vid2" in caplog.text and "xd_official" in caplog.text and "beyond its 40 frames" in caplog.text
        caplog.clear()
        # with 16·T frames the video may run up to 16 frames longer: no warning up to there
        xd.frame_labels([(1, 48)], 32, "snippets_x16", "vid3")
        assert not caplog.text
        xd.frame_labels([(1, 49)], 32, "snippets_x16", "vid3")
        assert "video vid3" in caplog.text and "snippets_x16" in caplog.text


def test_length_mismatch_is_a_warning_naming_video_and_policy(caplog):
    assert xd.warn_length_mismatch("v", 32, 2, "xd_official") is None
    with caplog.at_level(logging.WARNING):
        msg = xd.warn_length_mismatch(TEST_RIOT, 32, 3, "xd_official")
    assert msg and TEST_RIOT in caplog.text and "policy xd_official" in caplog.text and "+16" in caplog.text
    assert xd.label_policy(True) == "xd_official" and xd.label_policy(False) == "snippets_x16"


# -- the adapter -----------------------------------------------------------------------------
T = {TRAIN_VIOLENT: 4, TRAIN_NORMAL: 2, TEST_THREE: 3, TEST_RIOT: 2, TEST_NORMAL: 5}


def write_layout(root, videos: bool = False, flow: bool = True):
    """The published layout with small T: lists in list/, features in i3d-features/ and
    vggish-features/, annotations.txt; optionally empty <name>.mp4 files (never decoded here)."""
    lists = root / "list"
    lists.mkdir(parents=True)
    (lists / "rgb.list").write_text(crop_lines("RGB", [TRAIN_VIOLENT, TRAIN_NORMAL]))
    (lists / "rgb_test.list").write_text(crop_lines("RGBTest", [TEST_THREE, TEST_RIOT, TEST_NORMAL]))
    (lists / "annotations.txt").write_text(f"{TEST_THREE}.mp4 0 20 30 40\n{TEST_RIOT} 5 17")
    for split, names in (("RGB", [TRAIN_VIOLENT, TRAIN_NORMAL]), ("RGBTest", [TEST_THREE, TEST_RIOT, TEST_NORMAL])):
        for n in names:
            for k in range(5):
                (root / "i3d-features" / split).mkdir(parents=True, exist_ok=True)
                np.save(root / "i3d-features" / split / f"{n}__{k}.npy", np.zeros((T[n], 1024), np.float32))
                if flow:  # same names, one snippet fewer: must never give T
                    (root / "i3d-features" / split.replace("RGB", "Flow")).mkdir(parents=True, exist_ok=True)
                    np.save(root / "i3d-features" / split.replace("RGB", "Flow") / f"{n}__{k}.npy",
                            np.zeros((T[n] - 1, 1024), np.float32))
    if videos:
        for i, n in enumerate(T):
            (root / "videos" / f"part{i % 2}").mkdir(parents=True, exist_ok=True)
            (root / "videos" / f"part{i % 2}" / f"{n}.mp4").write_bytes(b"")
    return root


def test_entries_without_videos(tmp_path):
    root = write_layout(tmp_path / "xd")
    entries, files = xd.load_entries(root, videos=False)
    by = {e.id: e for e in entries}
    assert [e.id for e in entries] == [TRAIN_VIOLENT, TRAIN_NORMAL, TEST_THREE, TEST_RIOT, TEST_NORMAL]
    assert [e.split for e in entries] == ["train", "train", "test", "test", "test"]
    assert by[TEST_THREE].cls == "Explosion" and by[TEST_THREE].classes == ("Explosion", "Shooting", "CarAccident")
    assert by[TEST_THREE].label_code == "G-B2-B6" and by[TEST_THREE].anomalous
    assert by[TEST_NORMAL].cls == "Normal" and not by[TEST_NORMAL].anomalous and by[TEST_NORMAL].frame_events == []
    assert by[TRAIN_VIOLENT].frame_events is None  # weak labels only
    # annotations.txt's 0-based [s, e) -> the project's 1-based inclusive events
    assert by[TEST_THREE].raw_events == [(0, 20), (30, 40)] and by[TEST_THREE].frame_events == [(1, 20), (31, 40)]
    # frame counts: 16·T of the RGB crop-0 file, not of the flow file beside it
    assert {e.id: e.n_frames_hint for e in entries} == {n: 16 * t for n, t in T.items()}
    assert by[TEST_THREE].n_snippets == 3 and files.features[TEST_THREE].parent.name == "RGBTest"
    assert files.train_list.name == "rgb.list" and files.test_annotation.name == "annotations.txt"
    assert set(files.used()) == {files.train_list, files.test_list, files.test_annotation}
    assert xd.ground_truth_files(root) == sorted(files.used())
    lab = xd.frame_labels(by[TEST_THREE].frame_events, by[TEST_THREE].n_frames_hint, "snippets_x16", TEST_THREE)
    assert lab.tolist() == [1] * 20 + [0] * 10 + [1] * 10 + [0] * 8


def test_entries_with_videos_point_at_them(tmp_path):
    root = write_layout(tmp_path / "xd", videos=True, flow=False)
    entries, files = xd.load_entries(root, videos=True)
    by = {e.id: e for e in entries}
    assert by[TEST_RIOT].relpath.startswith("videos/part") and by[TEST_RIOT].relpath.endswith(f"{TEST_RIOT}.mp4")
    assert all(e.n_frames_hint is None for e in entries)  # the manifest probes the videos
    (root / by[TEST_RIOT].relpath).unlink()
    with pytest.raises(DatasetError, match=rf"1 of 5 listed videos have no <name>.mp4 under .*{TEST_RIOT}"):
        xd.load_entries(root, videos=True)


def test_a_violent_test_video_without_annotation_is_an_error(tmp_path):
    root = write_layout(tmp_path / "xd", flow=False)
    (root / "list" / "annotations.txt").write_text(f"{TEST_THREE} 0 20\n")
    with pytest.raises(DatasetError, match=rf"1 violent test videos have no temporal annotation in .*annotations.txt: {TEST_RIOT}"):
        xd.load_entries(root, videos=False)


def test_missing_feature_leaves_no_hint(tmp_path, caplog):
    root = write_layout(tmp_path / "xd", flow=False)
    (root / "i3d-features" / "RGBTest" / f"{TEST_NORMAL}__0.npy").unlink()
    with caplog.at_level(logging.WARNING):
        entries, _ = xd.load_entries(root, videos=False)
    assert {e.id: e.n_frames_hint for e in entries}[TEST_NORMAL] is None
    assert "1 of 5 videos have no RGB crop-0" in caplog.text and TEST_NORMAL in caplog.text


def test_vggish_gives_t_when_no_rgb(tmp_path):
    root = tmp_path / "xd"
    (root / "vggish-features" / "test").mkdir(parents=True)
    (root / "rgb_test.list").write_text(crop_lines("RGBTest", [TEST_NORMAL]))
    np.save(root / "vggish-features" / "test" / f"{TEST_NORMAL}__vggish.npy", np.zeros((7, 128), np.float32))
    entries, _ = xd.load_entries(root, videos=False)
    assert entries[0].n_frames_hint == 112 and entries[0].split == "test"


def test_list_label_must_agree_with_the_name(tmp_path):
    root = tmp_path / "xd"
    root.mkdir()
    (root / "xd_CLIP_rgbtest.csv").write_text(f"path,label\n/h/{TEST_NORMAL}__0.npy,B1-0-0\n")
    with pytest.raises(DatasetError, match=rf"video {TEST_NORMAL} has label 'B1-0-0', but its name says 'A'"):
        xd.load_entries(root, videos=False)


def test_interleaved_train_list_is_flagged(tmp_path, caplog):
    root = tmp_path / "xd"
    root.mkdir()
    (root / "rgb.list").write_text(crop_lines("RGB", [TRAIN_NORMAL, TRAIN_VIOLENT]))
    with caplog.at_level(logging.WARNING):
        entries, _ = xd.load_entries(root, videos=False)
    assert "interleaved" in caplog.text and [e.anomalous for e in entries] == [False, True]


def test_no_list_is_an_error_with_the_layout(tmp_path):
    (tmp_path / "xd").mkdir()
    with pytest.raises(DatasetError, match="no XD-Violence list") as err:
        xd.load_entries(tmp_path / "xd")
    assert "rgb_test.list" in str(err.value) and "annotations.txt" in str(err.value)


# -- the manifest and the evaluation with videos: XDVioDet's GT length, scores cut with a warning --
#: decoded frame counts whose (n - 1) % 16 is 0, 1 and 15 (the test videos), and two training ones
DECODED = {TEST_THREE: 49, TEST_RIOT: 34, TEST_NORMAL: 48, TRAIN_VIOLENT: 65, TRAIN_NORMAL: 40}


def test_manifest_with_videos_labels_the_official_span(tmp_path, caplog):
    import json

    import pandas as pd

    from vadflow.data.manifest import VideoInfo, build_manifest, read_label_attrs, read_manifest, write_manifest
    from vadflow.jobs.evaluate import evaluate
    from vadflow.stores.scores import write_scores

    root = write_layout(tmp_path / "xd", videos=True, flow=False)

    def probe(path):  # the decoder's facts, without decoding (the files are empty)
        return VideoInfo(DECODED[ann.video_id(path.name)], 24.0, 64, 48, "fake")

    table, labels, facts = build_manifest({"kind": "xd_violence", "root": str(root)}, probe=probe, probe_errors=(OSError,),
                                          progress=False)
    by = table.set_index("id")
    # by hand: n - 1 frames, then (n - 1) % 16 more dropped: 49 -> 48, 34 -> 32, 48 -> 32
    assert {v: int(by.loc[v, "label_frames"]) for v in (TEST_THREE, TEST_RIOT, TEST_NORMAL)} == {TEST_THREE: 48, TEST_RIOT: 32,
                                                                                                  TEST_NORMAL: 32}
    assert {v: len(labels[v]) for v in (TEST_THREE, TEST_RIOT, TEST_NORMAL)} == {TEST_THREE: 48, TEST_RIOT: 32, TEST_NORMAL: 32}
    assert int(by.loc[TEST_THREE, "frames"]) == 49 and facts["label_policy"] == "xd_official"
    # annotations.txt: TEST_THREE 0 20 30 40, TEST_RIOT 5 17 ([s, e) frames)
    assert labels[TEST_THREE].tolist() == [1] * 20 + [0] * 10 + [1] * 10 + [0] * 8
    assert labels[TEST_RIOT].tolist() == [0] * 5 + [1] * 12 + [0] * 15
    assert by.loc[TEST_THREE, "classes"] == "Explosion|Shooting|CarAccident" and by.loc[TEST_THREE, "cls"] == "Explosion"
    assert TRAIN_VIOLENT not in labels  # weak labels only
    man, lab = tmp_path / "manifest.csv", tmp_path / "labels.h5"
    write_manifest(table, labels, man, lab, attrs={"kind": "xd_violence", "label_policy": facts["label_policy"]})
    assert read_label_attrs(lab) == {"kind": "xd_violence", "label_policy": "xd_official"}
    assert read_manifest(man).set_index("id").loc[TEST_RIOT, "label_frames"] == 32

    # a method scores every decoded frame; the evaluation keeps the labelled span and says so per video
    rng = np.random.default_rng(3)
    scores = {v: rng.random(DECODED[v]) for v in (TEST_THREE, TEST_RIOT, TEST_NORMAL)}
    write_scores(tmp_path / "scores.h5", scores, attrs={"method": "m", "main_set": "main", "left_out": "{}"})
    out = {k: tmp_path / f"{k}.csv" for k in ("auc", "f1", "per_video", "per_class")}
    with caplog.at_level(logging.WARNING):
        evaluate({}, "m", str(man), str(lab), str(tmp_path / "scores.h5"), str(out["auc"]), str(out["f1"]),
                 str(out["per_video"]), str(out["per_class"]), str(tmp_path / "evaluation.json"), str(tmp_path / "t.png"))
    for vid, n, m in ((TEST_THREE, 49, 48), (TEST_RIOT, 34, 32), (TEST_NORMAL, 48, 32)):
        assert f"video {vid}: {n} frame scores, the labels (policy xd_official) cover {m} frames" in caplog.text
    doc = json.loads((tmp_path / "evaluation.json").read_text())
    assert doc["scores_cut"] == {TEST_THREE: 1, TEST_RIOT: 2, TEST_NORMAL: 16} and doc["label_policy"] == "xd_official"
    from sklearn.metrics import auc as trapz, average_precision_score, precision_recall_curve, roc_auc_score

    ids = [TEST_THREE, TEST_RIOT, TEST_NORMAL]  # manifest order
    gt = np.concatenate([labels[v] for v in ids])
    sc = np.concatenate([scores[v][: len(labels[v])] for v in ids])
    p, r, _ = precision_recall_curve(gt, sc)
    row = pd.read_csv(out["auc"]).iloc[0]
    assert row["auc"] == pytest.approx(roc_auc_score(gt, sc), abs=1e-6) and row["n_frames"] == 112
    assert row["ap"] == pytest.approx(average_precision_score(gt, sc), abs=1e-6)
    assert row["ap_trapz"] == pytest.approx(trapz(r, p), abs=1e-6) and row["headline_metric"] == "ap_trapz"
    per_class = pd.read_csv(out["per_class"]).set_index("cls")
    # the three-label video counts in each of its classes; Riot holds the other violent video
    assert sorted(per_class.index) == ["CarAccident", "Explosion", "Riot", "Shooting"]
    assert per_class.loc["Shooting", "n_multi"] == 1 and per_class.loc["Riot", "n_multi"] == 0
    assert (per_class["n_normal_videos"] == 1).all()
