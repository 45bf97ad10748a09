"""Config sections as each job sees them: a stage's entry with its dataset overrides merged in.

Each job's ``params`` is the smallest config section its output depends on, so Snakemake's
params rerun trigger rebuilds exactly the affected jobs (docs/architecture.md, "Config
sections scope reruns"). A method's inputs are asked of its kind (:meth:`Method.reads`).
"""
from __future__ import annotations

import copy
from typing import Any


class ConfigError(ValueError):
    """A config value is wrong; the message is one line naming the key, the value and what is allowed."""


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


#: the keys an imported extractor uses; the extraction keys the schema fills in (weights,
#: batch_size, ...) are dropped, so they neither rerun an import nor land in its attrs.
IMPORT_KEYS = ("name", "source", "format", "path", "crops", "score_crop", "missing", "clip_len", "stride", "dtype")


#: the keys an lstm extractor (source: lstm, the Xception-LSTM clip extractor) uses; as for an
#: import, the extraction keys the schema fills in are dropped.
LSTM_KEYS = ("name", "source", "sequences", "hidden", "standardize", "pretrain", "seed", "dtype", "device")


#: the keys a concat extractor (source: concat, several feature sets joined per snippet) uses.
CONCAT_KEYS = ("name", "source", "inputs", "align", "dtype")


#: backbones whose model has ``forward_frames`` (2-D frame CNNs): the ones `frames: true` accepts.
FRAME_BACKBONES = ("xception", "resnet50_2d")


def storage_dtype(params: dict[str, Any]) -> str:
    """The feature file's dtype: ``dtype``, where ``auto`` is float32 for imports (their values
    are stored losslessly; MIL's spec caches float32) and float16 otherwise (half the disk
    for features we compute, well inside their own noise)."""
    dtype = params.get("dtype", "auto")
    if dtype != "auto":
        return dtype
    return "float32" if is_import(params) or is_concat(params) else "float16"


def extractor_params(config: dict, dataset: str, extractor: str) -> dict[str, Any]:
    params = _stage_params(config, dataset, "features", extractor)
    # auto resolved here, so the params (and the rerun trigger) name the dtype actually stored;
    # extraction keeps its params (float16) and so its cached features
    if "dtype" in params:
        params["dtype"] = storage_dtype(params)
    if is_import(params):
        return {k: v for k, v in params.items() if k in IMPORT_KEYS}
    if is_lstm(params):
        return {k: v for k, v in params.items() if k in LSTM_KEYS}
    if is_concat(params):
        return {"align": "truncate", **{k: v for k, v in params.items() if k in CONCAT_KEYS}}
    return params


#: a repeat's name: ``<method>@r<i>`` (``@`` is not allowed in a config name, so no clash).
REPEAT_SEP = "@r"


def split_unit(name: str) -> tuple[str, int | None]:
    """``"adnet@r2"`` -> ``("adnet", 2)``; a plain method name -> ``(name, None)``."""
    method, sep, i = name.partition(REPEAT_SEP)
    return (method, int(i)) if sep and i.isdigit() else (name, None)


def method_params(config: dict, dataset: str, method: str) -> dict[str, Any]:
    """``methods.<method>`` as ``dataset`` resolves it; for a repeat ``<method>@r<i>`` the same
    section with ``seed + i`` and its own name. ``repeats`` itself is left out: it decides which
    units exist, not what one of them computes, so raising it trains only the new repeats."""
    base, i = split_unit(method)
    params = _stage_params(config, dataset, "methods", base)
    params.pop("repeats", None)
    if i is not None:
        params.update(name=method, seed=int(params.get("seed", 0)) + i)
    return params


def method_repeats(config: dict, dataset: str, method: str) -> int:
    """How many training seeds ``methods.<method>`` runs on ``dataset`` (``repeats``, default 1)."""
    return int(_stage_params(config, dataset, "methods", method).get("repeats", 1) or 1)


def method_units(config: dict, dataset: str, method: str) -> list[str]:
    """The runs of a method (each its own train, score and evaluate jobs): itself, or with
    ``repeats: N`` its repeats ``<method>@r0 .. @r<N-1>`` (seeds seed .. seed+N-1)."""
    n = method_repeats(config, dataset, method)
    return [method] if n == 1 else [f"{method}{REPEAT_SEP}{i}" for i in range(n)]


def head_params(config: dict, dataset: str, head: str) -> dict[str, Any]:
    """``heads.<head>`` with ``datasets.<dataset>.overrides.heads.<head>`` merged in, plus its name."""
    return _stage_params(config, dataset, "heads", head)


