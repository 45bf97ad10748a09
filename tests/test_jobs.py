"""How jobs run: the `vadflow` shell function every rule calls (no activated venv needed), and
GPU requests that exist only when the config asks for CUDA."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml
from snakemake.utils import validate

import vadflow.config as vc
from conftest import ROOT


def bash_prefix(deployment=()) -> str:
    # Snakemake's shell.prefix() formats its argument once: undo the brace doubling the same way
    return vc.shell_prefix(deployment).format()


def test_vadflow_function_runs_the_cli_without_the_venv_on_path():
    """A venv's python run as .venv/bin/snakemake without activation: PATH has no `vadflow`."""
    res = subprocess.run(["bash", "-c", bash_prefix() + "vadflow summary --help"], env={"PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "usage: vadflow summary" in res.stdout, res.stderr
    assert bash_prefix().startswith("set -euo pipefail; ")  # Snakemake's own default prefix, kept


def test_vadflow_function_uses_the_conda_environments_python_under_sdm_conda():
    conda = SimpleNamespace(name="CONDA")
    assert sys.executable in bash_prefix() and sys.executable not in bash_prefix([conda])
    assert " python -m vadflow " in bash_prefix([conda])
    # the package folder comes first on PYTHONPATH either way: the code that built the DAG
    assert f"PYTHONPATH={ROOT / 'workflow'}" in bash_prefix([conda])


@pytest.fixture()
def cfg():
    c = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    validate(c, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return c


def test_no_gpu_resource_unless_a_section_asks_for_cuda(cfg):
    assert all(vc.gpu_resources(cfg, stage) == {} for stage in ("features", "merge", "methods", "heads"))


def test_gpu_resource_follows_each_jobs_device(cfg):
    cfg["methods"]["adnet"]["device"] = "cuda"
    cfg["datasets"]["ucf_crime"].setdefault("overrides", {})["features"] = {"i3d": {"device": "cuda:1"}}
    gpu = vc.gpu_resources(cfg, "methods")["gpu"]
    wc = lambda **kw: SimpleNamespace(**kw)  # noqa: E731
    assert gpu(wc(dataset="synthetic", method="adnet")) == 1 and gpu(wc(dataset="synthetic", method="edtcn")) == 0
    # a dataset override asking for CUDA requests a GPU on that dataset only
    feat = vc.gpu_resources(cfg, "features")["gpu"]
    assert feat(wc(dataset="ucf_crime", extractor="i3d")) == 1 and feat(wc(dataset="synthetic", extractor="i3d")) == 0
    assert vc.gpu_resources(cfg, "heads") == {}
    # merge_features runs a model only for an lstm extractor
    merge = vc.gpu_resources(cfg, "merge")["gpu"]
    assert merge(wc(dataset="ucf_crime", extractor="i3d")) == 0
    cfg["features"]["xception_lstm"]["device"] = "cuda"
    assert vc.gpu_resources(cfg, "merge")["gpu"](wc(dataset="synthetic", extractor="xception_lstm")) == 1


def test_a_cuda_config_sends_gpu_requests_to_the_scheduler(tmp_path):
    """Dry run: with `device: cuda` on a method its train and score jobs carry gpu=1, the rest none."""
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["methods"]["adnet"]["device"] = "cuda"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "-n",
                          "results/synthetic/adnet_auc.csv", "results/synthetic/edtcn/scores.h5"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = res.stdout.split("\nrule ")[1:] + res.stdout.split("\nlocalrule ")[1:]
    gpu = sorted(j.split(":")[0] + ":" + j.split("wildcards: ")[1].split("\n")[0] for j in jobs if "gpu=1" in j)
    assert gpu == ["score:dataset=synthetic, method=adnet", "train:dataset=synthetic, method=adnet"], gpu
