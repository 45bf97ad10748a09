"""Config resolution shared by the Snakefile and the CLI.

The Snakefile holds no logic: every input function, wildcard constraint and params value
comes from here. Each job's ``params`` is the smallest config section its output depends
on, so Snakemake's params rerun trigger rebuilds exactly the affected jobs.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from vadflow.io import config_hash

#: extractor keys that change how a job runs but not the numbers it writes; they stay in
#: params (a user editing them expects a rerun) but are excluded from the attrs hash so a
#: consumer does not reject features computed on another device or batch size.
RUNTIME_KEYS = ("batch_size", "device", "shards", "decoder", "amp")


class ConfigError(ValueError):
    """A config value is inconsistent in a way the JSON schema cannot express."""


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dataset_section(config: dict, dataset: str) -> dict[str, Any]:
    try:
        return config["datasets"][dataset]
    except KeyError:
        known = ", ".join(sorted(config.get("datasets", {})))
        raise ConfigError(f"unknown dataset {dataset!r}: config key datasets.{dataset} is missing (known: {known})") from None


def datasets_of_kind(config: dict, kind: str) -> list[str]:
    return sorted(name for name, sec in config["datasets"].items() if sec["kind"] == kind)


def generator_params(config: dict, dataset: str) -> dict[str, Any]:
    return dataset_section(config, dataset)["generator"]


def data_params(config: dict, dataset: str) -> dict[str, Any]:
    """The dataset section minus what other stages own (generator, per-stage overrides)."""
    sec = dataset_section(config, dataset)
    out = {k: v for k, v in sec.items() if k not in ("generator", "overrides")}
    out["root"] = dataset_root(config, dataset)
    return out


def _stage_params(config: dict, dataset: str, stage: str, name: str) -> dict[str, Any]:
    """``<stage>.<name>`` with ``datasets.<dataset>.overrides.<stage>.<name>`` merged in, plus its name."""
    try:
        base = config[stage][name]
    except KeyError:
        known = ", ".join(sorted(config.get(stage, {})))
        raise ConfigError(f"unknown {stage} entry {name!r}: config key {stage}.{name} is missing (known: {known})") from None
    over = dataset_section(config, dataset).get("overrides", {}).get(stage, {}).get(name, {})
    return {"name": name, **deep_merge(base, over)}


def extractor_params(config: dict, dataset: str, extractor: str) -> dict[str, Any]:
    return _stage_params(config, dataset, "features", extractor)


def method_params(config: dict, dataset: str, method: str) -> dict[str, Any]:
    return _stage_params(config, dataset, "methods", method)


def extractor_hash(params: dict[str, Any]) -> str:
    """Hash of the extractor settings that determine the feature values."""
    return config_hash({k: v for k, v in params.items() if k not in RUNTIME_KEYS})


def as_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def shard_names(config: dict, dataset: str, extractor: str) -> list[str]:
    n = int(extractor_params(config, dataset, extractor)["shards"])
    return [f"{i}-of-{n}" for i in range(n)]


def method_names(config: dict) -> list[str]:
    return list(config.get("run_methods") or config["methods"].keys())


def default_targets(config: dict) -> list[str]:
    """What `rule all` builds; `check` has already verified that `dataset` names a dataset."""
    return [f"results/{config['dataset']}/summary.csv"]


def check(config: dict) -> None:
    """Cross-key checks the JSON schema cannot express; raise naming the key."""
    dataset_section(config, config["dataset"])
    for name, sec in config["methods"].items():
        if sec.get("features") not in config["features"]:
            raise ConfigError(
                f"methods.{name}.features = {sec.get('features')!r} names no extractor under `features:` "
                f"(known: {', '.join(sorted(config['features']))})"
            )
    for name in config.get("run_methods") or []:
        if name not in config["methods"]:
            raise ConfigError(f"run_methods lists {name!r}, which is not a key of `methods:`")
    for name, sec in config["datasets"].items():
        if sec["kind"] == "synthetic" and sec.get("root", f"data/{name}") != f"data/{name}":
            raise ConfigError(f"datasets.{name}.root: a synthetic dataset is generated at data/{name}; remove the root key")
        if sec["kind"] != "synthetic" and not sec.get("root"):
            raise ConfigError(f"datasets.{name}.root is required: the folder holding the videos and list files")
        for ext in sec.get("overrides", {}).get("features", {}):
            if ext not in config["features"]:
                raise ConfigError(f"datasets.{name}.overrides.features.{ext} overrides an extractor that `features:` does not define")
        for meth in sec.get("overrides", {}).get("methods", {}):
            if meth not in config["methods"]:
                raise ConfigError(f"datasets.{name}.overrides.methods.{meth} overrides a method that `methods:` does not define")


def dataset_root(config: dict, dataset: str) -> str:
    sec = dataset_section(config, dataset)
    return f"data/{dataset}" if sec["kind"] == "synthetic" else sec["root"]


def dataset_inputs(config: dict, dataset: str) -> list[str]:
    """Files the manifest job depends on: the generated folder, or the real list/annotation files.

    For real data the list and annotation files are inputs, so editing them (or adding a
    split file) rebuilds the manifest; a missing root yields no inputs and the job itself
    fails with the layout help.
    """
    sec = dataset_section(config, dataset)
    if sec["kind"] == "synthetic":
        return [dataset_root(config, dataset)]
    from vadflow.data.ucf_crime import DatasetError, find_files

    try:
        return [str(p) for p in find_files(sec["root"], index_videos=False).used()]
    except DatasetError:
        return []


def method_features(config: dict, dataset: str, method: str) -> str:
    return f"results/{dataset}/features/{method_params(config, dataset, method)['features']}.h5"
