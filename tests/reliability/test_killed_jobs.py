"""Gap 4: a training job and a scoring job SIGKILLed mid-way leave nothing under their output
names, and the rerun's outputs equal an uninterrupted run's (extraction: tests/test_workflow.py)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import ROOT

from .helpers import snakemake
from .test_determinism import assert_same_results

pytestmark = pytest.mark.e2e

#: A ``sitecustomize`` module put on PYTHONPATH for the killed run. Rules run the CLI as
#: ``python -m vadflow`` (config.shell_prefix), so a wrapper on PATH would never be called;
#: Python imports sitecustomize at start-up in every job instead. The CLI runs as usual, except
#: that the named training job stops after its second optimiser step, and the named scoring job
#: after writing its first video into its HDF5 file (flushed, so the file on disk is half-written).
#: Either then writes its pid to a marker file and sleeps until the test kills the whole run.
SITECUSTOMIZE = textwrap.dedent('''\
    import json, os, sys, time
    from pathlib import Path

    def _pause(tag):
        marker = Path(os.environ["PAUSE_MARKERS"], tag)
        marker.with_suffix(".part").write_text(str(os.getpid()))
        marker.with_suffix(".part").rename(marker)  # the test never reads a marker without its pid
        time.sleep(600)

    _argv = sys.argv[1:]  # ["train", "--cfg", ...] for `python -m vadflow train ...`
    _name = json.loads(_argv[_argv.index("--cfg") + 1]).get("name") if "--cfg" in _argv else None
    if _argv[:1] == ["train"] and _name == os.environ.get("PAUSE_TRAIN"):
        import vadflow.cli  # first: it sets the HDF5 locking policy before h5py loads
        import torch
        _step, _steps = torch.optim.Adam.step, []
        def _paused_step(self, *a, **k):
            _steps.append(1)
            if len(_steps) == 2:
                _pause("train")
            return _step(self, *a, **k)
        torch.optim.Adam.step = _paused_step
    if _argv[:1] == ["score"] and _name == os.environ.get("PAUSE_SCORE"):
        import vadflow.cli
        import h5py
        _create = h5py.Group.create_dataset
        def _paused_create(self, *a, **k):
            ds = _create(self, *a, **k)
            self.file.flush()
            _pause("score")
            return ds
        h5py.Group.create_dataset = _paused_create
''')


def kill_run_when_paused(workdir: Path, tmp_path: Path, pauses: dict[str, str], timeout: float = 600) -> dict[str, int]:
    """Start Snakemake with the pausing wrapper; SIGKILL its whole process group once every job
    named in ``pauses`` has paused. Returns the paused jobs' pids (all dead afterwards)."""
    site_dir, markers = tmp_path / "site", tmp_path / "markers"
    site_dir.mkdir()
    markers.mkdir()
    (site_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site_dir), os.environ.get("PYTHONPATH")])),
           "PAUSE_MARKERS": str(markers),
           **{f"PAUSE_{k.upper()}": v for k, v in pauses.items()}}
    # 4 cores: both 2-thread jobs run at once (they still get threads: 2, as in the reference run).
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", "4"]
    run = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def paused() -> list[Path]:
        return [p for p in markers.iterdir() if p.suffix != ".part"]

    deadline = time.time() + timeout
    while time.time() < deadline and run.poll() is None and len(paused()) < len(pauses):
        time.sleep(0.05)
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert sorted(p.name for p in paused()) == sorted(pauses), "the jobs did not pause: the kill did not land mid-way"
    pids = {p.name: int(p.read_text()) for p in paused()}
    for pid in pids.values():  # they were in Snakemake's process group; wait until they are gone
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"paused job {pid} survived the kill")
    return pids


def test_killed_train_and_score_leave_nothing_and_rerun_equals_uninterrupted(reference_run, tmp_path):
    results = Path("results/ucf")
    wd = tmp_path / "run"
    shutil.copytree(reference_run, wd, symlinks=True)
    # adnet retrains (its model and everything after it gone), mlp only rescores (its scores and
    # everything after them gone): Snakemake reruns no job for a missing intermediate file alone.
    after_scores = ["scores.h5", "per_video.csv", "per_class.csv", "timelines.png"]
    gone = ["adnet/model.pt", *(f"{m}/{f}" for m in ("adnet", "mlp") for f in after_scores),
            *(f"{m}_{t}.csv" for m in ("adnet", "mlp") for t in ("auc", "f1")), "summary.csv", "report.html"]
    for rel in gone:
        (wd / results / rel).unlink()
    pids = kill_run_when_paused(wd, tmp_path, {"train": "adnet", "score": "mlp"})

    # Nothing under the output names; the half-written scores file exists only under its temp name.
    assert not (wd / results / "adnet/model.pt").exists() and not (wd / results / "mlp/scores.h5").exists()
    temp = wd / results / f"mlp/.scores.h5.{pids['score']}.tmp"
    assert temp.is_file() and temp.stat().st_size > 0

    snakemake(wd, "--unlock")
    res = snakemake(wd, "--rerun-incomplete")
    assert "rule train:" in res.stderr and "rule score:" in res.stderr
    assert not temp.exists()  # the rerun's writer removed the dead writer's temp file
    assert not list((wd / results).rglob(".*.tmp"))
    assert_same_results(reference_run, wd)
