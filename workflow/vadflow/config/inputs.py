"""The rules' input functions and targets: which files a job reads, by the templates of
:mod:`vadflow.paths`, asked of each method's kind where a method is concerned."""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from vadflow import paths
from vadflow.config.sections import (ConfigError, dataset_root, dataset_section, detector_params, extractor_params, head_params,
                                     is_concat, is_import, is_lstm, method_class, method_names, method_outputs, method_params,
                                     method_reads, method_repeats, method_units)
from vadflow.io import as_json


def detector_inputs(config: dict, dataset: str, detector: str) -> list[str]:
    """Files the detect job reads besides the manifest: the imported file/folder of a
    ``precomputed`` detector; the videos otherwise (not listed: the manifest stands for them),
    which a ``videos: false`` dataset lacks (an error naming the keys)."""
    params = detector_params(config, dataset, detector)
    if params["backend"] == "precomputed":
        return [str((params.get("precomputed") or {}).get("path"))]
    if params["backend"] != "none" and not dataset_section(config, dataset).get("videos", True):
        # checked when the detections are asked for, as for extraction: a videos: false dataset can
        # share a config whose other datasets detect on frames
        raise ConfigError(f"detectors.{detector}: backend {params['backend']} detects on video frames, but "
                          f"datasets.{dataset}.videos is false; import detections (backend: precomputed) for this dataset")
    return []


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
    return {"manifest": paths.MANIFEST.format(dataset=pds), "labels": paths.LABELS.format(dataset=pds),
            "frames": paths.FEATURES.format(dataset=pds, extractor=params["sequences"])}


def lstm_pretrain_params(config: dict, dataset: str, extractor: str) -> dict[str, Any]:
    """``pretrain_lstm``'s params: the lstm keys that shape the LSTM (not dtype), plus the
    pretraining dataset's kind (which picks the labels: classes of videos, or events)."""
    params = {k: v for k, v in extractor_params(config, dataset, extractor).items() if k != "dtype"}
    pds = lstm_pretrain_dataset(config, dataset, extractor)
    return {**params, "pretrain_kind": dataset_section(config, pds)["kind"]}


