"""A new detector is one module, one registry line and one schema block (docs/adding_a_detector.md).

The test copies the workflow, adds exactly those three things for a toy kind (a z-score
distance to the normal training clips, written below as a user would write it), and runs it
through a tiny Snakemake run (train, score, evaluate, report) and through ``vadflow watch``,
which must reproduce the offline scores. It then checks that nothing else of the copy differs
from the repository.
"""
from __future__ import annotations

import csv
import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.e2e

TOY = '''"""Toy detector: mean absolute z-score of a clip's features against the normal training clips."""
from __future__ import annotations

from typing import Any

import numpy as np

from vadflow.methods.base import Method, MethodError, VideoData
from vadflow.methods.mapping import clip_to_frames
from vadflow.methods.online import ClipPlan


class ZScore(Method):
    kind = "toy"
    supervision = "video"
    defaults = {"eps": 1e-6}

    def fit(self, train: list[VideoData]) -> None:
        x = np.concatenate([self.checked_features(v) for v in train if not v.anomalous])
        if len(x) < 2:
            raise MethodError("toy: needs normal training clips")
        self.mu, self.sd = x.mean(0), x.std(0) + float(self.cfg.get("eps", 1e-6))
        self.in_dim = x.shape[1]

    def clip_scores(self, x: np.ndarray) -> np.ndarray:
        return np.abs((np.asarray(x, np.float64) - self.mu) / self.sd).mean(1)

    def score(self, video: VideoData) -> np.ndarray:
        return clip_to_frames(self.clip_scores(self.checked_features(video)), video.n_frames, video.clip_len, video.stride)

    def online(self) -> ClipPlan:
        return ClipPlan(row=lambda feature, objects=None: feature, clip_scores=self.clip_scores)

    def state(self) -> dict[str, Any]:
        return {"mu": self.mu.tolist(), "sd": self.sd.tolist()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.mu, self.sd = np.asarray(state["mu"]), np.asarray(state["sd"])
        self.in_dim = len(self.mu)
'''

REGISTRY_LINE = '    "toy": "vadflow.methods.toy:ZScore",\n'

SCHEMA_BLOCK = '''      - if: {properties: {kind: {const: toy}}}
        then:
          properties:
            features: {type: string}
            eps: {type: number, exclusiveMinimum: 0, default: 1.0e-6}
'''

CONFIG = {
    "dataset": "synthetic",
    "run_methods": ["toy"],
    "datasets": {"synthetic": {"kind": "synthetic", "generator": {
        "seed": 5, "n_train_normal": 4, "n_train_anomalous": 3, "n_test_normal": 2, "n_test_anomalous": 2,
        "duration_s": [2, 3], "width": 80, "height": 64, "classes": ["Explosion", "Fighting"], "short_video_prob": 0.0}}},
    "features": {"flow": {"backbone": "flow", "clip_len": 16, "stride": 16, "resize": 64, "shards": 1}},
    "methods": {"toy": {"kind": "toy", "features": "flow"}},
}

COPIED = ("Snakefile", "pyproject.toml", "workflow", "config", "envs", "profiles")


def _copy_workflow(dest: Path) -> None:
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)


def _add_the_toy_kind(copy: Path) -> None:
    """The three edits of docs/adding_a_detector.md, nothing else."""
    (copy / "workflow/vadflow/methods/toy.py").write_text(TOY)
    reg = copy / "workflow/vadflow/methods/__init__.py"
    text = reg.read_text()
    anchor = "_REGISTRY: dict[str, str] = {\n"
    assert anchor in text
    reg.write_text(text.replace(anchor, anchor + REGISTRY_LINE))
    schema = copy / "workflow/schemas/config.schema.yaml"
    lines = schema.read_text().splitlines(keepends=True)
    # the block goes at the end of the methods' per-kind branches (the `allOf` list of `method`)
    at = next(i for i, line in enumerate(lines) if line.startswith("      - if: {properties: {kind: {const: svdd_cae}}}"))
    schema.write_text("".join(lines[:at]) + SCHEMA_BLOCK + "".join(lines[at:]))


def _changed_files(copy: Path) -> dict[str, list[str]]:
    """Files of the copy that differ from the repository, with their added/removed lines."""
    out = {}
    for path in sorted(p for p in copy.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = path.relative_to(copy)
        if rel.parts[0] not in COPIED:
            continue
        orig = ROOT / rel
        new = path.read_text(errors="replace").splitlines()
        old = orig.read_text(errors="replace").splitlines() if orig.is_file() else []
        if new != old:
            out[str(rel)] = [d for d in difflib.unified_diff(old, new, lineterm="", n=0) if d[:1] in "+-" and d[:3] not in ("+++", "---")]
    return out


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    copy = tmp_path_factory.mktemp("toy")
    _copy_workflow(copy)
    _add_the_toy_kind(copy)
    (copy / "config/config.yaml").write_text(yaml.safe_dump(CONFIG))
    env = {**os.environ, "PYTHONPATH": str(copy / "workflow")}
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(copy / "Snakefile"), "-d", str(copy), "--cores", "2"],
                         capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return copy, env


def test_only_the_module_the_registry_line_and_the_schema_block_differ(toy_run):
    copy, _ = toy_run
    changed = _changed_files(copy)
    assert sorted(changed) == ["config/config.yaml", "workflow/schemas/config.schema.yaml", "workflow/vadflow/methods/__init__.py",
                               "workflow/vadflow/methods/toy.py"]
    assert changed["workflow/vadflow/methods/__init__.py"] == ["+" + REGISTRY_LINE.rstrip("\n")]
    assert changed["workflow/schemas/config.schema.yaml"] == ["+" + line for line in SCHEMA_BLOCK.rstrip("\n").split("\n")]


def test_the_toy_kind_trains_scores_and_is_evaluated_and_reported(toy_run):
    copy, _ = toy_run
    res = copy / "results/synthetic"
    auc = pd.read_csv(res / "toy_auc.csv")
    assert auc["method"].tolist() == ["toy"] and 0.0 <= float(auc["auc"].iloc[0]) <= 1.0
    summary = pd.read_csv(res / "summary.csv")
    assert "toy" in set(summary["method"])
    assert "toy" in (res / "report.html").read_text()
    man = pd.read_csv(res / "manifest.csv")
    test = man[(man["split"] == "test") & (man["status"] == "ok")]
    with h5py.File(res / "toy/scores.h5") as f:
        assert sorted(k for k in f.keys() if isinstance(f[k], h5py.Dataset)) == sorted(test["id"])
        assert f.attrs["kind"] == "toy"


def test_vadflow_watch_scores_the_toy_kind_as_offline(toy_run, tmp_path):
    copy, env = toy_run
    man = pd.read_csv(copy / "results/synthetic/manifest.csv")
    row = man[(man["split"] == "test") & man["anomalous"]].iloc[0]
    out = tmp_path / "watch.csv"
    res = subprocess.run([sys.executable, "-m", "vadflow", "watch", "--model", str(copy / "results/synthetic/toy/model.pt"),
                          str(copy / "data/synthetic" / row["path"]), "--out", str(out)],
                         capture_output=True, text=True, timeout=600, env=env, cwd=copy)
    assert res.returncode == 0, res.stderr[-4000:]
    with open(out) as f:
        online = np.array([float(r["score"]) for r in csv.DictReader(f)])
    with h5py.File(copy / "results/synthetic/toy/scores.h5") as f:
        offline = f[row["id"]][()]
    assert len(online) == len(offline) == int(row["frames"])
    np.testing.assert_allclose(online, offline, rtol=1e-5, atol=1e-5)
