"""Config resolution shared by the Snakefile and the CLI.

The Snakefile holds no logic: every input function, wildcard constraint and params value
comes from here. Each job's ``params`` is the smallest config section its output depends
on, so Snakemake's params rerun trigger rebuilds exactly the affected jobs.
"""
from __future__ import annotations

import copy
import shlex
import sys
from pathlib import Path
from typing import Any

# as_json, extractor_hash and RUNTIME_KEYS live in io (the stages use them too, and must not
# import config); they are re-exported here because the Snakefile and rules call vc.as_json.
from vadflow.io import RUNTIME_KEYS, as_json, extractor_hash  # noqa: F401


class ConfigError(ValueError):
    """A config value is wrong; the message is one line naming the key, the value and what is allowed."""


def validate(config: dict[str, Any], schema_path: str | None = None) -> None:
    """Everything the Snakefile checks before building the DAG, in one call: the JSON schema
    (defaults filled in place), the per-dataset overrides against their sections' schemas,
    then the cross-key checks of :func:`check`. Raises ConfigError with one line."""
    from vadflow import config_schema as cs

    schema = cs.load_schema(schema_path or cs.SCHEMA_PATH)
    try:
        cs.validate(config, schema)
        cs.validate_overrides(config, schema, deep_merge)
    except cs.SchemaError as exc:
        raise ConfigError(str(exc)) from None
    check(config)


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
IMPORT_KEYS = ("name", "source", "format", "path", "crops", "missing", "clip_len", "stride", "dtype")


#: the keys an lstm extractor (source: lstm, the Xception-LSTM clip extractor) uses; as for an
#: import, the extraction keys the schema fills in are dropped.
LSTM_KEYS = ("name", "source", "sequences", "hidden", "standardize", "pretrain", "seed", "dtype", "device")

#: backbones whose model has ``forward_frames`` (2-D frame CNNs): the ones `frames: true` accepts.
FRAME_BACKBONES = ("xception", "resnet50_2d")


def storage_dtype(params: dict[str, Any]) -> str:
    """The feature file's dtype: ``dtype``, where ``auto`` is float32 for imports (their values
    are stored losslessly; MIL's spec caches float32) and float16 otherwise (half the disk
    for features we compute, well inside their own noise)."""
    dtype = params.get("dtype", "auto")
    if dtype != "auto":
        return dtype
    return "float32" if is_import(params) else "float16"


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
    return params


def method_params(config: dict, dataset: str, method: str) -> dict[str, Any]:
    return _stage_params(config, dataset, "methods", method)


# -- detection stage (specs/ador.md §3) ---------------------------------------------------------

#: clip grid of an extractor that leaves clip_len/stride unset: every backbone's default
#: (tests/test_detection.py checks they agree).
DEFAULT_CLIP = {"clip_len": 16, "stride": 16, "tail": "drop"}


def clip_grid(config: dict, dataset: str, extractor: str) -> dict[str, Any]:
    """``clip_len``, ``stride`` and ``tail`` of an extractor as ``dataset`` resolves it."""
    params = extractor_params(config, dataset, extractor)
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


def detector_inputs(config: dict, dataset: str, detector: str) -> list[str]:
    """Files the detect job reads besides the manifest: the imported file/folder of a
    ``precomputed`` detector; the videos otherwise (not listed: the manifest stands for them)."""
    params = detector_params(config, dataset, detector)
    if params["backend"] == "precomputed":
        return [str((params.get("precomputed") or {}).get("path"))]
    return []


def method_detections(config: dict, dataset: str, method: str) -> list[str]:
    """The detections file a method reads (``methods.<m>.detections``, ADOR), or [].

    Any kind may name one; the single-encoder ``encoder: action`` variant needs none."""
    params = method_params(config, dataset, method)
    det = params.get("detections")
    if not det or params.get("encoder") == "action":
        return []
    return [f"results/{dataset}/detections/{det}.h5"]


