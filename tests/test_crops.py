"""``crops: all``: every crop stored once; the train job hands a kind each crop as its own sample
(or all of them, kinds that read crops), and the score job averages the crops' frame scores.

The counts come from what ``fit`` received (a spy kind records it), the scores from the raw crop
files by hand."""
from __future__ import annotations

from typing import Any

import h5py
import numpy as np
import pytest

from test_importers import write_table
from vadflow.features import importers as im
from vadflow.jobs import methods as jobs
from vadflow.methods import load_method
from vadflow.methods.base import Method, VideoData
from vadflow.stores.scores import read_score_attrs, read_scores

XD_V = "Bad.Boys.1995__#00-26-51_00-27-53_label_B2-0-0"
XD_N = "A.Beautiful.Mind.2001__#00-01-45_00-02-50_label_A"
XD_T = "Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6"
XD_TN = "Election.2005__#00-03-35_00-05-05_label_A"
T = {XD_V: 4, XD_N: 3, XD_T: 5, XD_TN: 2}
SPLIT = {XD_V: "train", XD_N: "train", XD_T: "test", XD_TN: "test"}
D, C = 8, 5


class Spy(Method):
    """Records what ``fit`` got; a clip scores the max of its row (not linear: the mean of the
    crops' scores differs from the score of the crops' mean)."""

    kind = "spy"
    supervision = "video"

    def fit(self, train: list[VideoData]) -> None:
        self.seen = [(v.id, v.extras.get("crop"), None if v.crops is None else list(v.crops.shape)) for v in train]

    def score(self, video: VideoData) -> np.ndarray:
        x = video.crop_stack().max(axis=2).mean(axis=0)  # one crop (or every crop, for the crop reader)
        return np.repeat(x, 16)[: video.n_frames].astype(np.float64)

    def state(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def load_state(self, state: dict[str, Any]) -> None:
        self.seen = state["seen"]


class CropSpy(Spy):
    kind = "cropspy"
    reads_crops = True


@pytest.fixture()
def kinds(monkeypatch):
    import vadflow.methods as registry

    monkeypatch.setitem(registry._REGISTRY, "spy", "test_crops:Spy")
    monkeypatch.setitem(registry._REGISTRY, "cropspy", "test_crops:CropSpy")


@pytest.fixture()
def xd(tmp_path):
    """Five [T, D] crop files per video in XDVioDet's RGB/RGBTest layout, the manifest (16·T
    frames) and labels, and the import with crops: mean, crops: all and score_crop: 2."""
    rng = np.random.default_rng(0)
    raw = {}
    for vid, t in T.items():
        folder = tmp_path / "i3d-features" / ("RGB" if SPLIT[vid] == "train" else "RGBTest")
        folder.mkdir(parents=True, exist_ok=True)
        raw[vid] = rng.normal(size=(C, t, D)).astype(np.float32)
        for k in range(C):
            np.save(folder / f"{vid}__{k}.npy", raw[vid][k])
    man = write_table(tmp_path / "manifest.csv", {vid: (16 * t, SPLIT[vid]) for vid, t in T.items()})
    with h5py.File(tmp_path / "labels.h5", "w") as f:
        for vid, t in T.items():
            f[vid] = np.zeros(16 * t, np.uint8)
    base = {"source": "import", "format": "xd_i3d", "path": str(tmp_path / "i3d-features")}
    files = {}
    for name, extra in (("mean", {}), ("all", {"crops": "all"}), ("k2", {"crops": "all", "score_crop": 2})):
        files[name] = str(tmp_path / f"{name}.h5")
        im.import_features(man, {"name": name, **base, **extra}, files[name], progress=False)
    return tmp_path, man, raw, files


def run(tmp_path, man, feats: str, kind: str, name: str, **cfg) -> tuple[Method, dict, dict]:
    cfg = {"kind": kind, "name": name, **cfg}
    model, scores = tmp_path / f"{name}.pt", tmp_path / f"{name}_scores.h5"
    jobs.train(cfg, man, str(tmp_path / "labels.h5"), [feats], str(model))
    jobs.score(cfg, str(model), man, str(tmp_path / "labels.h5"), [feats], str(scores), progress=False)
    return load_method(model), read_scores(scores), read_score_attrs(scores)


def by_hand(raw: dict, vid: str, crops: list[int]) -> np.ndarray:
    """The mean over ``crops`` of each crop's frame scores: max over D per snippet, 16 frames each."""
    return np.mean([np.repeat(raw[vid][k].astype(np.float64).max(axis=1), 16) for k in crops], axis=0)


def test_all_crops_train_five_times_the_samples_and_average_the_scores(kinds, xd):
    tmp_path, man, raw, files = xd
    mean_model, _, mean_attrs = run(tmp_path, man, files["mean"], "spy", "m_mean")
    all_model, scores, attrs = run(tmp_path, man, files["all"], "spy", "m_all")
    # counted: what fit() got
    assert len(mean_model.seen) == 2 and len(all_model.seen) == 5 * 2 == 10
    assert sorted(all_model.seen) == sorted((vid, k, None) for vid in (XD_V, XD_N) for k in range(C))
    assert all_model.origin["crops"]["train_samples"] == 10 and all_model.origin["crops"]["train_videos"] == 2
    assert mean_model.origin["crops"]["train_samples"] == 2
    # scores: the mean of the per-crop scores, which here differs from the score of the crops' mean
    for vid in (XD_T, XD_TN):
        np.testing.assert_allclose(scores[vid], by_hand(raw, vid, list(range(C))), rtol=1e-6)
        assert not np.allclose(scores[vid], np.repeat(raw[vid].astype(np.float64).mean(0).max(1), 16))
    assert "test score = the mean of the crops' frame scores" in attrs["crops"]
    assert "training on each of the 5 crops as its own sample" in attrs["crops"]
    assert attrs["train_samples"] == '{"train_videos": 2, "train_samples": 10, "n_crops": 5}'
    assert "crops: mean" in mean_attrs["crops"]


def test_one_scoring_crop(kinds, xd):
    tmp_path, man, raw, files = xd
    model, scores, attrs = run(tmp_path, man, files["k2"], "spy", "m_k2")
    assert len(model.seen) == 10  # training still sees every crop
    for vid in (XD_T, XD_TN):
        np.testing.assert_allclose(scores[vid], by_hand(raw, vid, [2]), rtol=1e-6)
    assert "crop 2 alone (score_crop)" in attrs["crops"]


def test_a_kind_that_reads_crops_gets_them_all(kinds, xd):
    tmp_path, man, raw, files = xd
    model, scores, attrs = run(tmp_path, man, files["all"], "cropspy", "c_all")
    assert sorted(model.seen) == [(XD_N, None, [C, T[XD_N], D]), (XD_V, None, [C, T[XD_V], D])]
    np.testing.assert_allclose(scores[XD_T], by_hand(raw, XD_T, list(range(C))), rtol=1e-6)
    assert "every crop (5) handed to the kind" in attrs["crops"]
    model, scores, _ = run(tmp_path, man, files["k2"], "cropspy", "c_k2")
    np.testing.assert_allclose(scores[XD_T], by_hand(raw, XD_T, [2]), rtol=1e-6)


def test_folds_keep_a_videos_crops_together(kinds, xd):
    """train_split: test_folds on crop samples: every test video is scored by a model that saw
    none of its crops."""
    tmp_path, man, _, files = xd
    model, _, _ = run(tmp_path, man, files["all"], "spy", "f_all", train_split="test_folds", folds=2)
    from vadflow.methods.folds import fold_of

    for vid in (XD_T, XD_TN):
        seen = {s[0] for s in model.models[fold_of(vid, 2)].seen}
        assert vid not in seen
    assert sum(len(m.seen) for m in model.models) == C * 2  # each crop of each test video trains one fold model