def feature_inputs(config: dict, dataset: str, extractor: str) -> list[str]:
    """Inputs of the one rule that writes ``features/{extractor}.h5``: the shard receipts of
    an extracting extractor, or the manifest, the labels and the source folder of an imported one.

    Import vs extract is read per (dataset, extractor) from ``features.<ext>.source`` with
    ``datasets.<ds>.overrides.features.<ext>`` merged in, so one rule serves both and
    Snakemake never sees two producers of the same file.
    """
    params = extractor_params(config, dataset, extractor)
    if is_import(params):  # labels.h5: its label policy names the videos whose snippets miss their labelled span
        return [paths.MANIFEST.format(dataset=dataset), paths.LABELS.format(dataset=dataset), params["path"]]
    if is_lstm(params):  # derived from the frame-sequence cache and the pretrained LSTM, no decoding
        return [paths.FEATURES.format(dataset=dataset, extractor=params["sequences"]), paths.LSTM_MODEL.format(dataset=dataset, extractor=extractor)]
    if is_concat(params):  # its inputs' feature files, in order
        return [paths.FEATURES.format(dataset=dataset, extractor=e) for e in params["inputs"]]
    if not dataset_section(config, dataset).get("videos", True):
        raise ConfigError(
            f"datasets.{dataset}.videos is false, but features.{extractor} extracts from videos (source: extract); "
            f"import it instead (datasets.{dataset}.overrides.features.{extractor}: {{source: import, format: ..., path: ...}}) "
            f"or read another extractor"
        )
    require_weights(config, dataset, extractor)
    return [paths.FEATURE_SHARD.format(dataset=dataset, extractor=extractor, shard=s) for s in shard_names(config, dataset, extractor)]


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
    ``vadflow concat`` for a concat one, else ``vadflow merge`` of the shard receipts."""
    params = extractor_params(config, dataset, extractor)
    out = shlex.quote(str(output[0] if not isinstance(output, str) else output))
    if is_import(params):
        manifest = shlex.quote(paths.MANIFEST.format(dataset=dataset))
        labels = shlex.quote(paths.LABELS.format(dataset=dataset))
        return f"vadflow import --cfg {shlex.quote(as_json(params))} --manifest {manifest} --labels {labels} --out {out}"
    if is_lstm(params):
        frames, model = (shlex.quote(str(p)) for p in inputs)
        return f"vadflow lstm-features --cfg {shlex.quote(as_json(params))} --frames {frames} --model {model} --out {out}"
    if is_concat(params):
        return f"vadflow concat --cfg {shlex.quote(as_json(params))} --out {out} " + " ".join(shlex.quote(str(p)) for p in inputs)
    return f"vadflow merge --out {out} " + " ".join(shlex.quote(str(p)) for p in inputs)


def shard_names(config: dict, dataset: str, extractor: str) -> list[str]:
    n = int(extractor_params(config, dataset, extractor)["shards"])
    return [f"{i}-of-{n}" for i in range(n)]


def default_targets(config: dict) -> list[str]:
    """What `rule all` builds; `check` has already verified that `dataset` names a dataset.

    Besides the summary (every method's standard-protocol metrics and the extra outputs it
    reports), a method's own protocol table (the ``thesis`` output, e.g. LOF with ``protocol:
    thesis``) is built too.
    """
    ds = config["dataset"]
    return [paths.SUMMARY.format(dataset=ds)] + output_files(config, ds, "thesis")


def head_features(config: dict, dataset: str, head: str) -> str:
    return paths.FEATURES.format(dataset=dataset, extractor=head_params(config, dataset, head)["features"])


def head_inputs(config: dict, dataset: str, head: str) -> list[str]:
    """Extra files a head's training reads (ce/supcon): the labelled dataset's manifest and its
    features from the head's extractor, or a user-supplied labelled feature file."""
    params = head_params(config, dataset, head)
    lab = params.get("labelled") or {}
    if params.get("mode") not in ("ce", "supcon"):
        return []
    if lab.get("source") == "dataset":
        return [paths.MANIFEST.format(dataset=lab["dataset"]), paths.FEATURES.format(dataset=lab["dataset"], extractor=params["features"])]
    if lab.get("source") == "file" and lab.get("path"):
        return [lab["path"]]
    return []


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
    if sec["kind"] == "xd_violence":  # its lists and annotation (explicit paths, else found below the root)
        from vadflow.data.xd_violence import ground_truth_files as xd_files

        named = [sec[k] for k in ("train_list", "test_list", "annotation") if sec.get(k)]
        return sorted({*named, *(str(p) for p in xd_files(sec["root"]))})
    from vadflow.data.ucf_crime import DatasetError, find_files

    try:
        files = [str(p) for p in find_files(sec["root"], index_videos=False).used()]
    except DatasetError:
        return []
    vatic = (sec.get("ucfcrime2local") or {}).get("path")
    if vatic:  # editing a vatic file rebuilds the labels (docs/methods/realtime.md §5)
        from vadflow.data.annotations import AnnotationError
        from vadflow.data.vatic import vatic_files

        try:
            files += [str(p) for p in vatic_files(vatic).values()]
        except AnnotationError as exc:
            raise ConfigError(f"datasets.{dataset}.ucfcrime2local.path: {exc}") from None
    return files


def per_method(config: dict, pattern: str, dataset: str) -> list[str]:
    """``pattern`` (with ``{dataset}`` and ``{method}``) for every method `rule all` evaluates."""
    return [pattern.format(dataset=dataset, method=m) for m in method_names(config)]


# ----- methods: every input asked of the kind (Method.reads / Method.outputs) -----