def _check_detectors(config: dict) -> None:
    """Detector names, their extractors, overrides, and that a method's detections follow the
    same clip grid as its features (else rows would not be the same clips)."""
    dets = config.get("detectors") or {}
    for ds, dsec in config["datasets"].items():
        for name in dsec.get("overrides", {}).get("detectors", {}):
            if name not in dets:
                raise ConfigError(f"datasets.{ds}.overrides.detectors.{name} overrides a detector that `detectors:` does not define")
        for name in dets:
            params = detector_params(config, ds, name)
            if params["backend"] == "precomputed" and not (params.get("precomputed") or {}).get("path"):
                raise ConfigError(f"detectors.{name}.precomputed.path is required for backend: precomputed (dataset {ds})")
            if params["backend"] not in ("precomputed", "none") and not dsec.get("videos", True):
                raise ConfigError(f"detectors.{name}: backend {params['backend']} detects on video frames, but datasets.{ds}.videos "
                                  f"is false; import detections (backend: precomputed) for this dataset")
    for name, sec in config["methods"].items():
        if sec.get("kind") != "ador" and not sec.get("detections"):
            continue
        for ds in config["datasets"]:
            params = method_params(config, ds, name)
            det = params.get("detections")
            where = f"methods.{name}.detections"
            if params.get("encoder", "both") == "action":
                continue
            if not det:
                raise ConfigError(f"{where}: encoder {params.get('encoder', 'both')} needs objects; name a key of `detectors:` "
                                  f"(known: {', '.join(sorted(dets)) or 'none defined'}) or set encoder: action")
            if det not in dets:
                raise ConfigError(f"{where} = {det!r} names no detector under `detectors:` (known: {', '.join(sorted(dets)) or 'none defined'})")
            if params.get("kind") == "ador" and (detector_params(config, ds, det).get("roi") or {}).get("features") is False:
                raise ConfigError(f"{where} = {det!r}: detectors.{det}.roi.features is false (no object features), which ADOR's "
                                  "object encoder needs")
            grid_f = clip_grid(config, ds, params["features"])
            grid_d = clip_grid(config, ds, detector_params(config, ds, det)["features"])
            if grid_f != grid_d:
                raise ConfigError(f"{where} = {det!r}: its clips {grid_d} (extractor {detector_params(config, ds, det)['features']}) "
                                  f"are not the method's feature clips {grid_f} (extractor {params['features']}) on dataset {ds}; "
                                  f"set detectors.{det}.features to {params['features']!r}")


#: method kinds that read pixels from a frame cache (``methods.<m>.frames``), not clip features.
FRAME_KINDS = ("svdd_cae",)


def frames_params(config: dict, dataset: str, name: str) -> dict[str, Any]:
    """``frames.<name>`` with ``datasets.<dataset>.overrides.frames.<name>`` merged in, plus its name:
    the frame cache job's params, so editing it reruns that cache and the methods reading it."""
    return _stage_params(config, dataset, "frames", name)


#: an extraction shard's output (the merge job's inputs when the extractor extracts).
SHARD_FILE = "results/{dataset}/features/{extractor}/shard-{shard}.json"


def is_import(params: dict[str, Any]) -> bool:
    return params.get("source", "extract") == "import"


def is_lstm(params: dict[str, Any]) -> bool:
    return params.get("source", "extract") == "lstm"


#: the pretrained LSTM of an lstm extractor (rule pretrain_lstm, workflow/rules/lstm.smk).
LSTM_MODEL = "results/{dataset}/extractors/{extractor}.pt"


def lstm_extractors(config: dict) -> list[str]:
    """Extractors with ``source: lstm`` in ``features:`` or in some dataset's overrides."""
    names = {n for n, sec in config["features"].items() if sec.get("source") == "lstm"}
    for dsec in config["datasets"].values():
        names |= {n for n, o in dsec.get("overrides", {}).get("features", {}).items() if (o or {}).get("source") == "lstm"}
    return sorted(names)


def lstm_pretrain_dataset(config: dict, dataset: str, extractor: str) -> str:
    """The dataset whose frame sequences pretrain the LSTM: ``pretrain.dataset``, else ``dataset``."""
    params = extractor_params(config, dataset, extractor)
    return (params.get("pretrain") or {}).get("dataset") or dataset


