"""End to end: Snakemake in a temporary directory on a tiny synthetic config.

Checks the artifacts, that a second run has nothing to do, that config edits rerun exactly
the jobs that depend on the edited section, and report.html in a real browser. One normal
test video is made corrupt before the manifest, so the run leaves it out and says so.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.e2e

TINY = {
    "dataset": "synthetic",
    "datasets": {
        "synthetic": {
            "kind": "synthetic",
            "generator": {"seed": 3, "n_train_normal": 4, "n_train_anomalous": 4, "n_test_normal": 2, "n_test_anomalous": 3,
                          "duration_s": [2, 4], "width": 80, "height": 64, "classes": ["Explosion", "Fighting"],
                          "short_video_prob": 0.0},
            "overrides": {"features": {"i3d": {"resize": 64, "crop": 64}}},
        },
    },
    "features": {
        "i3d": {"backbone": "i3d", "weights": "random", "clip_len": 16, "stride": 16, "resize": 256, "crop": 224, "shards": 2},
        # a second extractor, read by lof only: editing one extractor must leave the other's readers alone
        "i3d_b": {"backbone": "i3d", "weights": "random", "seed": 1, "clip_len": 16, "stride": 16, "resize": 64, "crop": 64,
                  "shards": 1},
    },
    "methods": {
        "adnet": {"kind": "adnet", "features": "i3d", "window": 8, "stages": 2, "layers": 3, "epochs": 3},
        "edtcn": {"kind": "edtcn", "features": "i3d", "window": 8, "enc_channels": [16], "kernel": 3, "epochs": 2},
        "lof": {"kind": "lof", "features": "i3d_b", "head": "simclr", "embedding_dim": 16, "n_neighbors": 5},
    },
    "heads": {"simclr": {"mode": "simclr", "features": "i3d_b", "embedding_dim": 16, "epochs": 2}},
}

#: the normal test video made corrupt before the manifest is built (test_features_from_nothing)
CORRUPT = "Normal_Videos_006_x264"


#: a PATH without the interpreter's folder, as for `.venv/bin/snakemake` run without activating
#: the venv: jobs must still find the vadflow CLI (Snakefile's shell.prefix)
BARE_ENV = {**os.environ, "PATH": "/usr/bin:/bin"}


def snakemake(workdir, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=BARE_ENV)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{res.stdout[-4000:]}\n{res.stderr[-6000:]}")
    return res


def planned_jobs(workdir, target: str) -> dict[str, int]:
    """Jobs a dry run would execute, from Snakemake's job-stats table."""
    out = snakemake(workdir, "-n", target).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def write_config(workdir, cfg) -> None:
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("wf")
    write_config(wd, TINY)
    return wd


