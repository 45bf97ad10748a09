"""Cross-key checks the JSON schema cannot express, run when Snakemake builds the DAG; each
raises :class:`ConfigError` with one line naming the key."""
from __future__ import annotations

import json
from typing import Any

from vadflow.config.sections import (FRAME_BACKBONES, ConfigError, clip_grid, dataset_section, deep_merge, detector_params,
                                     extractor_params, feature_layout, head_params, method_class, method_params)


def validate(config: dict[str, Any], schema_path: str | None = None) -> None:
    """Everything the Snakefile checks before building the DAG, in one call: the JSON schema
    (defaults filled in place), the per-dataset overrides against their sections' schemas,
    then the cross-key checks of :func:`check`. Raises ConfigError with one line."""
    from vadflow.config import schema as cs

    from vadflow.methods import KINDS

    # The kinds are the registry's (a new kind is a module and a registry line): checked here,
    # before the schema, whose per-kind branches would otherwise reject every key of a misspelt kind.
    for name, sec in (config.get("methods") or {}).items():
        kind = sec.get("kind") if isinstance(sec, dict) else None
        if isinstance(sec, dict) and kind is not None and kind not in KINDS:
            raise ConfigError(f"methods.{name}.kind = {kind!r} is not allowed: expected one of "
                              f"{', '.join(repr(k) for k in KINDS)} (the kinds of vadflow.methods)")
    schema = cs.load_schema(schema_path or cs.SCHEMA_PATH)
    try:
        cs.validate(config, schema)
        cs.validate_overrides(config, schema, deep_merge)
    except cs.SchemaError as exc:
        raise ConfigError(str(exc)) from None
    check(config)


def check(config: dict) -> None:
    """Cross-key checks the JSON schema cannot express; raise naming the key."""
    dataset_section(config, config["dataset"])
    if config["datasets"][config["dataset"]]["kind"] == "action_folder":
        raise ConfigError(f"dataset: {config['dataset']} is an action_folder dataset (no anomalies, no frame labels): "
                          "it can pretrain an lstm extractor, but `rule all` evaluates methods on a dataset with anomalies (synthetic, ucf_crime, xd_violence, ...)")
    for name in config.get("run_methods") or []:
        if name not in config["methods"]:
            raise ConfigError(f"run_methods lists {name!r}, which is not a key of `methods:`")
    _check_heads(config)
    _check_detectors(config)
    for name in config["methods"]:
        for ds in config["datasets"]:
            _check_method(config, ds, name)
    for name, sec in config["datasets"].items():
        if sec["kind"] == "synthetic" and sec.get("root", f"data/{name}") != f"data/{name}":
            raise ConfigError(f"datasets.{name}.root: a synthetic dataset is generated at data/{name}; remove the root key")
        if sec["kind"] == "synthetic" and sec.get("videos") is False:
            raise ConfigError(f"datasets.{name}.videos: a synthetic dataset is generated as videos; videos: false is for ucf_crime and xd_violence datasets used through imported features")
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


def _check_heads(config: dict) -> None:
    """``heads:`` names, head extractors and per-dataset head overrides."""
    heads = config.get("heads") or {}
    builtin = {h: m for m in config["methods"] for ds in config["datasets"] for h in method_class(config, ds, m).builtin_heads}
    for name, sec in heads.items():
        if name in builtin:
            raise ConfigError(f"heads.{name}: {name!r} is a built-in head of methods.{builtin[name]}'s kind; pick another name")
        if sec.get("features") not in config["features"]:
            raise ConfigError(f"heads.{name}.features = {sec.get('features')!r} names no extractor under `features:` "
                              f"(known: {', '.join(sorted(config['features']))})")
    for ds, dsec in config["datasets"].items():
        for name in dsec.get("overrides", {}).get("heads", {}):
            if name not in heads:
                raise ConfigError(f"datasets.{ds}.overrides.heads.{name} overrides a head that `heads:` does not define")
        for name in heads:
            _check_labelled_dataset(config, ds, name)


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


def _where(config: dict, dataset: str, method: str, key: str) -> str:
    """The key path of ``methods.<method>.<key>``, naming the dataset override when the value comes from one."""
    over = key in (dataset_section(config, dataset).get("overrides", {}).get("methods", {}).get(method) or {})
    return f"datasets.{dataset}.overrides.methods.{method}.{key}" if over else f"methods.{method}.{key}"


def _known(section: dict | None) -> str:
    return ", ".join(sorted(section or {})) or "none defined"