def lstm_pretrain_inputs(config: dict, dataset: str, extractor: str) -> dict[str, str]:
    """Inputs of ``pretrain_lstm``: the pretraining dataset's manifest, labels and frame sequences."""
    params = extractor_params(config, dataset, extractor)
    if not is_lstm(params):
        raise ConfigError(f"features.{extractor} is not an lstm extractor for dataset {dataset} (source: {params.get('source')})")
    pds = lstm_pretrain_dataset(config, dataset, extractor)
    return {"manifest": f"results/{pds}/manifest.csv", "labels": f"results/{pds}/labels.h5",
            "frames": f"results/{pds}/features/{params['sequences']}.h5"}


def lstm_pretrain_params(config: dict, dataset: str, extractor: str) -> dict[str, Any]:
    """``pretrain_lstm``'s params: the lstm keys that shape the LSTM (not dtype), plus the
    pretraining dataset's kind (which picks the labels: classes of videos, or events)."""
    params = {k: v for k, v in extractor_params(config, dataset, extractor).items() if k != "dtype"}
    pds = lstm_pretrain_dataset(config, dataset, extractor)
    return {**params, "pretrain_kind": dataset_section(config, pds)["kind"]}


def feature_layout(config: dict, dataset: str, extractor: str) -> str:
    """``clips`` or ``segments32``: what ``features/{extractor}.h5`` of ``dataset`` holds."""
    params = extractor_params(config, dataset, extractor)
    if params.get("frame_steps") and params.get("source", "extract") == "extract":
        return "sampled_frames"  # one row per sampled frame (features/sampled.py): the real-time method's streams
    if params.get("frames") and params.get("source", "extract") == "extract":
        return "clip_frames"  # per-frame features of each clip: read by lstm extractors only
    if not is_import(params):
        return "clips"
    from vadflow.features.importers import layout_of

    return layout_of(params)


def feature_inputs(config: dict, dataset: str, extractor: str) -> list[str]:
    """Inputs of the one rule that writes ``features/{extractor}.h5``: the shard receipts of
    an extracting extractor, or the manifest and the source folder of an imported one.

    Import vs extract is read per (dataset, extractor) from ``features.<ext>.source`` with
    ``datasets.<ds>.overrides.features.<ext>`` merged in, so one rule serves both and
    Snakemake never sees two producers of the same file.
    """
    params = extractor_params(config, dataset, extractor)
    if is_import(params):
        return [f"results/{dataset}/manifest.csv", params["path"]]
    if is_lstm(params):  # derived from the frame-sequence cache and the pretrained LSTM, no decoding
        return [f"results/{dataset}/features/{params['sequences']}.h5", LSTM_MODEL.format(dataset=dataset, extractor=extractor)]
    if not dataset_section(config, dataset).get("videos", True):
        raise ConfigError(
            f"datasets.{dataset}.videos is false, but features.{extractor} extracts from videos (source: extract); "
            f"import it instead (datasets.{dataset}.overrides.features.{extractor}: {{source: import, format: ..., path: ...}}) "
            f"or read another extractor"
        )
    require_weights(config, dataset, extractor)
    return [SHARD_FILE.format(dataset=dataset, extractor=extractor, shard=s) for s in shard_names(config, dataset, extractor)]


def require_weights(config: dict, dataset: str, extractor: str) -> None:
    """An extracting extractor's ``weights`` is ``random`` or an existing file: checked when
    Snakemake builds the DAG (this runs in an input function), not inside the extraction job."""
    params = extractor_params(config, dataset, extractor)
    weights = params.get("weights", "random")
    if weights == "random" or Path(str(weights)).expanduser().is_file():
        return
    over = "weights" in (dataset_section(config, dataset).get("overrides", {}).get("features", {}).get(extractor) or {})
    where = f"datasets.{dataset}.overrides.features.{extractor}.weights" if over else f"features.{extractor}.weights"
    raise ConfigError(f"{where} = {str(weights)!r}: no such file (relative paths start in the working directory "
                      f"{Path.cwd()}); expected 'random' or the path of a checkpoint file (README, \"Real UCF-Crime data\")")