def method_inputs(config: dict, dataset: str, method: str) -> dict[str, list[str]]:
    """The files the train and score jobs of ``methods.<method>`` read besides the manifest and
    labels: ``features`` (the main extractor's file first, or a pixel method's frame cache),
    ``detections`` and ``head`` (empty lists when the kind reads none). A layout the kind does
    not accept fails here, when Snakemake builds the DAG, naming the method, extractor and layout."""
    from vadflow.methods.base import layout_error

    reads = method_reads(config, dataset, method)
    cls = method_class(config, dataset, method)
    if reads.frames:
        features = [paths.FRAMES.format(dataset=dataset, frames=reads.frames)]
    else:
        from vadflow.config.sections import feature_layout

        layout = feature_layout(config, dataset, reads.features[0])
        if layout not in cls.layouts:
            raise ConfigError(layout_error(method, cls.kind, reads.features[0], layout, cls.layouts, where=f"dataset {dataset}"))
        features = [paths.FEATURES.format(dataset=dataset, extractor=e) for e in reads.features]
    return {"features": features,
            "detections": [paths.DETECTIONS.format(dataset=dataset, detector=reads.detections)] if reads.detections else [],
            "head": [paths.HEAD.format(dataset=dataset, head=reads.head)] if reads.head else []}


def method_features(config: dict, dataset: str, method: str) -> str:
    """The main feature file (or frame cache) a method reads."""
    return method_inputs(config, dataset, method)["features"][0]


def method_extra_features(config: dict, dataset: str, method: str) -> list[str]:
    """The further feature files of a method's rows (e.g. the realtime method's flow stream)."""
    return method_inputs(config, dataset, method)["features"][1:]


def method_detections(config: dict, dataset: str, method: str) -> list[str]:
    """The detections file a method reads, or []."""
    return method_inputs(config, dataset, method)["detections"]


def method_head(config: dict, dataset: str, method: str) -> list[str]:
    """The trained head file a method reads, or []."""
    return method_inputs(config, dataset, method)["head"]


def methods_with_output(config: dict, name: str) -> list[str]:
    """The runs whose kind writes the extra output ``name`` on some dataset (its rule's wildcard
    constraint): the method, or a repeated method's first repeat."""
    return sorted({method_units(config, ds, m)[0] for m in config["methods"] for ds in config["datasets"]
                   if name in method_outputs(config, ds, m)})


def _pattern(names: list[str] | set[str]) -> str:
    """A wildcard constraint matching exactly ``names`` (nothing when empty)."""
    return "|".join(re.escape(m) for m in sorted(names, key=lambda n: (-len(n), n))) or "(?!)"


def methods_pattern(config: dict, name: str) -> str:
    """The ``{method}`` wildcard constraint of the rule of extra output ``name``: exactly the
    runs whose kind writes it (a pattern matching nothing when none does)."""
    return _pattern(methods_with_output(config, name))


def output_files(config: dict, dataset: str, name: str) -> list[str]:
    """The report's file of the extra output ``name`` for every method of ``rule all`` that writes it
    (a repeated method's: its first repeat's)."""
    return [paths.output_file(name, dataset, method_units(config, dataset, m)[0]) for m in method_names(config)
            if name in method_outputs(config, dataset, m)]


def units(config: dict) -> set[str]:
    """Every run's name: the methods with one run, and every repeat of the others (on any dataset)."""
    return {u for m in config["methods"] for ds in config["datasets"] for u in method_units(config, ds, m)}


def repeated(config: dict) -> set[str]:
    """Methods with ``repeats`` > 1 on some dataset: their metrics are aggregated over their repeats."""
    return {m for m in config["methods"] for ds in config["datasets"] if method_repeats(config, ds, m) > 1}


def method_wildcard(config: dict) -> str:
    """The Snakefile's ``{method}`` constraint: every method and every repeat."""
    return _pattern(units(config) | set(config["methods"]))


def evaluated_pattern(config: dict) -> str:
    """``{method}`` of the train, score and evaluate rules: every run (not a repeated method's name)."""
    return _pattern(units(config))


def repeated_pattern(config: dict) -> str:
    """``{method}`` of the rule that aggregates a repeated method's metrics over its repeats."""
    return _pattern(repeated(config))


def repeat_files(config: dict, pattern: str, dataset: str, method: str) -> list[str]:
    """``pattern`` (with ``{dataset}``, ``{method}``) for every repeat of ``method``, in repeat order."""
    return [pattern.format(dataset=dataset, method=u) for u in method_units(config, dataset, method)]


def repeat_seeds(config: dict, dataset: str, method: str) -> list[int]:
    """The training seed of every repeat of ``method``, in repeat order."""
    return [int(method_params(config, dataset, u).get("seed", 0)) for u in method_units(config, dataset, method)]
