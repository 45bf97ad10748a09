"""What the reproduction tables need from the config (docs/reproduction.md): which published
figures apply to a dataset, which of the config's methods they name, and our protocol in the
published file's vocabulary (the features and crops each method reads)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from vadflow import paths
from vadflow.config.inputs import output_files
from vadflow.config.sections import ConfigError, dataset_section, extractor_params, frames_params, method_names, method_reads


def published_file() -> str:
    """The published figures (workflow/published.yaml): an input of the jobs that read it, so editing it reruns them."""
    from vadflow.evaluation.reproduction import DEFAULT_PATH

    return str(DEFAULT_PATH)


def dataset_info(config: dict, dataset: str) -> dict[str, Any]:
    """The dataset's kind and subset as the published file names them (UCF-Crime's ``version``;
    UCSD's ped1 / ped2 from its root folder's name)."""
    sec = dataset_section(config, dataset)
    kind = sec["kind"]
    subset = None
    if kind in ("ucf_crime", "synthetic"):
        subset = sec.get("version", "v1")
    elif kind == "ucsd":
        name = Path(str(sec.get("root", ""))).name.lower()
        subset = next((s for s in ("ped1", "ped2") if name.endswith(s)), None)
    return {"dataset": dataset, "kind": kind, "subset": subset, "synthetic": kind == "synthetic"}


def method_protocols(config: dict, dataset: str) -> dict[str, dict[str, str]]:
    """Per method of ``rule all``: the features it reads and how they are cropped, as published.yaml's tokens."""
    from vadflow.evaluation.reproduction import crop_token, feature_token

    out = {}
    for m in method_names(config):
        reads = method_reads(config, dataset, m)
        if reads.frames:
            sections = [frames_params(config, dataset, reads.frames)]
        else:
            sections = [extractor_params(config, dataset, e) for e in reads.features]
        out[m] = {"features": "+".join(feature_token(s) for s in sections), "crops": crop_token(sections[0])}
    return out


def _entries(config: dict, dataset: str, group: str | None = None) -> list[dict[str, Any]]:
    from vadflow.evaluation.reproduction import applicable, load_published

    info = dataset_info(config, dataset)
    return applicable(load_published(), info["kind"], info["subset"], methods=method_names(config), group=group)


def reproduction_groups(config: dict, dataset: str) -> list[str]:
    """The published groups (seed documents, papers) with a figure the config can reproduce on ``dataset``."""
    return list(dict.fromkeys(e["group"] for e in _entries(config, dataset)))


def reproduction_inputs(config: dict, dataset: str, group: str) -> dict[str, list[str]]:
    """The metric files of the config's methods that ``group``'s published figures name on ``dataset``:
    exactly what its one-command table (``reproduce_<group>``) builds."""
    methods = list(dict.fromkeys(e["method"] for e in _entries(config, dataset, group)))
    if not methods:
        raise ConfigError(f"no published figure of group {group!r} applies to dataset {dataset} with the methods this config "
                          f"defines (groups here: {', '.join(reproduction_groups(config, dataset)) or 'none'}; docs/reproduction.md)")
    def per(template: str) -> list[str]:
        return [template.format(dataset=dataset, method=m) for m in methods]

    sub = {**config, "run_methods": methods}
    return {"auc": per(paths.AUC), "f1": per(paths.F1), "details": per(paths.EVALUATION),
            "thesis": output_files(sub, dataset, "thesis"), "video_level": output_files(sub, dataset, "video_level"),
            "published": [published_file()]}