def feature_command(config: dict, dataset: str, extractor: str, inputs: Any, output: Any) -> str:
    """Shell command of that rule (its ``params``, so editing an import key reruns the import):
    ``vadflow import`` for an imported extractor, ``vadflow lstm-features`` for an lstm one,
    else ``vadflow merge`` of the shard receipts."""
    params = extractor_params(config, dataset, extractor)
    out = shlex.quote(str(output[0] if not isinstance(output, str) else output))
    if is_import(params):
        manifest = shlex.quote(f"results/{dataset}/manifest.csv")
        return f"vadflow import --cfg {shlex.quote(as_json(params))} --manifest {manifest} --out {out}"
    if is_lstm(params):
        frames, model = (shlex.quote(str(p)) for p in inputs)
        return f"vadflow lstm-features --cfg {shlex.quote(as_json(params))} --frames {frames} --model {model} --out {out}"
    return f"vadflow merge --out {out} " + " ".join(shlex.quote(str(p)) for p in inputs)


def shard_names(config: dict, dataset: str, extractor: str) -> list[str]:
    n = int(extractor_params(config, dataset, extractor)["shards"])
    return [f"{i}-of-{n}" for i in range(n)]


def method_names(config: dict) -> list[str]:
    return list(config.get("run_methods") or config["methods"].keys())


def default_targets(config: dict) -> list[str]:
    """What `rule all` builds; `check` has already verified that `dataset` names a dataset.

    Besides the summary (every method's standard-protocol metrics), a LOF method with
    ``protocol: thesis`` adds its thesis-protocol table ``{method}_thesis_auc.csv``.
    """
    ds = config["dataset"]
    return [f"results/{ds}/summary.csv"] + thesis_targets(config, ds)


def head_params(config: dict, dataset: str, head: str) -> dict[str, Any]:
    """``heads.<head>`` with ``datasets.<dataset>.overrides.heads.<head>`` merged in, plus its name."""
    return _stage_params(config, dataset, "heads", head)


def method_head(config: dict, dataset: str, method: str) -> list[str]:
    """The trained projection-head file a method needs (LOF with ``head: <a heads entry>``), or []."""
    params = method_params(config, dataset, method)
    head = params.get("head")
    if params.get("kind") != "lof" or head in (None, "random", "none"):
        return []
    return [f"results/{dataset}/heads/{head}.pt"]


def head_features(config: dict, dataset: str, head: str) -> str:
    return f"results/{dataset}/features/{head_params(config, dataset, head)['features']}.h5"


def head_inputs(config: dict, dataset: str, head: str) -> list[str]:
    """Extra files a head's training reads (ce/supcon): the labelled dataset's manifest and its
    features from the head's extractor, or a user-supplied labelled feature file."""
    params = head_params(config, dataset, head)
    lab = params.get("labelled") or {}
    if params.get("mode") not in ("ce", "supcon"):
        return []
    if lab.get("source") == "dataset":
        return [f"results/{lab['dataset']}/manifest.csv", f"results/{lab['dataset']}/features/{params['features']}.h5"]
    if lab.get("source") == "file" and lab.get("path"):
        return [lab["path"]]
    return []


def thesis_targets(config: dict, dataset: str) -> list[str]:
    return [f"results/{dataset}/{m}_thesis_auc.csv" for m in method_names(config)
            if method_params(config, dataset, m).get("kind") == "lof" and method_params(config, dataset, m).get("protocol") == "thesis"]


def _check_heads(config: dict) -> None:
    """LOF ``head:`` names, head extractors and per-dataset head overrides."""
    heads = config.get("heads") or {}
    for name, sec in heads.items():
        if name in ("random", "none"):
            raise ConfigError(f"heads.{name}: 'random' and 'none' are built-in heads of a LOF method; pick another name")
        if sec.get("features") not in config["features"]:
            raise ConfigError(f"heads.{name}.features = {sec.get('features')!r} names no extractor under `features:` "
                              f"(known: {', '.join(sorted(config['features']))})")
    for ds, dsec in config["datasets"].items():
        for name in dsec.get("overrides", {}).get("heads", {}):
            if name not in heads:
                raise ConfigError(f"datasets.{ds}.overrides.heads.{name} overrides a head that `heads:` does not define")
        for name in heads:
            _check_labelled_dataset(config, ds, name)
    for name, sec in config["methods"].items():
        if sec.get("kind") != "lof":
            continue
        if sec.get("train_split", "train") != "train":
            raise ConfigError(f"methods.{name}.train_split: lof fits on the normal training videos only; remove train_split")
        for ds in config["datasets"]:
            params = method_params(config, ds, name)
            head = params.get("head", "random")
            if head in ("random", "none"):
                continue
            if params.get("standardize_features"):
                raise ConfigError(f"methods.{name}.standardize_features (dataset {ds}): head {head!r} is a trained head, which z-scores "
                                  f"its raw input features itself; standardize_features is for the built-in heads random and none")
            if head not in heads:
                raise ConfigError(f"methods.{name}.head = {head!r}: expected 'random', 'none' or a key of `heads:` "
                                  f"(known: {', '.join(sorted(heads)) or 'none defined'})")
            hf = head_params(config, ds, head)["features"]
            if hf != params.get("features"):
                raise ConfigError(f"methods.{name} reads features {params.get('features')!r} but its head heads.{head} is trained on "
                                  f"{hf!r} (dataset {ds}); set both `features` keys (and their dataset overrides) to the same extractor")


