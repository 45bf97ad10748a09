"""Every shell command in README.md's code blocks runs here, as written, so that a README
command cannot break while CI is green: Snakemake lines as a dry run (``-n``) in a scratch
copy of the repository with UCF-Crime's list files and placeholder weights, install lines
through ``--help`` (plus: the extras they name exist), the test line as a collection run.

``.venv/bin/X`` is the interpreter's own folder: CI runs this file from the venv the README's
install line made, so there it is exactly the README's path.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

BIN = Path(sys.executable).parent


def readme_commands(text: str) -> list[str]:
    """The commands of the ```bash blocks, one per line (a trailing backslash continues one)."""
    out: list[str] = []
    for block in re.findall(r"^\s*```(?:bash|sh|shell)\n(.*?)^\s*```", text, re.M | re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        out += [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return out


COMMANDS = readme_commands((ROOT / "README.md").read_text())


def program(word: str) -> str:
    return str(BIN / word[len(".venv/bin/"):]) if word.startswith(".venv/bin/") else word


def plan(part: str) -> tuple[str, list[str]]:
    """How one ``&&``-separated part of a README line is checked here: (kind, argv)."""
    argv = shlex.split(part, comments=True)
    exe, name = program(argv[0]), Path(argv[0]).name
    if name == "snakemake":
        args = argv[1:]
        if "--sdm" in args and shutil.which("conda") is None:
            # conda cannot be installed here; the dry run still checks the rest of the line
            # and test_lint.py that every rule's environment file exists.
            i = args.index("--sdm")
            args = args[:i] + args[i + 2:]
        return "dry-run", [exe, *args, "-n"]
    if name.startswith("python") and argv[1:3] == ["-m", "venv"]:
        return "help", [exe, "-m", "venv", "--help"]
    if name.startswith("python") and argv[1:3] == ["-m", "pytest"]:
        return "help", [exe, "-m", "pytest", "--help"]  # CI runs this very line for real
    if name.startswith("pip") and argv[1] == "install":
        return "install", [exe, "install", "--help"]
    if name == "vadflow" and argv[1] == "watch":
        # a live camera or stream cannot be reached here: the line's arguments go through the real
        # parser and the model and file it names are checked (test_watch.py runs watch for real)
        return "watch", [exe, *argv[1:]]
    raise AssertionError(f"README command {part!r}: no way to check it here; teach tests/test_readme.py")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, fixtures_dir) -> Path:
    """The repository's workflow files, UCF-Crime's real list files under the configured root,
    empty placeholders for every weights path and folder the real-data configs name."""
    d = tmp_path_factory.mktemp("readme")
    for name in ("Snakefile", "workflow", "config", "profiles", "envs", "pyproject.toml"):
        (d / name).symlink_to(ROOT / name)
    cfg = yaml.safe_load((ROOT / "config/ucf_crime.yaml").read_text())
    for sec in cfg["datasets"].values():
        (d / sec["root"]).mkdir(parents=True, exist_ok=True)
        if sec.get("train_list"):
            (d / sec["train_list"]).parent.mkdir(parents=True, exist_ok=True)
            (d / sec["train_list"]).touch()
    # the frame-level benchmarks' roots (README "Frame-level benchmarks"): empty folders suffice
    # for a dry run, which builds the DAG without reading the ground truth
    for sec in yaml.safe_load((ROOT / "config/benchmarks.yaml").read_text())["datasets"].values():
        for key in ("root", "ground_truth"):
            if sec.get(key):
                (d / sec[key]).mkdir(parents=True, exist_ok=True)
    # XD-Violence from its feature files (README "XD-Violence and CLIP features"): the root and the
    # folders its imports read; empty is enough to build the DAG
    xd = yaml.safe_load((ROOT / "config/xd_violence.yaml").read_text())
    for sec in [*xd["datasets"].values(), *xd["features"].values()]:
        for key in ("root", "path"):
            if sec.get(key):
                (d / sec[key]).mkdir(parents=True, exist_ok=True)
    ucf = d / cfg["datasets"]["ucf_crime"]["root"]
    for name in ("Anomaly_Train.txt", "Temporal_Anomaly_Annotation.txt"):
        shutil.copy(fixtures_dir / name, ucf / name)
    # precomputed detections the real-data config imports (README: ADOR's objects)
    for sec in cfg.get("detectors", {}).values():
        path = (sec.get("precomputed") or {}).get("path")
        if path:
            (d / path).parent.mkdir(parents=True, exist_ok=True)
            (d / path).touch()
    for sec in cfg["features"].values():
        if sec.get("weights") and sec["weights"] != "random":
            (d / sec["weights"]).parent.mkdir(parents=True, exist_ok=True)
            (d / sec["weights"]).touch()
    return d


def test_readme_has_the_promised_commands():
    """Two commands set up and run the default, one runs the tests, and CI installs and tests
    with the very same lines; targets come first."""
    quick = COMMANDS[:3]
    assert "venv" in quick[0] and "pip install" in quick[0] and quick[1].endswith("snakemake --cores 2"), quick
    assert "pytest" in quick[2], quick
    ci = (ROOT / ".ci/run").read_text().splitlines()
    assert quick[0] in ci and quick[2] in ci, ".ci/run must install and test with the README's own lines"
    for cmd in COMMANDS:
        if "snakemake" in cmd and "--configfile" in cmd:
            words = shlex.split(cmd)
            targets = [w for w in words[1:] if w.startswith("results/")]
            first_option = next(i for i, w in enumerate(words) if w.startswith("-"))
            assert targets and all(words.index(t) < first_option for t in targets), f"target after an option in {cmd!r}"


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs(command, scratch):
    for part in command.split(" && "):
        kind, argv = plan(part)
        if kind == "watch":
            check_watch_line(argv[1:])
            continue
        res = subprocess.run(argv, cwd=scratch, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"README command {part!r} ({kind}: {' '.join(argv)}) failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        if kind == "dry-run":
            assert "This was a dry-run" in res.stdout + res.stderr or "Nothing to be done" in res.stdout + res.stderr
        if kind == "install":
            extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
            for want in re.findall(r"\.\[([\w,-]+)\]", part):
                assert set(want.split(",")) <= extras, f"{part!r} names extras {want} but pyproject.toml has {sorted(extras)}"


def check_watch_line(args: list[str]) -> None:
    """A README ``vadflow watch`` line parses, names a method its dataset's config defines, and a
    local file source is one the synthetic generator writes."""
    from vadflow.cli import build_parser
    from vadflow.data.synthetic import plans

    a = build_parser().parse_args(args)
    parts = Path(a.model).parts
    assert len(parts) == 4 and parts[0] == "results" and parts[3] == "model.pt", a.model
    dataset, method = parts[1], parts[2]
    from vadflow.config import data_params, deep_merge, generator_params, validate

    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    if dataset == "ucf_crime":
        cfg = deep_merge(cfg, yaml.safe_load((ROOT / "config/ucf_crime.yaml").read_text()))
    validate(cfg)
    assert method in cfg["methods"], f"README watches {a.model}, but no method {method!r} is configured"
    if a.source.startswith("data/"):
        root = Path(data_params(cfg, dataset)["root"])
        written = {str(root / spec.relpath) for spec, _ in plans(generator_params(cfg, dataset))}
        assert a.source in written, f"README watches {a.source}, which the synthetic generator does not write"
    else:
        assert a.source.isdigit() or "://" in a.source, a.source
