"""Session fixtures of the reliability tests (helpers.py holds the functions they use)."""
from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import GENERATOR, HOSTILE, ROOT_NAME, rename_videos, snakemake, tiny_config, write_config


@pytest.fixture(scope="session")
def hostile_root(tmp_path_factory) -> Path:
    from vadflow.data.synthetic import generate

    base = tmp_path_factory.mktemp("hostile")
    root = base / ROOT_NAME
    generate(GENERATOR, root, progress=False)
    rename_videos(root, HOSTILE)
    return root


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, hostile_root) -> Path:
    """One uninterrupted run of every method kind on the hostile dataset: the reference."""
    wd = tmp_path_factory.mktemp("run_a")
    write_config(wd, tiny_config(hostile_root))
    snakemake(wd)
    return wd