def _check_labelled_dataset(config: dict, dataset: str, head: str) -> None:
    """``labelled.source: dataset``: it names a dataset, and the head's extractor gives the same
    clip features there (same CNN, weights, preprocessing, clip length) as on ``dataset``."""
    params = head_params(config, dataset, head)
    lab = params.get("labelled") or {}
    if params.get("mode") not in ("ce", "supcon") or lab.get("source") != "dataset":
        return
    where = f"heads.{head}.labelled.dataset"
    lds = lab.get("dataset")
    if lds not in config["datasets"]:
        raise ConfigError(f"{where} = {lds!r}: expected a key of `datasets` (known: {', '.join(sorted(config['datasets']))})")
    ext = params["features"]

    def clip_features(ds: str) -> dict[str, Any]:
        p = extractor_params(config, ds, ext)
        return {**_frame_cnn(p), "clip_len": p.get("clip_len")}

    clip = {ds: clip_features(ds) for ds in (dataset, lds)}
    if clip[dataset] != clip[lds]:
        raise ConfigError(f"{where}: features.{ext} differs between dataset {dataset} {clip[dataset]} and the labelled dataset "
                          f"{lds} {clip[lds]}; the head must be trained on the clip features it is applied to")
    if feature_layout(config, lds, ext) != "clips":
        raise ConfigError(f"{where}: features.{ext} on dataset {lds} is not per-clip ({feature_layout(config, lds, ext)})")


def check(config: dict) -> None:
    """Cross-key checks the JSON schema cannot express; raise naming the key."""
    dataset_section(config, config["dataset"])
    if config["datasets"][config["dataset"]]["kind"] == "action_folder":
        raise ConfigError(f"dataset: {config['dataset']} is an action_folder dataset (no anomalies, no frame labels): "
                          "it can pretrain an lstm extractor, but `rule all` evaluates methods on a synthetic or ucf_crime dataset")
    for name, sec in config["methods"].items():
        if sec.get("kind") in FRAME_KINDS:
            _check_frames_method(config, name)
            continue
        if sec.get("features") not in config["features"]:
            raise ConfigError(
                f"methods.{name}.features = {sec.get('features')!r} names no extractor under `features:` "
                f"(known: {', '.join(sorted(config['features']))})"
            )
    for name, sec in config["methods"].items():
        if sec.get("kind") == "realtime":
            for ds in config["datasets"]:
                _check_realtime(config, ds, name)
    for name in config.get("run_methods") or []:
        if name not in config["methods"]:
            raise ConfigError(f"run_methods lists {name!r}, which is not a key of `methods:`")
    _check_heads(config)
    _check_method_rules(config)
    _check_detectors(config)
    for name, sec in config["datasets"].items():
        if sec["kind"] == "synthetic" and sec.get("root", f"data/{name}") != f"data/{name}":
            raise ConfigError(f"datasets.{name}.root: a synthetic dataset is generated at data/{name}; remove the root key")
        if sec["kind"] == "synthetic" and sec.get("videos") is False:
            raise ConfigError(f"datasets.{name}.videos: a synthetic dataset is generated as videos; videos: false is for ucf_crime datasets used through imported features")
        if sec["kind"] != "synthetic" and not sec.get("root"):
            raise ConfigError(f"datasets.{name}.root is required: the folder holding the videos and list files")
        for ext in sec.get("overrides", {}).get("features", {}):
            if ext not in config["features"]:
                raise ConfigError(f"datasets.{name}.overrides.features.{ext} overrides an extractor that `features:` does not define")
        for meth in sec.get("overrides", {}).get("methods", {}):
            if meth not in config["methods"]:
                raise ConfigError(f"datasets.{name}.overrides.methods.{meth} overrides a method that `methods:` does not define")
        for fr in sec.get("overrides", {}).get("frames", {}):
            if fr not in (config.get("frames") or {}):
                raise ConfigError(f"datasets.{name}.overrides.frames.{fr} overrides a frame cache that `frames:` does not define")
        for ext in config["features"]:
            _check_source(config, name, ext)


