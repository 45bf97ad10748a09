"""Importing public feature sets (``source: import``): real Sultani files, RTFM / per-crop npy,
errors, layout checks, and Snakemake end to end on the real format without any video."""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

import vadflow.config as vc
from conftest import ROOT
from vadflow.data import annotations as ann
from vadflow.data.manifest import COLUMNS, build_manifest, write_manifest
from vadflow.video.decoder import probe
from vadflow.features import importers as im
from vadflow.stores.features import VIDEO_ATTRS, FeatureStore, FeatureStoreError
from vadflow.features.writer import FeatureWriter
from vadflow.jobs.videos import load_videos

ANNOTATION_FILES = ("Anomaly_Train.txt", "Temporal_Anomaly_Annotation.txt", "Test_Annotation_with_frames.txt",
                    "Train_Annotation_with_frames.txt")


def write_table(path, videos: dict[str, tuple[int, str]]) -> str:
    """A manifest of ``{id: (n_frames, split)}`` (anomalous unless the id starts with Normal)."""
    rows = [{"id": vid, "path": f"x/{vid}.mp4", "split": split, "cls": "Normal" if vid.startswith("Normal") else "Abuse",
             "anomalous": not vid.startswith("Normal"), "frames": n, "fps": 30.0, "width": 0, "height": 0,
             "status": "ok", "error": ""} for vid, (n, split) in videos.items()]
    pd.DataFrame(rows, columns=COLUMNS).to_csv(path, index=False)
    return str(path)