def frames_params(config: dict, dataset: str, name: str) -> dict[str, Any]:
    """``frames.<name>`` with ``datasets.<dataset>.overrides.frames.<name>`` merged in, plus its name:
    the frame cache job's params, so editing it reruns that cache and the methods reading it."""
    return _stage_params(config, dataset, "frames", name)


#: clip grid of an extractor that leaves clip_len/stride unset: every backbone's default
#: (tests/test_detection.py checks they agree).
DEFAULT_CLIP = {"clip_len": 16, "stride": 16, "tail": "drop"}


def clip_grid(config: dict, dataset: str, extractor: str) -> dict[str, Any]:
    """``clip_len``, ``stride`` and ``tail`` of an extractor as ``dataset`` resolves it."""
    params = extractor_params(config, dataset, extractor)
    if is_concat(params):  # the snippets of its inputs (checks.py: they must agree)
        return clip_grid(config, dataset, params["inputs"][0])
    if params.get("frame_steps") and params.get("source", "extract") == "extract":
        # a per-sampled-frame extractor (features/sampled.py): one row per sampled frame of each split
        return {"clip_len": 1, "stride": 1, "tail": "drop", "frame_steps": params["frame_steps"]}
    return {k: params.get(k) or v for k, v in DEFAULT_CLIP.items()}


def detector_params(config: dict, dataset: str, detector: str) -> dict[str, Any]:
    """``detectors.<detector>`` with its dataset overrides, plus the clip grid of the extractor it
    aligns with (``features``): the detect job's params, so editing the detector, or the clip
    length/stride of its extractor, reruns it, and nothing else does."""
    params = _stage_params(config, dataset, "detectors", detector)
    ext = params.get("features")
    if ext not in config["features"]:
        raise ConfigError(f"detectors.{detector}.features = {ext!r} names no extractor under `features:` "
                          f"(known: {', '.join(sorted(config['features']))}); it sets the clips the detections align with")
    return {**params, **clip_grid(config, dataset, ext)}


def is_import(params: dict[str, Any]) -> bool:
    return params.get("source", "extract") == "import"


def is_lstm(params: dict[str, Any]) -> bool:
    return params.get("source", "extract") == "lstm"


def is_concat(params: dict[str, Any]) -> bool:
    return params.get("source", "extract") == "concat"


def feature_layout(config: dict, dataset: str, extractor: str) -> str:
    """``clips`` or ``segments32``: what ``features/{extractor}.h5`` of ``dataset`` holds."""
    params = extractor_params(config, dataset, extractor)
    if params.get("frame_steps") and params.get("source", "extract") == "extract":
        return "sampled_frames"  # one row per sampled frame (features/sampled.py): the real-time method's streams
    if params.get("frames") and params.get("source", "extract") == "extract":
        return "clip_frames"  # per-frame features of each clip: read by lstm extractors only
    if not is_import(params):
        return "clips"  # extraction, lstm and concat (whose inputs checks.py requires to be clips)
    from vadflow.features.importers import layout_of

    return layout_of(params)


def dataset_root(config: dict, dataset: str) -> str:
    sec = dataset_section(config, dataset)
    return f"data/{dataset}" if sec["kind"] == "synthetic" else sec["root"]


def method_names(config: dict) -> list[str]:
    return list(config.get("run_methods") or config["methods"].keys())


def method_class(config: dict, dataset: str, method: str) -> type:
    """The Method class of ``methods.<method>``'s kind (an unknown kind names the known ones)."""
    from vadflow.methods import KINDS, get_method

    kind = method_params(config, dataset, method).get("kind")
    if kind not in KINDS:
        raise ConfigError(f"methods.{method}.kind = {kind!r}: expected one of {', '.join(KINDS)} (the kinds of vadflow.methods)")
    return get_method(kind)


def method_reads(config: dict, dataset: str, method: str):
    """What ``methods.<method>`` reads on ``dataset`` (:class:`vadflow.methods.base.Inputs`), as its kind says."""
    return method_class(config, dataset, method).reads(method_params(config, dataset, method))


def method_outputs(config: dict, dataset: str, method: str) -> tuple[str, ...]:
    """The further result files (vadflow.paths.METHOD_OUTPUTS names) ``methods.<method>`` writes, as its kind says."""
    return tuple(method_class(config, dataset, method).outputs(method_params(config, dataset, method)))