def _check_method_rules(config: dict) -> None:
    """Per-kind rules the schema cannot express (methods/constraints.py), on every dataset's
    resolved method config; the key path names the override when the value comes from one."""
    from vadflow.config_schema import show
    from vadflow.methods.constraints import problems

    for name in config["methods"]:
        for ds in config["datasets"]:
            params = method_params(config, ds, name)
            for key, message in problems(params):
                over = key in (dataset_section(config, ds).get("overrides", {}).get("methods", {}).get(name) or {})
                where = f"datasets.{ds}.overrides.methods.{name}.{key}" if over else f"methods.{name}.{key}"
                raise ConfigError(f"{where} = {show(params.get(key))}: {message}")


def _check_frames_method(config: dict, method: str) -> None:
    """A pixel method names a ``frames:`` entry (on every dataset, overrides included)."""
    frames = config.get("frames") or {}
    for ds in config["datasets"]:
        params = method_params(config, ds, method)
        name = params.get("frames")
        if name not in frames:
            raise ConfigError(f"methods.{method}.frames = {name!r} (dataset {ds}) names no frame cache under `frames:` "
                              f"(known: {', '.join(sorted(frames)) or 'none defined'})")
        if params.get("features") is not None:
            raise ConfigError(f"methods.{method}: kind {params['kind']} reads frames (methods.{method}.frames), not features; "
                              f"remove the features key")
        if params.get("train_split", "train") != "train":
            raise ConfigError(f"methods.{method}.train_split: {params['kind']} is one-class and trains on the normal "
                              f"training videos only; remove train_split")


def _check_source(config: dict, dataset: str, extractor: str) -> None:
    """``source`` and the import keys of one extractor as ``dataset`` resolves it (overrides
    are plain objects in the schema, so an override's import keys are checked here)."""
    params = extractor_params(config, dataset, extractor)
    over = extractor in dataset_section(config, dataset).get("overrides", {}).get("features", {})
    where = f"datasets.{dataset}.overrides.features.{extractor}" if over else f"features.{extractor}"
    source = params.get("source", "extract")
    if params.get("tail") == "spread" and dataset_section(config, dataset)["kind"] != "action_folder":
        # A spread clip has no place on the frame timeline, so nothing could score it.
        raise ConfigError(f"{where}.tail: spread (one clip spread over the video) is for LSTM pretraining on an action_folder "
                          f"dataset; dataset {dataset} is scored per clip, use drop or pad")
    if source not in ("extract", "import", "lstm"):
        raise ConfigError(f"{where}.source = {source!r}: expected 'extract', 'import' or 'lstm'")
    if source == "extract":
        if not params.get("backbone"):
            raise ConfigError(f"{where}: source: extract needs a backbone")
        if params.get("frames") and params["backbone"] not in FRAME_BACKBONES:
            raise ConfigError(f"{where}.frames: per-frame features need a 2-D frame backbone ({', '.join(FRAME_BACKBONES)}), "
                              f"not {params['backbone']}")
        if params.get("frame_steps") and (params["backbone"] not in FRAME_BACKBONES or params.get("frames")):
            raise ConfigError(f"{where}.frame_steps: per-sampled-frame features need a 2-D frame backbone ({', '.join(FRAME_BACKBONES)}) "
                              f"and no `frames: true`; got backbone {params['backbone']}")
        if params.get("input", "rgb") != "rgb" and not params.get("frame_steps"):
            raise ConfigError(f"{where}.input: {params['input']} is for per-sampled-frame extractors; set frame_steps")
        return
    if source == "lstm":
        _check_lstm(config, dataset, extractor, params, where)
        return
    from vadflow.features.importers import FeatureImportError, check_config

    try:
        check_config(params, where)
    except FeatureImportError as exc:
        raise ConfigError(str(exc)) from None


