"""Gap 6: one config and seed on one machine give bit-identical scores.h5 and metric CSVs over
two full runs, for every method kind; every model records the library versions and threads."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from .helpers import METHODS, snakemake, tiny_config, write_config

RESULTS = Path("results/ucf")


def h5_content(path: Path) -> dict:
    """Datasets (dtype, shape, bytes) and attrs of an HDF5 file; not its layout bytes, which
    hold no data but may differ (free-space, object headers)."""
    out = {}

    def attrs(obj) -> dict:
        return {k: np.asarray(v).tobytes() if isinstance(v, np.ndarray) else v for k, v in obj.attrs.items()}

    with h5py.File(path) as f:
        out["/"] = attrs(f)

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = (str(obj.dtype), obj.shape, obj[()].tobytes(), attrs(obj))
            else:
                out[name] = attrs(obj)

        f.visititems(visit)
    return out


def tensors_equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(tensors_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(tensors_equal(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)  # NaN == NaN here


def assert_same_results(run_a: Path, run_b: Path) -> None:
    """Every metric CSV byte for byte; scores, features and labels by content; models by value."""
    a, b = run_a / RESULTS, run_b / RESULTS
    csvs = sorted(p.relative_to(a) for p in a.rglob("*.csv"))
    assert len(csvs) >= 4 * len(METHODS) + 3 and csvs == sorted(p.relative_to(b) for p in b.rglob("*.csv"))
    for rel in csvs:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), f"{rel} differs"
    for rel in [Path(m) / "scores.h5" for m in METHODS] + [Path("features/i3d.h5"), Path("labels.h5")]:
        assert h5_content(a / rel) == h5_content(b / rel), f"{rel} differs"
    for m in METHODS:
        ma, mb = (torch.load(r / m / "model.pt", weights_only=True) for r in (a, b))
        assert tensors_equal(ma["state"], mb["state"]), f"{m}/model.pt differs"


@pytest.mark.e2e
def test_two_full_runs_are_bit_identical(reference_run, hostile_root, tmp_path):
    run_b = tmp_path / "run_b"
    write_config(run_b, tiny_config(hostile_root))
    snakemake(run_b)
    assert_same_results(reference_run, run_b)


@pytest.mark.e2e
def test_models_record_versions_and_threads(reference_run):
    for m in METHODS:
        meta = torch.load(reference_run / RESULTS / m / "model.pt", weights_only=True)["meta"]
        assert meta["torch"] == str(torch.__version__) and meta["numpy"] == np.__version__
        assert meta["threads"] == 2  # the rules' `threads: 2` with --cores 2
