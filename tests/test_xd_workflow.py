"""End to end through Snakemake on XD-Violence's public feature sets, no video: files in the
published layouts and shapes (I3D RGB and flow [T, 1024] x 5 crops, VGGish [T, 128], VadCLIP
CLIP [T, 512] x 10 crops, CLIP-TSA [T, 512]) with small T, written here; MIL and ADNet train and
score on each, crops: all against crops: mean, RGB + flow + audio joined per snippet, and the
field's metrics with XD-Violence's headline AP."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import auc as trapz
from sklearn.metrics import average_precision_score, precision_recall_curve

from test_workflow import planned_jobs, snakemake, write_config

pytestmark = pytest.mark.e2e

FOREIGN = "/media/peng/Samsung_T5"  # the published lists' paths: the producer's machine
#: (name, split, T): violent videos first in each list, as published; one test name with three labels
VIDEOS = [
    ("Bad.Boys.1995__#00-26-51_00-27-53_label_B2-0-0", "train", 7),
    ("Brave.Heart.1995__#01-05-10_01-06-00_label_B1-0-0", "train", 6),
    ("v=8cTqh9tMz_I__#1_label_B4-0-0", "train", 8),
    ("v=l0N5tPaagbc__#1_label_G", "train", 5),
    ("A.Beautiful.Mind.2001__#00-01-45_00-02-50_label_A", "train", 6),
    ("Election.2005__#00-00-00_00-01-00_label_A", "train", 7),
    ("v=aaaaaaaaaaa__#1_label_A", "train", 5),
    ("v=bbbbbbbbbbb__#1_label_A", "train", 8),
    ("Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6", "test", 8),
    ("v=S-7rRLrxnVQ__#1_label_B4-0-0", "test", 6),
    ("Troy.2004__#00-10-00_00-11-00_label_B1-0-0", "test", 7),
    ("Election.2005__#00-03-35_00-05-05_label_A", "test", 6),
    ("v=ccccccccccc__#1_label_A", "test", 5),
]
THREE = "Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6"
#: annotations.txt: 0-based start, exclusive end (XDVioDet), one name with XDVioDet's .mp4 suffix
EVENTS = {THREE: [(16, 64), (96, 120)], "v=S-7rRLrxnVQ__#1_label_B4-0-0": [(0, 40)],
          "Troy.2004__#00-10-00_00-11-00_label_B1-0-0": [(32, 80)]}


def violent(name: str) -> bool:
    return not name.endswith("_label_A")


def snippet_labels(name: str, t: int) -> np.ndarray:
    """Which snippets carry violence: the annotated ones for test videos, the middle third of a
    violent training video (weak labels only: the workflow never sees this)."""
    lab = np.zeros(t, bool)
    for s, e in EVENTS.get(name, []):
        lab[s // 16:(e + 15) // 16] = True
    if violent(name) and name not in EVENTS:
        lab[t // 3: 2 * t // 3 + 1] = True
    return lab


def write_xd(root, rng) -> dict:
    """XDVioDet's list/, i3d-features/{RGB,RGBTest,Flow,FlowTest}, vggish-features/{train,test},
    VadCLIP's XD{Train,Test}ClipFeatures/ and CLIP-TSA's features/{train,test}/{abnormal,normal}/."""
    lists = root / "list"
    lists.mkdir(parents=True)
    for split, fname, folder in (("train", "rgb.list", "RGB"), ("test", "rgb_test.list", "RGBTest")):
        (lists / fname).write_text("".join(f"{FOREIGN}/i3d-features/{folder}/{n}__{k}.npy\n"
                                           for n, s, _ in VIDEOS if s == split for k in range(5)))
    (lists / "annotations.txt").write_text("\n".join(
        f"{n}{'.mp4' if n == THREE else ''} " + " ".join(f"{s} {e}" for s, e in ev) for n, ev in EVENTS.items()))
    raw = {}
    for name, split, t in VIDEOS:
        up = snippet_labels(name, t)[:, None].astype(np.float32)
        rgb = rng.normal(size=(5, t, 1024)).astype(np.float32) + 1.5 * up
        flow = rng.normal(size=(5, t - 1, 1024)).astype(np.float32) + up[: t - 1]  # one snippet fewer, as published
        audio = rng.normal(size=(t, 128)).astype(np.float32) + up
        # VadCLIP's normal videos hold one snippet more than the I3D files (docs/datasets_xd_violence.md §4)
        clip = rng.normal(size=(10, t + (not violent(name)), 512)).astype(np.float32)
        clip[:, :t] += up
        tsa = rng.normal(size=(t, 512)).astype(np.float32) + up
        raw[name] = {"rgb": rgb, "clip": clip}
        i3d = "RGB" if split == "train" else "RGBTest"
        for folder, x in ((i3d, rgb), (i3d.replace("RGB", "Flow"), flow)):
            (root / "i3d-features" / folder).mkdir(parents=True, exist_ok=True)
            for k in range(5):
                np.save(root / "i3d-features" / folder / f"{name}__{k}.npy", x[k])
        for path, x in ((root / "vggish-features" / split / f"{name}__vggish.npy", audio),
                        (root / "CLIP-TSA" / "features" / split / ("abnormal" if violent(name) else "normal") / f"{name}.npy", tsa)):
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, x)
        folder = root / "VadCLIP" / ("XDTrainClipFeatures" if split == "train" else "XDTestClipFeatures")
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(10):
            np.save(folder / f"{name}__{k}.npy", clip[k])
    return raw


MIL = {"kind": "mil", "iterations": 40, "batch_anomalous": 2, "batch_normal": 2, "device": "cpu", "hidden": [32, 8]}
ADNET = {"kind": "adnet", "train_labels": "video_level", "window": 8, "stages": 2, "layers": 3, "channels": 16, "epochs": 3,
         "device": "cpu"}


def config(root) -> dict:
    i3d, p = str(root / "i3d-features"), str(root)
    return {
        "dataset": "xd",
        "datasets": {"xd": {"kind": "xd_violence", "root": p, "videos": False}},
        "features": {
            "rgb": {"source": "import", "format": "xd_i3d", "path": i3d, "crops": "all"},
            "rgb_mean": {"source": "import", "format": "xd_i3d", "path": i3d},
            "flow": {"source": "import", "format": "xd_flow", "path": i3d, "crops": "all"},
            "audio": {"source": "import", "format": "xd_vggish", "path": str(root / "vggish-features")},
            "av": {"source": "concat", "inputs": ["rgb", "flow", "audio"]},
            "clip": {"source": "import", "format": "vadclip", "path": str(root / "VadCLIP"), "crops": "all", "score_crop": 0},
            "tsa": {"source": "import", "format": "cliptsa", "path": str(root / "CLIP-TSA")},
        },
        "methods": {
            "mil": {**MIL, "features": "rgb"},
            "mil_mean": {**MIL, "features": "rgb_mean"},
            "mil_av": {**MIL, "features": "av"},
            "mil_clip": {**MIL, "features": "clip"},
            "mil_tsa": {**MIL, "features": "tsa"},
            "adnet_av": {**ADNET, "features": "av"},
            "adnet_tsa": {**ADNET, "features": "tsa"},
        },
    }


@pytest.fixture(scope="module")
def xd_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("xd_wf")
    raw = write_xd(wd / "XD-Violence", np.random.default_rng(22))
    write_config(wd, config(wd / "XD-Violence"))
    snakemake(wd, "results/xd/summary.csv")
    return wd, raw


def results(wd, *parts):
    return wd.joinpath("results", "xd", *parts)


def test_manifest_from_the_lists_and_names(xd_run):
    wd, _ = xd_run
    man = pd.read_csv(results(wd, "manifest.csv"), keep_default_na=False).set_index("id")
    assert list(man.index) == [n for n, _, _ in VIDEOS] and (man["status"] == "ok").all()
    assert {n: man.loc[n, "frames"] for n, _, _ in VIDEOS} == {n: 16 * t for n, _, t in VIDEOS}  # 16·T of RGB crop 0
    assert man.loc[THREE, "classes"] == "Explosion|Shooting|CarAccident" and man.loc[THREE, "cls"] == "Explosion"
    assert man.loc["v=l0N5tPaagbc__#1_label_G", "classes"] == "Explosion"
    assert (man["fps"] == 24.0).all() and (man["label_frames"] == man["frames"]).all()
    with h5py.File(results(wd, "labels.h5")) as f:
        assert f.attrs["label_policy"] == "snippets_x16" and f.attrs["kind"] == "xd_violence"
        lab = f[THREE][()]
    assert lab.shape == (128,) and lab[16:64].all() and lab[96:120].all() and lab.sum() == 48 + 24


def test_crops_stored_once_and_trained_on_five_times_the_samples(xd_run):
    wd, raw = xd_run
    with h5py.File(results(wd, "features", "rgb.h5")) as f, h5py.File(results(wd, "features", "rgb_mean.h5")) as g:
        ds = f[THREE]
        assert ds.shape == (5, 8, 1024) and ds.attrs["n_crops"] == 5 and f.attrs["crop_reduce"] == "all"
        np.testing.assert_array_equal(ds[()], raw[THREE]["rgb"])
        assert g[THREE].shape == (8, 1024)
    from vadflow.methods import load_method

    all_model, mean_model = load_method(results(wd, "mil", "model.pt")), load_method(results(wd, "mil_mean", "model.pt"))
    n_train = sum(s == "train" for _, s, _ in VIDEOS)
    assert mean_model.origin["crops"]["train_samples"] == n_train == 8
    assert all_model.origin["crops"]["train_samples"] == 5 * n_train == 40
    with h5py.File(results(wd, "mil", "scores.h5")) as f:
        assert "training on each of the 5 crops" in f.attrs["crops"] and "the mean of the crops' frame scores" in f.attrs["crops"]
        got = {v: f[v][()] for v in f}
    # the scores are the mean of the per-crop scores, each crop scored by the trained model alone
    from vadflow.methods.base import VideoData

    for name, split, t in VIDEOS:
        if split != "test":
            continue
        per_crop = [all_model.score(VideoData(id=name, features=raw[name]["rgb"][k], n_frames=16 * t, clip_len=16, stride=16,
                                              anomalous=violent(name))) for k in range(5)]
        np.testing.assert_allclose(got[name], np.mean(per_crop, axis=0), rtol=1e-5, atol=1e-6)


def test_vadclip_scores_its_named_crop_and_warns_of_the_longer_normal_files(xd_run):
    wd, raw = xd_run
    from vadflow.methods import load_method
    from vadflow.methods.base import VideoData

    model = load_method(results(wd, "mil_clip", "model.pt"))
    assert model.origin["crops"]["train_samples"] == 10 * 8  # ten CLIP crops per training video
    with h5py.File(results(wd, "mil_clip", "scores.h5")) as f:
        assert "crop 0 alone (score_crop)" in f.attrs["crops"]
        name = "Troy.2004__#00-10-00_00-11-00_label_B1-0-0"
        want = model.score(VideoData(id=name, features=raw[name]["clip"][0], n_frames=16 * 7, clip_len=16, stride=16, anomalous=True))
        np.testing.assert_allclose(f[name][()], want, rtol=1e-5, atol=1e-6)
    log = (wd / "logs" / "xd" / "features" / "clip" / "merge.log").read_text()
    normal = "Election.2005__#00-03-35_00-05-05_label_A"
    # VadCLIP's normal file has T+1 snippets against 16·T labelled frames: named, with the policy
    assert f"video {normal}: " in log and "(policy snippets_x16) cover 96 frames (+16)" in log


def test_audio_visual_rows_joined_per_snippet(xd_run):
    wd, raw = xd_run
    with h5py.File(results(wd, "features", "av.h5")) as f:
        ds = f[THREE]
        # 5 crops, T - 1 = 7 snippets (flow has one fewer; truncate), 1024 + 1024 + 128
        assert ds.shape == (5, 7, 2176) and json.loads(ds.attrs["rows_in"]) == {"rgb": 8, "flow": 7, "audio": 8}
        np.testing.assert_array_equal(ds[2, :, :1024], raw[THREE]["rgb"][2, :7])
        assert "lengths aligned by truncate" in f.attrs["alignment"] and "(13 of 13 videos differed)" in f.attrs["alignment"]
    for method in ("mil_av", "adnet_av"):
        doc = json.loads(results(wd, method, "evaluation.json").read_text())
        assert "rgb (xd_i3d) + flow (xd_flow) + audio (xd_vggish)" in doc["provenance"]["feature_alignment"]


def test_the_fields_metrics_with_xd_violences_headline(xd_run):
    wd, _ = xd_run
    test = [n for n, s, _ in VIDEOS if s == "test"]
    with h5py.File(results(wd, "labels.h5")) as f:
        gt = np.concatenate([f[v][()] for v in test])
    rows = {}
    for method in ("mil", "mil_mean", "mil_av", "mil_clip", "mil_tsa", "adnet_av", "adnet_tsa"):
        row = pd.read_csv(results(wd, f"{method}_auc.csv")).iloc[0]
        with h5py.File(results(wd, method, "scores.h5")) as f:
            sc = np.concatenate([f[v][()] for v in test])
        p, r, _ = precision_recall_curve(gt, sc)
        # both APs recomputed here from the scores and labels files
        assert row["ap"] == pytest.approx(average_precision_score(gt, sc), abs=1e-5)
        assert row["ap_trapz"] == pytest.approx(trapz(r, p), abs=1e-5) and row["ap"] != row["ap_trapz"]
        assert row["headline_metric"] == "ap_trapz" and row["headline_value"] == row["ap_trapz"]
        assert 0 <= row["auc_a"] <= 1 and 0 <= row["far"] <= 1 and row["n_videos"] == 5 and row["n_frames"] == 16 * 32
        rows[method] = row
        per_class = pd.read_csv(results(wd, method, "per_class.csv")).set_index("cls")
        assert sorted(per_class.index) == ["CarAccident", "Explosion", "Fighting", "Riot", "Shooting"]
        assert per_class.loc["Shooting", "n_multi"] == 1 and per_class.loc["Fighting", "n_videos"] == 1
    summary = pd.read_csv(results(wd, "summary.csv"), keep_default_na=False)
    head = summary[summary["metric"] == "headline:ap_trapz"].set_index("method")["value"].astype(float)
    assert sorted(head.index) == sorted(rows) and all(head[m] == pytest.approx(rows[m]["ap_trapz"], abs=1e-6) for m in rows)
    html = results(wd, "report.html").read_text()
    assert "Headline metric of this dataset: frame AP as the trapezoid area" in html and "VadCLIP" in html
    print({m: {k: round(float(r[k]), 4) for k in ("auc", "ap", "ap_trapz", "auc_a", "far")} for m, r in rows.items()})


def test_nothing_to_redo(xd_run):
    wd, _ = xd_run
    assert planned_jobs(wd, "results/xd/summary.csv") == {}


# -- with videos: the same adapter finds <name>.mp4, extraction runs, the official GT span is kept --
#: decoded frames per video: the test videos' (n - 1) % 16 are 0, 1 and 15 (labels 48, 32 and 32 frames)
DECODED = {"Bad.Boys.1995__#00-26-51_00-27-53_label_B2-0-0": 56, "v=l0N5tPaagbc__#1_label_G": 65,
           "A.Beautiful.Mind.2001__#00-01-45_00-02-50_label_A": 40, "v=aaaaaaaaaaa__#1_label_A": 49,
           THREE: 49, "v=S-7rRLrxnVQ__#1_label_B4-0-0": 34, "Election.2005__#00-03-35_00-05-05_label_A": 48}


@pytest.fixture(scope="module")
def xd_videos(tmp_path_factory):
    from conftest import write_mp4

    wd = tmp_path_factory.mktemp("xd_videos")
    root = wd / "XD-Violence"
    (root / "list").mkdir(parents=True)
    names = [(n, s) for n, s, _ in VIDEOS if n in DECODED]
    for split, fname, folder in (("train", "rgb.list", "RGB"), ("test", "rgb_test.list", "RGBTest")):
        (root / "list" / fname).write_text("".join(f"{FOREIGN}/i3d-features/{folder}/{n}__{k}.npy\n"
                                                   for n, s in names if s == split for k in range(5)))
    events = {THREE: [(16, 40)], "v=S-7rRLrxnVQ__#1_label_B4-0-0": [(0, 20)]}
    (root / "list" / "annotations.txt").write_text("\n".join(f"{n} " + " ".join(f"{s} {e}" for s, e in ev) for n, ev in events.items()))
    for i, (name, split) in enumerate(names):
        n = DECODED[name]
        frames = np.full((n, 48, 64, 3), 90, np.uint8)
        moving = np.zeros(n, bool)
        for s, e in events.get(name, [(n // 3, 2 * n // 3)] if violent(name) else []):
            moving[s:e] = True
        for j in np.flatnonzero(moving):  # a bright square running across: motion where the violence is
            x = (j * 7) % 48
            frames[j, 12:30, x:x + 16] = 230
        write_mp4(root / "videos" / f"part{i % 2}" / f"{name}.mp4", frames, fps=24)
    write_config(wd, {"dataset": "xd", "datasets": {"xd": {"kind": "xd_violence", "root": str(root)}},
                      "features": {"flow": {"backbone": "flow", "resize": 48, "shards": 1}},
                      "methods": {"mil": {**MIL, "features": "flow"}, "adnet": {**ADNET, "features": "flow"}}})
    snakemake(wd, "results/xd/summary.csv")
    return wd, events


def test_with_videos_the_official_gt_span_and_the_cut_scores(xd_videos):
    wd, _ = xd_videos
    man = pd.read_csv(results(wd, "manifest.csv"), keep_default_na=False).set_index("id")
    assert {n: int(man.loc[n, "frames"]) for n in DECODED} == DECODED and (man["fps"] == 24.0).all()
    # 16·floor((n - 1) / 16): 49 -> 48, 34 -> 32, 48 -> 32 (and 56 -> 48, 65 -> 64, 40 -> 32)
    assert {n: int(man.loc[n, "label_frames"]) for n in DECODED} == {n: 16 * ((d - 1) // 16) for n, d in DECODED.items()}
    test = [n for n in man.index if man.loc[n, "split"] == "test"]
    with h5py.File(results(wd, "labels.h5")) as f:
        assert f.attrs["label_policy"] == "xd_official"
        gt = {v: f[v][()] for v in test}
    assert gt[THREE].tolist() == [0] * 16 + [1] * 24 + [0] * 8
    for method in ("mil", "adnet"):
        with h5py.File(results(wd, method, "scores.h5")) as f:
            scores = {v: f[v][()] for v in test}
        assert {v: len(s) for v, s in scores.items()} == {v: DECODED[v] for v in test}  # every decoded frame scored
        log = (wd / "logs" / "xd" / method / "evaluate.log").read_text()
        for v in test:
            assert f"video {v}: {DECODED[v]} frame scores, the labels (policy xd_official) cover {len(gt[v])} frames" in log
        doc = json.loads(results(wd, method, "evaluation.json").read_text())
        assert doc["scores_cut"] == {v: DECODED[v] - len(gt[v]) for v in test}
        g = np.concatenate([gt[v] for v in test])
        sc = np.concatenate([scores[v][: len(gt[v])] for v in test])
        row = pd.read_csv(results(wd, f"{method}_auc.csv")).iloc[0]
        assert row["n_frames"] == 48 + 32 + 32 and row["ap"] == pytest.approx(average_precision_score(g, sc), abs=1e-5)
        p, r, _ = precision_recall_curve(g, sc)
        assert row["ap_trapz"] == pytest.approx(trapz(r, p), abs=1e-5) and row["headline_metric"] == "ap_trapz"