def _frame_cnn(params: dict[str, Any]) -> dict[str, Any]:
    """The settings that make two frame-sequence extractors produce the same frame features."""
    keys = ("backbone", "weights", "preprocess", "resize", "crop") + (("seed",) if params.get("weights", "random") == "random" else ())
    return {k: params.get(k) for k in keys}


def _check_lstm(config: dict, dataset: str, extractor: str, params: dict[str, Any], where: str) -> None:
    """An lstm extractor: ``sequences`` names a frames extractor (on this dataset and on the
    pretraining dataset, with the same frame CNN), ``pretrain.dataset`` names a dataset."""
    seq = params.get("sequences")
    if not seq or seq not in config["features"] or seq == extractor:
        raise ConfigError(f"{where}.sequences = {seq!r}: expected the name of an extractor with `frames: true` "
                          f"(known: {', '.join(sorted(config['features']))})")
    pds = (params.get("pretrain") or {}).get("dataset") or dataset
    if pds not in config["datasets"]:
        raise ConfigError(f"{where}.pretrain.dataset = {pds!r} names no dataset (known: {', '.join(sorted(config['datasets']))})")
    frames = {}
    for ds in dict.fromkeys((dataset, pds)):
        fp = extractor_params(config, ds, seq)
        if fp.get("source", "extract") != "extract" or not fp.get("frames"):
            raise ConfigError(f"{where}.sequences = {seq!r}: features.{seq} must extract per-frame features "
                              f"(source: extract, frames: true) for dataset {ds}")
        frames[ds] = _frame_cnn(fp)
    if frames[dataset] != frames[pds]:
        raise ConfigError(f"{where}: features.{seq} differs between dataset {dataset} {frames[dataset]} and the pretraining dataset "
                          f"{pds} {frames[pds]}; the LSTM must be pretrained on the frame features it is applied to")
    hidden = params.get("hidden", 1024)
    if not isinstance(hidden, int) or hidden < 1:
        raise ConfigError(f"{where}.hidden = {hidden!r}: expected a positive integer (the spec's 512, 768 or 1024)")


def dataset_root(config: dict, dataset: str) -> str:
    sec = dataset_section(config, dataset)
    return f"data/{dataset}" if sec["kind"] == "synthetic" else sec["root"]


def dataset_inputs(config: dict, dataset: str) -> list[str]:
    """Files the manifest job depends on: the generated folder, or the real list/annotation files.

    For real data the list and annotation files are inputs, so editing them (or adding a
    split file) rebuilds the manifest. A missing root fails here, when Snakemake builds the
    DAG; a root without the list files yields no inputs and the job fails with the layout help.
    """
    sec = dataset_section(config, dataset)
    if sec["kind"] == "synthetic":
        return [dataset_root(config, dataset)]
    root = dataset_root(config, dataset)
    if not Path(root).is_dir():
        raise ConfigError(f"datasets.{dataset}.root = {root!r}: no such folder (relative paths start in the working directory "
                          f"{Path.cwd()}); expected the folder holding the dataset's videos and list files "
                          f"(README, \"Real UCF-Crime data\")")
    if sec["kind"] == "action_folder":
        return [sec["train_list"]] if sec.get("train_list") else []
    from vadflow.data.benchmarks import KINDS as BENCHMARKS

    if sec["kind"] in BENCHMARKS:  # UCSD, Avenue, ShanghaiTech: their ground-truth files
        from vadflow.data.benchmarks import ground_truth_files

        return [str(p) for p in ground_truth_files(sec["kind"], sec["root"], sec)]
    from vadflow.data.ucf_crime import DatasetError, find_files

    try:
        files = [str(p) for p in find_files(sec["root"], index_videos=False).used()]
    except DatasetError:
        return []
    vatic = (sec.get("ucfcrime2local") or {}).get("path")
    if vatic:  # editing a vatic file rebuilds the labels (specs/realtime.md §5)
        from vadflow.data.annotations import AnnotationError
        from vadflow.data.vatic import vatic_files

        try:
            files += [str(p) for p in vatic_files(vatic).values()]
        except AnnotationError as exc:
            raise ConfigError(f"datasets.{dataset}.ucfcrime2local.path: {exc}") from None
    return files