def _check_method(config: dict, dataset: str, method: str) -> None:
    """One method on one dataset, asked of its kind: its rules (:meth:`Method.problems`), the
    entries its inputs name (:meth:`Method.reads`), the clip grid its detections follow, and
    what its kind needs of those entries (:meth:`Method.check_inputs`)."""
    from vadflow.config.schema import show

    cls = method_class(config, dataset, method)
    params = method_params(config, dataset, method)
    for key, message in cls.problems(params):
        raise ConfigError(f"{_where(config, dataset, method, key)} = {show(params.get(key))}: {message}")
    if params.get("train_split", "train") != "train" and not cls.test_folds:
        raise ConfigError(f"methods.{method}.train_split: kind {cls.kind} trains on the normal training videos only; "
                          "remove train_split")
    reads = cls.reads(params)
    resolved: dict[str, dict[str, Any]] = {}
    if cls.frames_key:
        if reads.frames not in (config.get("frames") or {}):
            raise ConfigError(f"{_where(config, dataset, method, cls.frames_key)} = {reads.frames!r} (dataset {dataset}) names no "
                              f"frame cache under `frames:` (known: {_known(config.get('frames'))})")
        if params.get("features") is not None and "features" not in cls.feature_keys:
            raise ConfigError(f"methods.{method}: kind {cls.kind} reads frames (methods.{method}.{cls.frames_key}), not features; "
                              "remove the features key")
    for key in cls.feature_keys:
        name = params.get(key, getattr(cls, "defaults", {}).get(key))
        if not name and key != cls.feature_keys[0]:
            continue  # an optional further stream left out
        if name not in config["features"]:
            raise ConfigError(f"{_where(config, dataset, method, key)} = {name!r} names no extractor under `features:` "
                              f"(known: {_known(config['features'])})")
        resolved[key] = {**extractor_params(config, dataset, name), "layout": feature_layout(config, dataset, name)}
    if reads.detections:
        dets = config.get("detectors") or {}
        where = _where(config, dataset, method, cls.detections_key)
        if reads.detections not in dets:
            raise ConfigError(f"{where} = {reads.detections!r} names no detector under `detectors:` (known: {_known(dets)})")
        det = detector_params(config, dataset, reads.detections)
        resolved["detections"] = det
        main = reads.features[0]
        grid_f, grid_d = clip_grid(config, dataset, main), clip_grid(config, dataset, det["features"])
        if grid_f != grid_d:
            raise ConfigError(f"{where} = {reads.detections!r}: its clips {grid_d} (extractor {det['features']}) are not the method's "
                              f"feature clips {grid_f} (extractor {main}) on dataset {dataset}; set detectors.{reads.detections}.features "
                              f"to {main!r}")
    elif cls.detections_key and params.get(cls.detections_key) and params[cls.detections_key] not in (config.get("detectors") or {}):
        raise ConfigError(f"{_where(config, dataset, method, cls.detections_key)} = {params[cls.detections_key]!r} names no detector "
                          f"under `detectors:` (known: {_known(config.get('detectors'))})")
    if cls.head_key:
        head = params.get(cls.head_key, getattr(cls, "defaults", {}).get(cls.head_key))
        heads = config.get("heads") or {}
        if head not in cls.builtin_heads and head not in heads:
            allowed = ", ".join(repr(h) for h in cls.builtin_heads)
            raise ConfigError(f"{_where(config, dataset, method, cls.head_key)} = {head!r}: expected {allowed} or a key of `heads:` "
                              f"(known: {_known(heads)})")
        if reads.head:
            resolved["head"] = head_params(config, dataset, reads.head)
    for message in cls.check_inputs(params, resolved):
        raise ConfigError(f"{message} (dataset {dataset})")


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
    if source not in ("extract", "import", "lstm", "concat"):
        raise ConfigError(f"{where}.source = {source!r}: expected 'extract', 'import', 'lstm' or 'concat'")
    if source == "concat":
        _check_concat(config, dataset, extractor, params, where)
        return
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


def _check_concat(config: dict, dataset: str, extractor: str, params: dict[str, Any], where: str) -> None:
    """A concat extractor joins two or more per-clip extractors (no concat among them) that cut
    the same clips, on this dataset."""
    names = params.get("inputs") or []
    known = ", ".join(sorted(config["features"]))
    if len(names) < 2 or len(set(names)) != len(names):
        raise ConfigError(f"{where}.inputs = {names!r}: expected two or more different extractors (known: {known})")
    grids = {}
    for n in names:
        if n not in config["features"] or n == extractor:
            raise ConfigError(f"{where}.inputs: {n!r} names no other extractor under `features:` (known: {known})")
        if extractor_params(config, dataset, n).get("source") == "concat":
            raise ConfigError(f"{where}.inputs: {n!r} is itself a concat extractor; list its inputs instead")
        if feature_layout(config, dataset, n) != "clips":
            raise ConfigError(f"{where}.inputs: features.{n} has layout {feature_layout(config, dataset, n)} on dataset "
                              f"{dataset}; concat joins per-clip features only")
        grids[n] = {k: v for k, v in clip_grid(config, dataset, n).items() if k != "tail"}
    if len({json.dumps(g, sort_keys=True) for g in grids.values()}) > 1:
        raise ConfigError(f"{where}.inputs: the extractors cut different clips on dataset {dataset} ({grids}); "
                          "their rows must be the same snippets")


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