def no_leftovers(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp") or p.suffix == ".h5"]


# -- Sultani C3D text: the ten real files ----------------------------------------------------
@pytest.fixture(scope="module")
def ucf_copy(tmp_path_factory, fixtures_dir):
    """The annotation files and the ten Sultani txt files copied apart (no video anywhere)."""
    base = tmp_path_factory.mktemp("ucf")
    for name in ANNOTATION_FILES:
        (base / "ucf").mkdir(exist_ok=True)
        shutil.copy(fixtures_dir / name, base / "ucf" / name)
    shutil.copytree(fixtures_dir / "sultani_c3d_32seg", base / "sultani")
    return base


@pytest.fixture(scope="module")
def sultani_import(ucf_copy):
    """Manifest from the annotation files (videos: false) and the imported feature file."""
    cfg = {"kind": "ucf_crime", "root": str(ucf_copy / "ucf"), "videos": False}
    table, labels, facts = build_manifest(cfg, probe=probe, progress=False)
    write_manifest(table, labels, ucf_copy / "manifest.csv", ucf_copy / "labels.h5")
    ext = {"name": "sultani", "source": "import", "format": "sultani_txt", "path": str(ucf_copy / "sultani"),
           "missing": "skip", "dtype": "float32"}
    stats = im.import_features(ucf_copy / "manifest.csv", ext, ucf_copy / "sultani.h5", progress=False)
    return table, stats, ucf_copy / "sultani.h5"


def test_sultani_files_parse(fixtures_dir):
    counts = ann.read_frame_counts(fixtures_dir / "Test_Annotation_with_frames.txt")
    files = sorted((fixtures_dir / "sultani_c3d_32seg").glob("*.txt"))
    assert len(files) == 10
    for f in files:
        x = im.read_sultani_txt(f)
        assert x.shape == (32, 4096) and x.dtype == np.float32
        assert (x >= 0).all()  # fc6 after ReLU
        # rows are L2-normalised segment means, printed with 6 decimals
        np.testing.assert_allclose(np.linalg.norm(x.astype(np.float64), axis=1), 1.0, atol=im.NORM_TOL)
        assert f.stem in counts  # the file name is the video id of the annotation


def test_manifest_without_videos_takes_frame_counts_from_annotations(sultani_import, fixtures_dir):
    table, _, _ = sultani_import
    counts = ann.read_frame_counts(fixtures_dir / "Test_Annotation_with_frames.txt")
    counts.update(ann.read_frame_counts(fixtures_dir / "Train_Annotation_with_frames.txt"))
    assert len(table) == 1610 + 290 and set(table["split"]) == {"train", "test"}
    assert (table["status"] == "ok").all() and (table["fps"] == 30.0).all()
    assert dict(zip(table["id"], table["frames"])) == counts
    assert table.set_index("id").loc["Explosion008_x264", "frames"] == 1748


def test_sultani_import_attrs(sultani_import, fixtures_dir):
    table, stats, out = sultani_import
    counts = ann.read_frame_counts(fixtures_dir / "Test_Annotation_with_frames.txt")
    ids = sorted(f.stem for f in (fixtures_dir / "sultani_c3d_32seg").glob("*.txt"))
    assert stats["videos"] == 10 and stats["missing"] == 1900 - 10
    with FeatureStore(out) as st:
        assert sorted(st.ids()) == ids
        assert st.attrs["layout"] == "segments32" and st.attrs["source_format"] == "sultani_txt"
        assert len(st.failed) == 1890 and "no sultani_txt file" in st.failed["Abuse001_x264"]
        for vid in ids:
            x, attrs = st.get(vid)
            assert set(VIDEO_ATTRS) <= set(attrs)
            assert x.shape == (32, 4096)
            np.testing.assert_array_equal(x, im.read_sultani_txt(fixtures_dir / "sultani_c3d_32seg" / f"{vid}.txt"))
            assert attrs["n_frames"] == counts[vid] and attrs["layout"] == "segments32"
            assert (attrs["clip_len"], attrs["stride"], attrs["fps"]) == (16, 16, 30.0)
            assert attrs["weights"] == "imported:sultani_txt" and attrs["crop_reduce"] == "none"
            assert len(attrs["source_sha256"]) == 64 and attrs["source_file"].endswith(f"{vid}.txt")


# -- RTFM ten-crop and per-crop npy ----------------------------------------------------------
@pytest.mark.parametrize("crops", ["mean", 0, 7])
def test_rtfm_ten_crop(tmp_path, crops):
    rng = np.random.default_rng(1)
    arrays = {"Abuse001_x264": rng.normal(size=(7, 10, 12)).astype(np.float32),   # 7 = ceil(100/16): padded tail
              "Normal_Videos_003_x264": rng.normal(size=(6, 10, 12)).astype(np.float32)}  # 6 = floor(100/16)
    (tmp_path / "feat" / "Test").mkdir(parents=True)
    for vid, x in arrays.items():
        np.save(tmp_path / "feat" / "Test" / f"{vid}_i3d.npy", x)
    man = write_table(tmp_path / "m.csv", {vid: (100, "test") for vid in arrays})
    cfg = {"name": "rtfm", "source": "import", "format": "rtfm_npy", "path": str(tmp_path / "feat"), "dtype": "float32",
           "crops": crops}
    im.import_features(man, cfg, tmp_path / "out.h5", progress=False)
    with FeatureStore(tmp_path / "out.h5") as st:
        assert st.attrs["layout"] == "clips" and st.attrs["dim"] == 12
        for vid, x in arrays.items():
            got, attrs = st.get(vid)
            if crops == "mean":
                want = sum(x[:, c, :].astype(np.float64) for c in range(10)) / 10  # by hand, crop by crop
                assert attrs["crop_reduce"] == "mean"
            else:
                want = x[:, crops, :]
                assert attrs["crop_reduce"] == f"crop:{crops}"
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
            assert attrs["tail"] == ("pad" if len(x) == 7 else "drop")
            assert attrs["n_frames"] == 100 and attrs["layout"] == "clips"


def test_urdmu_combined_crop_first_file(tmp_path):
    """UR-DMU's combined <Video>_i3d.npy is [10, T, 1024]: urdmu_npy averages axis 0; rtfm_npy,
    whose files have the same name, refuses it instead of averaging the time axis."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(10, 7, 12)).astype(np.float32)  # 7 clips = ceil(100/16)
    np.save(tmp_path / "Abuse001_x264_i3d.npy", x)
    man = write_table(tmp_path / "m.csv", {"Abuse001_x264": (100, "test")})
    base = {"name": "urdmu", "source": "import", "path": str(tmp_path), "dtype": "float32"}
    im.import_features(man, {**base, "format": "urdmu_npy"}, tmp_path / "out.h5", progress=False)
    with FeatureStore(tmp_path / "out.h5") as st:
        got, attrs = st.get("Abuse001_x264")
        want = sum(x[c].astype(np.float64) for c in range(10)) / 10
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        assert got.shape == (7, 12) and attrs["tail"] == "pad" and st.attrs["source_format"] == "urdmu_npy"
    im.import_features(man, {**base, "format": "urdmu_npy", "crops": 4}, tmp_path / "k4.h5", progress=False)
    with FeatureStore(tmp_path / "k4.h5") as st:
        np.testing.assert_array_equal(st.get("Abuse001_x264")[0], x[4])
    with pytest.raises(im.FeatureImportError, match=r"looks crop-first \[10, T, D\].*urdmu_npy"):
        im.import_features(man, {**base, "format": "rtfm_npy"}, tmp_path / "bad.h5", progress=False)
    assert not (tmp_path / "bad.h5").exists()


def test_per_crop_files(tmp_path, caplog):
    rng = np.random.default_rng(2)
    crops = {k: rng.normal(size=(5, 8)).astype(np.float32) for k in range(10)}
    for k, x in crops.items():
        np.save(tmp_path / f"Abuse001_x264__{k}.npy", x)
    for k in (0, 1, 2):  # a second video with three crops only: the mean of those found
        np.save(tmp_path / f"Abuse002_x264__{k}.npy", crops[k])
    man = write_table(tmp_path / "m.csv", {"Abuse001_x264": (80, "train"), "Abuse002_x264": (80, "train")})
    base = {"name": "urdmu", "source": "import", "format": "crop_npy", "path": str(tmp_path), "dtype": "float32"}
    with caplog.at_level(logging.WARNING):
        im.import_features(man, base, tmp_path / "out" / "mean.h5", progress=False)
    assert "fewer than 10 crop files" in caplog.text
    with FeatureStore(tmp_path / "out" / "mean.h5") as st:
        got, attrs = st.get("Abuse001_x264")
        np.testing.assert_allclose(got, np.mean(np.stack([crops[k] for k in range(10)]), axis=0), rtol=1e-6, atol=1e-6)
        assert attrs["crops_used"] == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" and attrs["tail"] == "drop"
        got2, attrs2 = st.get("Abuse002_x264")
        np.testing.assert_allclose(got2, (crops[0] + crops[1] + crops[2]) / 3, rtol=1e-6, atol=1e-6)
        assert attrs2["crops_used"] == "[0, 1, 2]"
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        im.import_features(man, {**base, "crops": 3, "missing": "skip"}, tmp_path / "out" / "k3.h5", progress=False)
    assert "crop order is not standard" in caplog.text  # crop k names the producers' orders
    with FeatureStore(tmp_path / "out" / "k3.h5") as st:
        np.testing.assert_array_equal(st.get("Abuse001_x264")[0], crops[3])
        assert "Abuse002_x264" not in st and "Abuse002_x264" in st.failed  # it has no crop 3


# -- errors name the file, and nothing is half-written ----------------------------------------
def _sultani_text(rows: list[list[float]]) -> str:
    return "".join(" ".join(f"{v:f}" for v in r) + " \n" for r in rows)


@pytest.mark.parametrize("case, pattern", [
    ("short", "expected 32 segment rows, found 31"),
    ("word", "non-number"),
    ("ragged", "different lengths"),
    ("nan", r"segment rows \[4\] hold NaN"),
])
def test_malformed_sultani_file_names_it(tmp_path, case, pattern):
    rows = np.full((32, 6), 1 / np.sqrt(6)).tolist()
    good = tmp_path / "feat" / "Abuse001_x264.txt"
    bad = tmp_path / "feat" / "Abuse002_x264.txt"
    good.parent.mkdir()
    good.write_text(_sultani_text(rows))
    text = {"short": _sultani_text(rows[:31]),
            "word": _sultani_text(rows).replace("0.408248", "abc", 1),
            "ragged": _sultani_text(rows[:5] + [rows[5][:4]] + rows[6:]),
            "nan": _sultani_text(rows[:4] + [[float("nan")] * 6] + rows[5:])}[case]
    bad.write_text(text)
    man = write_table(tmp_path / "m.csv", {"Abuse001_x264": (200, "test"), "Abuse002_x264": (200, "test")})
    out = tmp_path / "out"
    out.mkdir()
    cfg = {"name": "s", "source": "import", "format": "sultani_txt", "path": str(tmp_path / "feat")}
    with pytest.raises(im.FeatureImportError, match=pattern) as err:
        im.import_features(man, cfg, out / "s.h5", progress=False)
    assert str(bad) in str(err.value)
    assert no_leftovers(out)  # the good video was written first, but only to the temp file


def test_missing_file_is_an_error_unless_skipped(tmp_path):
    np.save(tmp_path / "Abuse001_x264_i3d.npy", np.ones((3, 10, 4), np.float32))
    man = write_table(tmp_path / "m.csv", {"Abuse001_x264": (48, "test"), "Abuse009_x264": (48, "test")})
    cfg = {"name": "r", "source": "import", "format": "rtfm_npy", "path": str(tmp_path)}
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(im.FeatureImportError, match="first missing: Abuse009_x264_i3d.npy"):
        im.import_features(man, cfg, out / "r.h5", progress=False)
    assert no_leftovers(out)
    with pytest.raises(im.FeatureImportError, match="nowhere does not exist"):
        im.import_features(man, {**cfg, "path": str(tmp_path / "nowhere")}, out / "r.h5", progress=False)
    np.save(tmp_path / "Abuse001_x264_i3d.npy", np.ones((3, 4), np.float32))  # not ten-crop
    with pytest.raises(im.FeatureImportError, match=r"Abuse001_x264_i3d.npy: expected \[T>0, crops, D\]"):
        im.import_features(man, {**cfg, "missing": "skip"}, out / "r.h5", progress=False)
    assert no_leftovers(out)


# -- layouts ---------------------------------------------------------------------------------
def _feature_file(path, layout: str) -> None:
    attrs = {"extractor": "feat", "clip_len": 16, "stride": 16, "fps": 30.0, "n_frames": 640, "config_hash": "h",
             "weights": "w", "layout": layout}
    with FeatureWriter(path, {"extractor": "feat", "layout": layout}) as w:
        for vid in ("Abuse001_x264", "Normal_Videos_001_x264"):
            w.add(vid, np.ones((32 if layout == "segments32" else 40, 4), np.float32), attrs)


@pytest.mark.parametrize("layout, accepts", [("segments32", ("clips",)), ("clips", ("segments32",))])
def test_layout_rejected_both_ways(tmp_path, layout, accepts):
    man = write_table(tmp_path / "m.csv", {"Abuse001_x264": (640, "train"), "Normal_Videos_001_x264": (640, "train")})
    with h5py.File(tmp_path / "labels.h5", "w"):
        pass  # training videos without temporal labels
    _feature_file(tmp_path / "feat.h5", layout)
    with pytest.raises(FeatureStoreError) as err:
        load_videos(man, tmp_path / "labels.h5", tmp_path / "feat.h5", "train", layouts=accepts, method="mine", kind="adnet")
    msg = str(err.value)
    assert "method 'mine' (kind adnet)" in msg and "extractor 'feat'" in msg and f"layout {layout!r}" in msg
    assert len(load_videos(man, tmp_path / "labels.h5", tmp_path / "feat.h5", "train", layouts=("clips", "segments32"))) == 2


def test_config_rejects_segments_for_clip_methods_before_any_job():
    cfg = {"dataset": "u", "datasets": {"u": {"kind": "ucf_crime", "root": "r", "videos": False,
                                              "overrides": {"features": {"c3d": {"source": "import", "format": "sultani_txt", "path": "p"}}}}},
           "features": {"c3d": {"backbone": "c3d"}, "i3d": {"backbone": "i3d"}},
           "methods": {"mil": {"kind": "mil", "features": "c3d"}, "mlp": {"kind": "mlp", "features": "c3d"},
                       "adnet": {"kind": "adnet", "features": "i3d"}}}
    vc.check(cfg)
    assert vc.feature_layout(cfg, "u", "c3d") == "segments32"
    assert vc.method_features(cfg, "u", "mil") == "results/u/features/c3d.h5"
    with pytest.raises(vc.ConfigError, match=r"method 'mlp' \(kind mlp\).*extractor 'c3d'.*layout 'segments32'"):
        vc.method_features(cfg, "u", "mlp")
    # the override makes c3d an import for this dataset only: no shard jobs, import command
    assert vc.feature_inputs(cfg, "u", "c3d") == ["results/u/manifest.csv", "results/u/labels.h5", "p"]
    assert vc.feature_command(cfg, "u", "c3d", [], ["o.h5"]).startswith("vadflow import --cfg ")
    assert set(vc.extractor_params(cfg, "u", "c3d")) == {"name", "source", "format", "path"}
    with pytest.raises(vc.ConfigError, match="datasets.u.videos is false, but features.i3d extracts"):
        vc.feature_inputs(cfg, "u", "i3d")
    cfg["datasets"]["u"]["overrides"]["features"]["c3d"]["crops"] = 2
    with pytest.raises(vc.ConfigError, match="datasets.u.overrides.features.c3d.crops"):
        vc.check(cfg)


# -- end to end: Snakemake on the real Sultani format, no video -------------------------------
@pytest.mark.e2e
def test_mil_on_imported_sultani_end_to_end(ucf_copy, tmp_path):
    cfg = {
        "dataset": "ucf_feat",
        "datasets": {"ucf_feat": {"kind": "ucf_crime", "root": str(ucf_copy / "ucf"), "videos": False}},
        "features": {"sultani": {"source": "import", "format": "sultani_txt", "path": str(ucf_copy / "sultani"),
                                 "missing": "skip"}},
        # The ten fixture videos are test videos: 3-fold cross-fitting on them (every fold keeps
        # a normal and an anomalous video for training); a tiny fit, this checks plumbing only.
        "methods": {"mil": {"kind": "mil", "features": "sultani", "train_split": "test_folds", "folds": 3,
                            "iterations": 20, "batch_anomalous": 4, "batch_normal": 1, "device": "cpu"}},
    }
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    targets = ["results/ucf_feat/mil_auc.csv", "results/ucf_feat/mil/per_video.csv"]
    base = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--cores", "2"]
    dry = subprocess.run([*base, "-n", *targets], capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    assert "extract_features" not in dry.stdout and "merge_features" in dry.stdout
    res = subprocess.run([*base, *targets], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-6000:]
    per_video = pd.read_csv(tmp_path / "results/ucf_feat/mil/per_video.csv")
    ids = sorted(p.stem for p in (ucf_copy / "sultani").glob("*.txt"))
    assert sorted(per_video["id"]) == ids and (per_video["method"] == "mil").all()
    auc = pd.read_csv(tmp_path / "results/ucf_feat/mil_auc.csv")
    assert 0.0 <= float(auc["auc"].iloc[0]) <= 1.0
    with h5py.File(tmp_path / "results/ucf_feat/features/sultani.h5") as f:
        assert f.attrs["layout"] == "segments32" and len(f.keys()) == 10
    with h5py.File(tmp_path / "results/ucf_feat/mil/scores.h5") as f:
        man = pd.read_csv(tmp_path / "results/ucf_feat/manifest.csv").set_index("id")
        assert sorted(f.keys()) == ids and all(f[v].shape == (man.loc[v, "frames"],) for v in ids)
    again = subprocess.run([*base, "-n", *targets], capture_output=True, text=True, timeout=300)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_imports_are_stored_float32_by_default_and_lossless(sultani_import, ucf_copy, tmp_path):
    """dtype: auto (the schema default) stores imports as float32, which keeps Sultani's 6-decimal
    text exactly; extraction keeps float16. float16 would move the text values by up to ~6e-5."""
    from snakemake.utils import validate

    cfg = {"dataset": "u", "datasets": {"u": {"kind": "ucf_crime", "root": "r", "videos": False}},
           "features": {"sultani": {"source": "import", "format": "sultani_txt", "path": str(ucf_copy / "sultani"),
                                    "missing": "skip"},
                        "i3d": {"backbone": "i3d"},
                        "lstm": {"source": "lstm", "sequences": "i3d"}},
           "methods": {"mil": {"kind": "mil", "features": "sultani"}}}
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    assert cfg["features"]["sultani"]["dtype"] == "auto"
    params = vc.extractor_params(cfg, "u", "sultani")
    assert params["dtype"] == "float32"
    assert vc.extractor_params(cfg, "u", "i3d")["dtype"] == "float16"
    assert vc.extractor_params(cfg, "u", "lstm")["dtype"] == "float16"
    cfg["features"]["sultani"]["dtype"] = "float16"
    assert vc.extractor_params(cfg, "u", "sultani")["dtype"] == "float16"  # an explicit dtype is kept
    errors = {}
    for dtype, p in (("float32", params), ("float16", vc.extractor_params(cfg, "u", "sultani"))):
        out = tmp_path / f"{dtype}.h5"
        im.import_features(ucf_copy / "manifest.csv", p, out, progress=False)
        err = 0.0
        with h5py.File(out) as f:
            for vid in f.keys():
                assert f[vid].dtype == np.dtype(dtype)
                text = np.loadtxt(ucf_copy / "sultani" / f"{vid}.txt")
                err = max(err, float(np.abs(f[vid][()].astype(np.float64) - text).max()))
                if dtype == "float32":  # printing back with 6 decimals gives the file's numbers
                    assert np.array_equal(np.round(f[vid][()].astype(np.float64), 6), np.round(text, 6))
        errors[dtype] = err
    assert errors["float32"] < 1e-7 and 1e-5 < errors["float16"] < 1e-4, errors


# -- XD-Violence and CLIP layouts: files as published, small T ---------------------------------
XD_A = "Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6"
XD_N = "Election.2005__#00-03-35_00-05-05_label_A"


def xd_features(root, rng, t_rgb: dict[str, int]) -> dict[str, dict[int, np.ndarray]]:
    """i3d-features/RGBTest/<name>__<k>.npy ([T, 1024], 5 crops) beside FlowTest files of the
    same names with one snippet fewer, and vggish-features/test/<name>__vggish.npy ([T, 128])."""
    rgb = {}
    for vid, t in t_rgb.items():
        rgb[vid] = {k: rng.normal(size=(t, 1024)).astype(np.float32) for k in range(5)}
        for k, x in rgb[vid].items():
            for folder, arr in (("RGBTest", x), ("FlowTest", x[:-1] + 100)):
                (root / "i3d-features" / folder).mkdir(parents=True, exist_ok=True)
                np.save(root / "i3d-features" / folder / f"{vid}__{k}.npy", arr)
        (root / "vggish-features" / "test").mkdir(parents=True, exist_ok=True)
        np.save(root / "vggish-features" / "test" / f"{vid}__vggish.npy", rng.normal(size=(t, 128)).astype(np.float32))
    return rgb


def test_xd_i3d_reads_rgb_beside_flow(tmp_path, caplog):
    rgb = xd_features(tmp_path / "xd", np.random.default_rng(5), {XD_A: 3, XD_N: 4})
    # 64 frames: 63 // 16 = 3 snippets (XDVioDet's n - 1) -> tail xd_official; 64 = 16 * 4 (videos: false) -> drop
    man = write_table(tmp_path / "m.csv", {XD_A: (64, "test"), XD_N: (64, "test")})
    base = {"name": "xd_rgb", "source": "import", "format": "xd_i3d", "path": str(tmp_path / "xd" / "i3d-features"),
            "dtype": "float32"}
    with caplog.at_level(logging.WARNING):
        stats = im.import_features(man, base, tmp_path / "mean.h5", progress=False)
    assert not caplog.text  # five crops are all XD-Violence has; 1024-d is the published size
    assert stats["tail"] == {"xd_official": 1, "drop": 1}
    with FeatureStore(tmp_path / "mean.h5") as st:
        assert st.attrs["source_format"] == "xd_i3d" and st.attrs["backbone"] == "inception-i3d"
        for vid, crops in rgb.items():
            got, attrs = st.get(vid)
            want = sum(crops[k].astype(np.float64) for k in range(5)) / 5
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
            assert got.shape == (len(want), 1024) and attrs["crops_used"] == "[0, 1, 2, 3, 4]"
            assert "/RGBTest/" in attrs["source_file"] and "FlowTest" not in attrs["source_file"]
    im.import_features(man, {**base, "crops": 3}, tmp_path / "k3.h5", progress=False)
    with FeatureStore(tmp_path / "k3.h5") as st:
        np.testing.assert_array_equal(st.get(XD_A)[0], rgb[XD_A][3])
        assert st.get(XD_A)[1]["crop_reduce"] == "crop:3"


def test_xd_flow_and_vggish(tmp_path, caplog):
    rgb = xd_features(tmp_path / "xd", np.random.default_rng(6), {XD_A: 3})
    man = write_table(tmp_path / "m.csv", {XD_A: (64, "test")})
    root = str(tmp_path / "xd")
    with caplog.at_level(logging.WARNING):
        im.import_features(man, {"name": "f", "source": "import", "format": "xd_flow", "path": root}, tmp_path / "f.h5",
                           progress=False)
    assert not caplog.text
    with FeatureStore(tmp_path / "f.h5") as st:
        got, attrs = st.get(XD_A)
        assert got.shape == (2, 1024) and attrs["tail"] == "xd_short"  # one snippet fewer than RGB
        np.testing.assert_allclose(got, np.mean([rgb[XD_A][k][:-1] + 100 for k in range(5)], axis=0), rtol=1e-6)
    im.import_features(man, {"name": "a", "source": "import", "format": "xd_vggish", "path": root}, tmp_path / "a.h5",
                       progress=False)
    with FeatureStore(tmp_path / "a.h5") as st:
        got, attrs = st.get(XD_A)
        want = np.load(tmp_path / "xd" / "vggish-features" / "test" / f"{XD_A}__vggish.npy")
        np.testing.assert_array_equal(got, want)
        assert got.shape == (3, 128) and attrs["crop_reduce"] == "none" and attrs["tail"] == "xd_official"
    with pytest.raises(im.FeatureImportError, match="features.a.crops: format xd_vggish has no crops"):
        im.check_config({"format": "xd_vggish", "path": root, "crops": 0}, "features.a")


def test_vadclip_ten_crops_and_all_crops(tmp_path, caplog):
    rng = np.random.default_rng(7)
    crops = {k: rng.normal(size=(6, 512)).astype(np.float32) for k in range(10)}
    (tmp_path / "UCFClipFeatures" / "Abuse").mkdir(parents=True)
    for k, x in crops.items():  # VadCLIP's UCF-Crime layout <Class>/<Video>__<k>.npy
        np.save(tmp_path / "UCFClipFeatures" / "Abuse" / f"Abuse001_x264__{k}.npy", x)
    man = write_table(tmp_path / "m.csv", {"Abuse001_x264": (100, "test")})
    base = {"name": "clip", "source": "import", "format": "vadclip", "path": str(tmp_path / "UCFClipFeatures")}
    with caplog.at_level(logging.WARNING):
        im.import_features(man, base, tmp_path / "mean.h5", progress=False)
    assert not caplog.text  # 512-d CLIP: any D, no warning
    with FeatureStore(tmp_path / "mean.h5") as st:
        got, attrs = st.get("Abuse001_x264")
        np.testing.assert_allclose(got, np.mean(np.stack(list(crops.values())).astype(np.float64), axis=0), rtol=1e-6, atol=1e-6)
        assert got.shape == (6, 512) and attrs["tail"] == "drop" and st.attrs["dim"] == 512
    im.import_features(man, {**base, "crops": 7}, tmp_path / "k7.h5", progress=False)
    with FeatureStore(tmp_path / "k7.h5") as st:
        np.testing.assert_array_equal(st.get("Abuse001_x264")[0], crops[7])
    fmt = im.get_format("vadclip")
    files = im.files_of(fmt, "Abuse001_x264", im.index_files(tmp_path / "UCFClipFeatures"), im.CROPS_ALL)
    stacked, sha = im.load_video_crops(fmt, files)
    assert stacked.shape == (10, 6, 512) and stacked.dtype == np.float32 and len(sha) == 64
    np.testing.assert_array_equal(stacked, np.stack([crops[k] for k in range(10)]))
    np.testing.assert_allclose(stacked.mean(axis=0), im.load_video(fmt, files)[0], rtol=1e-6, atol=1e-6)
    # crops: all stores the ten crops once, [C, T, D]; its mean is exactly crops: mean's features
    im.import_features(man, {**base, "crops": "all", "score_crop": 5}, tmp_path / "all.h5", progress=False)
    with FeatureStore(tmp_path / "all.h5") as st, FeatureStore(tmp_path / "mean.h5") as mean:
        every, attrs = st.get_crops("Abuse001_x264")
        np.testing.assert_array_equal(every, np.stack([crops[k] for k in range(10)]))
        assert attrs["n_crops"] == 10 and attrs["n_clips"] == 6 and attrs["tail"] == "drop" and attrs["crop_reduce"] == "all"
        np.testing.assert_array_equal(st.get("Abuse001_x264")[0], mean.get("Abuse001_x264")[0])
        assert st.attrs["crop_reduce"] == "all" and st.attrs["score_crop"] == "5"
        lazy = st.rows("Abuse001_x264")
        assert lazy.shape == (6, 512)
        np.testing.assert_array_equal(lazy[2:4], mean.get("Abuse001_x264")[0][2:4])
        with h5py.File(tmp_path / "all.h5") as f:  # stored once: one dataset of C·T·D values per video
            assert f["Abuse001_x264"].shape == (10, 6, 512) and len(f.keys()) == 1
    with pytest.raises(im.FeatureImportError, match="score_crop = 5: a scoring crop applies to crops: all only"):
        im.check_config({**base, "crops": "mean", "score_crop": 5}, "features.clip")


def test_all_crops_of_every_layout(tmp_path):
    rng = np.random.default_rng(8)
    ten = rng.normal(size=(4, 10, 6)).astype(np.float32)  # RTFM [T, 10, D]
    np.save(tmp_path / "Abuse001_x264_i3d.npy", ten)
    x, _ = im.load_video_crops(im.get_format("rtfm_npy"), {0: tmp_path / "Abuse001_x264_i3d.npy"})
    np.testing.assert_array_equal(x, ten.transpose(1, 0, 2))
    first = np.moveaxis(ten, 1, 0).copy()  # UR-DMU [10, T, D]
    np.save(tmp_path / "Abuse002_x264_i3d.npy", first)
    x, _ = im.load_video_crops(im.get_format("urdmu_npy"), {0: tmp_path / "Abuse002_x264_i3d.npy"})
    np.testing.assert_array_equal(x, first)
    np.save(tmp_path / "Abuse003_x264.npy", ten[:, 0])  # CLIP-TSA, one crop
    x, _ = im.load_video_crops(im.get_format("cliptsa"), {0: tmp_path / "Abuse003_x264.npy"})
    assert x.shape == (1, 4, 6)
    with pytest.raises(im.FeatureImportError, match="segments32"):
        im.load_video_crops(im.get_format("sultani_txt"), {0: tmp_path / "Abuse003_x264.npy"})


def test_cliptsa_single_file(tmp_path, caplog):
    rng = np.random.default_rng(9)
    (tmp_path / "features" / "test" / "abnormal").mkdir(parents=True)
    (tmp_path / "features" / "test" / "normal").mkdir(parents=True)
    a = rng.normal(size=(3, 768)).astype(np.float32)  # a ViT-L CLIP: any D
    n = rng.normal(size=(4, 1, 768)).astype(np.float32)  # [T, 1, D], what CLIP-TSA's loader reshapes to
    np.save(tmp_path / "features" / "test" / "abnormal" / f"{XD_A}.npy", a)
    np.save(tmp_path / "features" / "test" / "normal" / f"{XD_N}.npy", n)
    man = write_table(tmp_path / "m.csv", {XD_A: (64, "test"), XD_N: (64, "test")})
    cfg = {"name": "tsa", "source": "import", "format": "cliptsa", "path": str(tmp_path / "features")}
    with caplog.at_level(logging.WARNING):
        im.import_features(man, cfg, tmp_path / "t.h5", progress=False)
    assert not caplog.text
    with FeatureStore(tmp_path / "t.h5") as st:
        np.testing.assert_array_equal(st.get(XD_A)[0], a)
        np.testing.assert_array_equal(st.get(XD_N)[0], n[:, 0])
        assert st.get(XD_A)[1]["tail"] == "xd_official" and st.get(XD_N)[1]["tail"] == "drop"
    bad = tmp_path / "features" / "test" / "normal" / f"{XD_N}.npy"
    np.save(bad, rng.normal(size=(4, 2, 768)).astype(np.float32))
    with pytest.raises(im.FeatureImportError, match=r"expected \[T>0, D\] \(one vector per snippet, no crops\), got shape \[4, 2, 768\]") as err:
        im.import_features(man, cfg, tmp_path / "bad.h5", progress=False)
    assert str(bad) in str(err.value) and not (tmp_path / "bad.h5").exists()


def test_malformed_or_mismatched_crop_files_name_them(tmp_path):
    rgb = xd_features(tmp_path / "xd", np.random.default_rng(10), {XD_A: 3})
    man = write_table(tmp_path / "m.csv", {XD_A: (64, "test")})
    cfg = {"name": "x", "source": "import", "format": "xd_i3d", "path": str(tmp_path / "xd")}
    folder = tmp_path / "xd" / "i3d-features" / "RGBTest"
    np.save(folder / f"{XD_A}__2.npy", rgb[XD_A][2][:2])  # crop 2 one snippet short
    with pytest.raises(im.FeatureImportError, match="crop files disagree in shape") as err:
        im.import_features(man, cfg, tmp_path / "o.h5", progress=False)
    assert f"{XD_A}__2.npy [2, 1024]" in str(err.value) and f"{XD_A}__0.npy [3, 1024]" in str(err.value)
    (folder / f"{XD_A}__2.npy").write_bytes(b"not an npy file")
    with pytest.raises(im.FeatureImportError, match="not a readable .npy array") as err:
        im.import_features(man, cfg, tmp_path / "o.h5", progress=False)
    assert str(folder / f"{XD_A}__2.npy") in str(err.value)
    (folder / f"{XD_A}__2.npy").unlink()  # a gap: the mean of four crops is fine, stacking is not
    fmt = im.get_format("xd_i3d")
    files = im.files_of(fmt, XD_A, im.index_files(tmp_path / "xd", fmt.folders), im.CROPS_ALL)
    assert sorted(files) == [0, 1, 3, 4]
    with pytest.raises(im.FeatureImportError, match=r"crops \[2\] are missing beside .*__0.npy"):
        im.load_video_crops(fmt, files)
    assert im.load_video(fmt, files)[0].shape == (3, 1024)


def test_index_folders_fall_back_to_the_whole_tree(tmp_path):
    """A copy without RGB/ folders (PEL4VAD keeps xd-i3d/test/<name>__<k>.npy) is read whole."""
    (tmp_path / "xd-i3d" / "test").mkdir(parents=True)
    np.save(tmp_path / "xd-i3d" / "test" / f"{XD_A}__0.npy", np.ones((3, 4), np.float32))
    assert list(im.index_files(tmp_path / "xd-i3d", ("RGB", "RGBTest"))) == [f"{XD_A}__0.npy"]
    (tmp_path / "xd-i3d" / "RGB").mkdir()
    np.save(tmp_path / "xd-i3d" / "RGB" / f"{XD_N}__0.npy", np.ones((3, 4), np.float32))
    assert list(im.index_files(tmp_path / "xd-i3d", ("RGB", "RGBTest"))) == [f"{XD_N}__0.npy"]
    assert list(im.index_files(tmp_path / "xd-i3d" / "RGB", ("rgb",))) == [f"{XD_N}__0.npy"]