def method_features(config: dict, dataset: str, method: str) -> str:
    """The feature file a method reads; a layout the method's kind does not accept fails here,
    when Snakemake builds the DAG, naming the method, the extractor and the layout."""
    params = method_params(config, dataset, method)
    if params.get("kind") in FRAME_KINDS:  # a pixel method reads its frame cache instead
        return f"results/{dataset}/frames/{params['frames']}.h5"
    extractor = params["features"]
    layout = feature_layout(config, dataset, extractor)
    if layout != "clips":  # every kind reads clips; only then is the (torch-importing) class needed
        from vadflow.methods import get_method
        from vadflow.methods.base import layout_error

        accepted = get_method(params["kind"]).layouts
        if layout not in accepted:
            raise ConfigError(layout_error(method, params["kind"], extractor, layout, accepted, where=f"dataset {dataset}"))
    return f"results/{dataset}/features/{extractor}.h5"


def method_extra_features(config: dict, dataset: str, method: str) -> list[str]:
    """Feature files a method reads besides ``features``: the real-time method's flow stream
    (``flow_features``), on the same sampled frames as its RGB stream; [] for every other kind."""
    params = method_params(config, dataset, method)
    flow = params.get("flow_features", "rt_flow") if params.get("kind") == "realtime" else None
    return [f"results/{dataset}/features/{flow}.h5"] if flow else []


def _check_realtime(config: dict, dataset: str, method: str) -> None:
    """A realtime method's streams: per-sampled-frame extractors (frame_steps) of the right
    input, sampling the same frames, so their rows line up."""
    params = method_params(config, dataset, method)
    where = f"methods.{method}"
    streams = {"features": (params.get("features", "rt_rgb"), "rgb")}
    if params.get("flow_features", "rt_flow"):
        streams["flow_features"] = (params.get("flow_features", "rt_flow"), "flow_image")
    grids = {}
    for key, (ext, want) in streams.items():
        if ext not in config["features"]:
            raise ConfigError(f"{where}.{key} = {ext!r} names no extractor under `features:` (known: {', '.join(sorted(config['features']))})")
        ep = extractor_params(config, dataset, ext)
        if not ep.get("frame_steps") or ep.get("source", "extract") != "extract":
            raise ConfigError(f"{where}.{key}: features.{ext} must extract per-sampled-frame features (frame_steps) for dataset {dataset}")
        if ep.get("input", "rgb") != want:
            raise ConfigError(f"{where}.{key}: features.{ext} has input {ep.get('input', 'rgb')!r}, the {key} stream needs {want!r}")
        grids[ext] = ep["frame_steps"]
    if len({as_json(g) for g in grids.values()}) > 1:
        raise ConfigError(f"{where}: the streams {sorted(grids)} sample different frames on dataset {dataset} ({grids}); "
                          "give them the same frame_steps")



def realtime_methods(config: dict) -> list[str]:
    """Methods of kind realtime (their video-level table and resources.json have rules of their own)."""
    return [m for m, sec in config["methods"].items() if sec.get("kind") == "realtime"]


def realtime_report_files(config: dict, dataset: str) -> list[str]:
    """What the report adds for each realtime method of ``rule all``: its SAS video-level metrics
    and its cost (specs/realtime.md §8, §10)."""
    out = []
    for m in method_names(config):
        if m in realtime_methods(config):
            out += [f"results/{dataset}/{m}_vl.csv", f"results/{dataset}/{m}/resources.json"]
    return out


# ----- How jobs run: the CLI, threads, GPUs (workflow/rules/data.smk's header) -----


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
    root = shlex.quote(str(Path(__file__).resolve().parents[1]))
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


def per_method(config: dict, pattern: str, dataset: str) -> list[str]:
    """``pattern`` (with ``{dataset}`` and ``{method}``) for every method `rule all` evaluates."""
    return [pattern.format(dataset=dataset, method=m) for m in method_names(config)]