def test_features_from_nothing(workdir):
    snakemake(workdir, "data/synthetic")
    (path,) = (workdir / "data/synthetic").rglob(f"{CORRUPT}.mp4")
    path.write_bytes(b"not a video")  # in place: the folder's mtime stays, nothing reruns the generator
    snakemake(workdir, "results/synthetic/features/i3d.h5")
    man = pd.read_csv(workdir / "results/synthetic/manifest.csv")
    assert len(man) == 13 and set(man["split"]) == {"train", "test"}
    assert man.set_index("id").loc[CORRUPT, "status"] == "corrupt"
    assert list(man.columns[:6]) == ["id", "path", "split", "cls", "anomalous", "frames"]
    ok = man[man["status"] == "ok"]
    with h5py.File(workdir / "results/synthetic/features/i3d.h5") as f:
        assert sorted(f.keys()) == sorted(ok["id"])
        for r in ok.itertuples():
            ds = f[r.id]
            assert ds.shape == (max(1, r.frames // 16), 1024) and ds.dtype == "float16"
            assert ds.attrs["extractor"] == "i3d" and ds.attrs["weights"] == "random-init"
            assert (ds.attrs["clip_len"], ds.attrs["stride"], ds.attrs["n_frames"]) == (16, 16, r.frames)
            assert ds.attrs["fps"] == pytest.approx(30) and len(ds.attrs["config_hash"]) == 16
    with h5py.File(workdir / "results/synthetic/labels.h5") as f:
        # Synthetic training videos are annotated too, so every decoded video has frame labels.
        for r in ok.itertuples():
            assert f[r.id].shape == (r.frames,)
            assert bool(f[r.id][()].any()) == bool(r.anomalous)
    # A second run has nothing to do.
    assert planned_jobs(workdir, "results/synthetic/features/i3d.h5") == {}


def test_killed_run_resumes_bit_identical(workdir):
    """SIGKILL the whole Snakemake run mid-extraction; --unlock, --rerun-incomplete: only the
    videos not yet cached are computed and the file equals the uninterrupted run's bit for bit."""
    feats = workdir / "results/synthetic/features/i3d.h5"
    with h5py.File(feats) as f:
        ref = {k: f[k][()].tobytes() for k in f}
    feats.unlink()
    shutil.rmtree(workdir / "results/synthetic/features/i3d/videos")
    cache = workdir / "results/synthetic/features/i3d/videos"
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", "2",
           "results/synthetic/features/i3d.h5"]
    run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and run.poll() is None and len(list(cache.glob("*.h5"))) < 2:
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.h5")}
    assert not feats.exists() and 0 < len(kept) < len(ref), f"the kill did not land mid-extraction ({len(kept)} cached)"
    snakemake(workdir, "--unlock")
    snakemake(workdir, "--rerun-incomplete", "results/synthetic/features/i3d.h5")
    after = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.h5")}
    assert len(after) == len(ref) and all(after[name] == t for name, t in kept.items())  # reused, not rewritten
    with h5py.File(feats) as f:
        assert {k: f[k][()].tobytes() for k in f} == ref


def test_adnet_end_to_end(workdir):
    snakemake(workdir, "results/synthetic/adnet_f1.csv", "results/synthetic/summary.csv")
    f1 = pd.read_csv(workdir / "results/synthetic/adnet_f1.csv")
    assert sorted(set(f1["report"])) == ["abnormal", "all", "normal"] and sorted(set(f1["k"])) == [10, 25, 50]
    auc = pd.read_csv(workdir / "results/synthetic/adnet_auc.csv")
    assert 0.0 <= auc["auc"].iloc[0] <= 1.0 and auc["n_videos"].iloc[0] == 4  # 5 test videos, one corrupt
    assert (workdir / "results/synthetic/adnet/timelines.png").stat().st_size > 10_000
    summary = pd.read_csv(workdir / "results/synthetic/summary.csv", keep_default_na=False)
    assert set(summary["method"]) == {"adnet", "edtcn", "lof"}
    # the corrupt video, for every method, with the manifest's status and the decoder's error
    left = summary[summary["metric"] == "left_out"]
    assert sorted(left["method"]) == ["adnet", "edtcn", "lof"] and set(left["video"]) == {CORRUPT}
    assert set(left["status"]) == {"corrupt"} and all(left["error"].str.len() > 0)
    counts = summary[summary["metric"].isin(["n_videos_evaluated", "n_videos_left_out"])]
    assert sorted(map(float, counts["value"])) == [1.0] * 3 + [4.0] * 3
    html = (workdir / "results/synthetic/report.html").read_text()
    assert "<table" in html and CORRUPT in html and "not comparable to published numbers" in html


#: One row per config section: (section, dotted key, new value, the jobs `snakemake -n` must then
#: list for summary.csv). The run's extractors: i3d (adnet, edtcn; 2 shards) and i3d_b (lof and
#: its head simclr; 1 shard). Adding a section is one more line.
RERUNS = [
    ("dataset", "datasets.synthetic.generator.seed", 4,
     {"synthesize": 1, "manifest": 1, "extract_features": 3, "merge_features": 2, "train_head": 1, "train": 3, "score": 3,
      "evaluate": 3, "summary": 1}),
    ("extractor", "features.i3d_b.seed", 2,
     {"extract_features": 1, "merge_features": 1, "train_head": 1, "train": 1, "score": 1, "evaluate": 1, "summary": 1}),
    ("heads", "heads.simclr.epochs", 3, {"train_head": 1, "train": 1, "score": 1, "evaluate": 1, "summary": 1}),
    ("method", "methods.adnet.lr", 0.001, {"train": 1, "score": 1, "evaluate": 1, "summary": 1}),
    ("evaluation", "evaluation.f1_k", [10, 50], {"evaluate": 3, "summary": 1}),
]


def edited(cfg: dict, key: str, value) -> dict:
    out = yaml.safe_load(yaml.safe_dump(cfg))
    *parents, last = key.split(".")
    node = out
    for k in parents:
        node = node.setdefault(k, {})
    node[last] = value
    return out


@pytest.mark.parametrize("section,key,value,expected", RERUNS, ids=[r[0] for r in RERUNS])
def test_edits_rerun_only_what_depends_on_them(workdir, section, key, value, expected):
    target = "results/synthetic/summary.csv"  # complete: test_adnet_end_to_end, and each row restores it
    write_config(workdir, edited(TINY, key, value))
    try:
        assert planned_jobs(workdir, target) == expected, f"editing {section} ({key})"
    finally:
        write_config(workdir, TINY)
    assert planned_jobs(workdir, target) == {}


def test_report_in_a_real_browser(workdir):
    """Headless Chromium opens report.html: every image decoded (naturalWidth > 0), the tables
    there; the screenshot is kept as a test artifact (VADFLOW_ARTIFACTS, default test-artifacts/)."""
    from browser import open_page

    report = workdir / "results/synthetic/report.html"
    assert report.exists(), "test_adnet_end_to_end builds the report first"
    shot = Path(os.environ.get("VADFLOW_ARTIFACTS", ROOT / "test-artifacts")) / "report.png"
    with open_page(report.as_uri()) as driver:
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
        tables = driver.execute_script(
            "return Array.from(document.querySelectorAll('table')).map(t => [t.rows.length, "
            "Array.from(t.tHead.rows).map(r => Array.from(r.cells).filter(c => !c.textContent.trim()).length)])")
        headings = [h.text for h in driver.find_elements("tag name", "h2")]
        shot.parent.mkdir(parents=True, exist_ok=True)
        driver.set_window_size(1280, driver.execute_script("return document.body.scrollHeight"))
        driver.save_screenshot(str(shot))
    # ROC, PR, per-class heatmap and one timeline figure per method
    assert len(images) == 3 + 3, images
    assert all(done and w > 0 and h > 0 for _, done, w, h in images), images
    assert {"ROC curves", "precision-recall curves", "per-class AUC heatmap"} <= {alt for alt, *_ in images}
    # videos, left out, frame metrics, per-class, F1, provenance: each with one header row, no empty header cell
    assert len(tables) >= 6 and all(rows >= 2 and empty == [0] for rows, empty in tables), tables
    assert {"Videos evaluated", "Provenance", "Per-class frame AUC", "ROC and precision-recall curves"} <= set(headings)
    assert shot.stat().st_size > 10_000


def test_bad_config_fails_before_any_job(workdir, tmp_path):
    cfg = yaml.safe_load(yaml.safe_dump(TINY))
    cfg["methods"]["adnet"]["kind"] = "adnot"
    write_config(tmp_path, cfg)
    res = snakemake(tmp_path, "-n", check=False)
    assert res.returncode != 0 and "adnot" in res.stdout + res.stderr
    assert not (tmp_path / "results").exists()


def test_empty_ucf_root_says_how_to_lay_out(tmp_path):
    """A root without the list files: the manifest job stops with the layout help. (A root that
    does not exist fails earlier, when the DAG is built: tests/reliability/test_config_errors.py.)"""
    cfg = yaml.safe_load(yaml.safe_dump(TINY))
    (tmp_path / "empty").mkdir()
    cfg["datasets"]["ucf_crime"] = {"kind": "ucf_crime", "root": str(tmp_path / "empty")}
    write_config(tmp_path, cfg)
    res = snakemake(tmp_path, "results/ucf_crime/manifest.csv", check=False)
    assert res.returncode != 0
    log = (tmp_path / "logs/ucf_crime/manifest.log").read_text()
    assert "no test temporal annotation under" in log and "Anomaly_Train.txt" in log
    assert not (tmp_path / "results/ucf_crime/manifest.csv").exists()
