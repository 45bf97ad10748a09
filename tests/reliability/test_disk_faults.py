"""Gap 8: a write that fails midway (disk full, file too large, read-only folder) leaves no
partial file under the artifact's name, keeps its previous version, and names the path."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

from .fault_writers import SUFFIX, WRITERS

HERE = Path(__file__).resolve().parent


def run_writer(name: str, path: Path, *args: str, prefix: list[str] = ()) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "workflow"), os.environ.get("PYTHONPATH", "")])}
    cmd = [*prefix, sys.executable, str(HERE / "fault_writers.py"), name, str(path), *args]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and res.stdout.strip(), res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def assert_refused(out: dict, path: Path, reason: str) -> None:
    assert out["error"] == "ArtifactWriteError" and "OSError" in out["bases"], out
    assert out["message"] == f"writing {path} failed: {reason}; nothing was left under that name", out["message"]
    assert out["old_kept"] and out["temps"] == [], out


@pytest.mark.parametrize("name", list(WRITERS))
def test_write_failing_midway_keeps_the_old_version_and_names_the_path(tmp_path, name):
    """Portable (no mount, any user): a 32 KiB file-size limit fails the second write midway."""
    path = tmp_path / f"artifact{SUFFIX[name]}"
    assert_refused(run_writer(name, path, "--limit", "32768"), path, "[Errno 27] File too large")


def _mount_namespace() -> list[str] | None:
    """`unshare -rm` (a user and mount namespace: works for root and, where user namespaces
    are allowed, for anyone), so a test can mount its own tmpfs; None where it cannot."""
    if not shutil.which("unshare") or not shutil.which("mount"):
        return None
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"], capture_output=True)
    return ["unshare", "-rm"] if probe.returncode == 0 else None


NAMESPACE = _mount_namespace()
needs_mount = pytest.mark.skipif(NAMESPACE is None, reason="cannot mount a tmpfs here (no unshare or user namespaces)")


def on_tmpfs(tmp_path: Path, size: str) -> list[str]:
    """A command prefix running the writer with ``tmp_path`` on a fresh tmpfs of ``size``."""
    return [*NAMESPACE, "sh", "-c", f'mount -t tmpfs -o size={size} tmpfs "$0" && exec "$@"', str(tmp_path)]


@needs_mount
@pytest.mark.parametrize("name", ["scores", "model", "features", "table"])
def test_disk_full_keeps_the_old_version_and_names_the_path(tmp_path, name):
    """A real ENOSPC: the first version (about 2.4 MB) fits on the 4 MB tmpfs, a second copy beside it does not."""
    path = tmp_path / f"artifact{SUFFIX[name]}"
    assert_refused(run_writer(name, path, prefix=on_tmpfs(tmp_path, "4m")), path, "[Errno 28] No space left on device")


@needs_mount
@pytest.mark.parametrize("name", ["scores", "model", "merged", "table"])
def test_read_only_folder_even_for_root(tmp_path, name):
    """chmod does not stop root; a read-only mount does."""
    path = tmp_path / f"artifact{SUFFIX[name]}"
    out = run_writer(name, path, "--remount-ro", prefix=on_tmpfs(tmp_path, "64m"))
    assert_refused(out, path, "[Errno 30] Read-only file system")


def test_the_cli_reports_a_failed_write_in_one_line(tmp_path):
    """A job that cannot write its output exits 1 with one line naming the output, no traceback."""
    import torch

    src, out = tmp_path / "in.pt", tmp_path / "out.pt"
    torch.save({"w": torch.zeros(200_000)}, src)
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (32768, 32768)); "
            "from vadflow.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "workflow"), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", code, "weights", "convert", "--trust", "--out", str(out), str(src)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    (line,) = [ln for ln in res.stderr.splitlines() if "ERROR" in ln]
    assert line.endswith(f"ArtifactWriteError: writing {out} failed: [Errno 27] File too large; nothing was left under that name")
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
