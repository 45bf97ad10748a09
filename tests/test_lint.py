"""The workflow's own hygiene, checked on every CI run: `snakemake --lint` finds nothing,
`snakefmt --check` passes on the Snakefile and the rules, and every rule declares its
environment and the resources a cluster needs (workflow/rules/data.smk's header)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

RULE_FILES = sorted((ROOT / "workflow/rules").glob("*.smk"))
ENVS = {"data.yaml", "features.yaml", "methods.yaml", "report.yaml"}


def rules() -> dict[str, str]:
    """``{rule name: its text}`` of every rule in the rules files."""
    out = {}
    for path in RULE_FILES:
        text = path.read_text()
        starts = [(m.start(), m.group(1)) for m in re.finditer(r"^rule (\w+):", text, re.M)]
        for (start, name), (end, _) in zip(starts, starts[1:] + [(len(text), "")]):
            out[name] = text[start:end]
    return out


def test_snakemake_lint_is_clean():
    res = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "-s", str(ROOT / "Snakefile"), "-d", str(ROOT)],
                         capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "Lints for" not in out, out[-4000:]


def test_snakefmt_check_passes():
    exe = shutil.which("snakefmt", path=str(Path(sys.executable).parent)) or shutil.which("snakefmt")
    if exe is None:
        pytest.fail("snakefmt is not installed: it is in the test extras (pip install -e '.[test]')")
    res = subprocess.run([exe, "--check", "--config", str(ROOT / "pyproject.toml"), str(ROOT / "Snakefile"),
                          str(ROOT / "workflow/rules")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"run `snakefmt Snakefile workflow/rules`:\n{res.stdout}{res.stderr}"


@pytest.mark.parametrize("name", sorted(n for n, text in rules().items() if "shell:" in text))  # not `all`
def test_every_rule_declares_environment_threads_and_resources(name):
    text = rules()[name]
    env = re.search(r'conda:\s*\n\s*"\.\./\.\./envs/([\w.]+)"', text)
    assert env and env.group(1) in ENVS, f"rule {name}: conda: must name one of envs/{sorted(ENVS)}"
    assert re.search(r"^\s*threads:", text, re.M), f"rule {name}: no threads:"
    for key in ("runtime", "mem_mb", "cpus_per_task"):
        assert re.search(rf"^\s*{key}=", text, re.M), f"rule {name}: resources lack {key}"


@pytest.mark.parametrize("env", sorted(ENVS))
def test_environment_files_are_conda_forge_and_torch_where_needed(env):
    doc = yaml.safe_load((ROOT / "envs" / env).read_text())
    assert doc["channels"] == ["conda-forge"]
    names = {re.split(r"[=<>!\s]", d)[0] for d in doc["dependencies"] if isinstance(d, str)}
    assert "python=3.11" in doc["dependencies"] and {"numpy", "h5py"} <= names
    # torch only where a job runs a model: decoding and the report must not pull in GBs of it
    assert ("pytorch" in names) == (env in ("features.yaml", "methods.yaml")), names
