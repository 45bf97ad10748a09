"""How jobs run: the CLI every rule calls, their threads, and the GPUs a job requests
(workflow/rules/data.smk's header)."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from vadflow.config.sections import detector_params, extractor_params, head_params, is_lstm, method_params


def shell_prefix(deployment: Any = ()) -> str:
    """Snakemake's ``shell.prefix``: bash strict mode, and ``vadflow`` defined as a shell
    function, so every rule's ``vadflow <subcommand> ...`` runs this package's CLI.

    Snakemake does not put its own interpreter's bin directory on a job's PATH, so a bare
    ``vadflow`` would miss a venv that was not activated (or find another install). The
    function runs ``python -m vadflow`` with this package's folder first on PYTHONPATH: the
    very code that built the DAG. Without ``--sdm conda`` the python is the one running
    Snakemake (which has the dependencies); with it, the rule's environment's own python.
    ``deployment``: Snakemake's ``workflow.deployment_settings.deployment_method``.
    """
    conda = "CONDA" in {getattr(m, "name", str(m)).upper() for m in deployment}
    root = shlex.quote(str(Path(__file__).resolve().parents[2]))
    python = "python" if conda else shlex.quote(sys.executable)
    prefix = f'set -euo pipefail; vadflow() {{ PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}} {python} -m vadflow "$@"; }}; '
    return prefix.replace("{", "{{").replace("}", "}}")  # shell.prefix() formats its argument


def job_threads(wildcards: Any, threads: int) -> int:
    """``cpus_per_task`` resource: the job's threads (after any ``set-threads`` of a profile)."""
    return threads


def asks_for_cuda(params: dict[str, Any]) -> bool:
    """``device: cuda`` or ``cuda:N``; ``auto`` uses a GPU when the node has one but requests none."""
    return str(params.get("device", "auto")).startswith("cuda")


#: per stage: (the config section, how one job's resolved params are found from its wildcards).
_GPU_STAGES = {
    "features": ("features", lambda c, wc: extractor_params(c, wc.dataset, wc.extractor)),
    # merge_features: only an lstm extractor's job runs a model (the others copy or import)
    "merge": ("features", lambda c, wc: p if is_lstm(p := extractor_params(c, wc.dataset, wc.extractor)) else {}),
    "methods": ("methods", lambda c, wc: method_params(c, wc.dataset, wc.method)),
    "heads": ("heads", lambda c, wc: head_params(c, wc.dataset, wc.head)),
    "detectors": ("detectors", lambda c, wc: detector_params(c, wc.dataset, wc.detector)),
}


def gpu_resources(config: dict, stage: str) -> dict[str, Any]:  # stage: a key of _GPU_STAGES
    """``resources:`` of a job that can run torch on a GPU: ``{"gpu": <per job 0 or 1>}`` when
    some entry of ``stage`` (base or a dataset override) asks for CUDA, else nothing, so a CPU
    config never mentions GPUs to the cluster. Used as ``resources: ..., **vc.gpu_resources(config, "methods")``."""
    section, resolve = _GPU_STAGES[stage]
    entries = [sec or {} for sec in (config.get(section) or {}).values()]
    for dsec in config["datasets"].values():
        entries += [o or {} for o in dsec.get("overrides", {}).get(section, {}).values()]
    if not any(asks_for_cuda(e) for e in entries):
        return {}
    return {"gpu": lambda wc: int(asks_for_cuda(resolve(config, wc)))}
