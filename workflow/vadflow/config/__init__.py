"""Config resolution shared by the Snakefile, the rules and the CLI.

The Snakefile holds no logic: every input function, wildcard constraint and params value
comes from this package, which the Snakefile imports as ``vc``. Each job's ``params`` is the
smallest config section its output depends on, so Snakemake's params rerun trigger rebuilds
exactly the affected jobs. A method's inputs, outputs and rules are asked of its kind.

* :mod:`.sections`: a stage's entry as a dataset resolves it (overrides merged);
* :mod:`.inputs`: the rules' input functions and targets (paths from :mod:`vadflow.paths`);
* :mod:`.checks`: the schema validation and the cross-key checks, one line naming the key;
* :mod:`.runtime`: how jobs run (the CLI shell function, threads, GPUs);
* :mod:`.schema`: the JSON-schema validator's one-line errors.
"""
from __future__ import annotations

# The names the Snakefile and the rules use as vc.<name>: this package is their interface.
from vadflow.config.checks import check, validate
from vadflow.config.inputs import (dataset_inputs, default_targets, detector_inputs, evaluated_pattern, feature_command, feature_inputs,
                                   head_features, head_inputs, lstm_extractors, lstm_pretrain_inputs, lstm_pretrain_params,
                                   method_detections, method_extra_features, method_features, method_head, method_inputs, method_wildcard,
                                   methods_pattern, methods_with_output, output_files, per_method, repeat_files, repeat_seeds, repeated,
                                   repeated_pattern, require_weights, shard_names, units)
from vadflow.config.reproduction import (dataset_info, method_protocols, published_file, reproduction_groups,
                                         reproduction_inputs)
from vadflow.config.runtime import asks_for_cuda, gpu_resources, job_threads, shell_prefix
from vadflow.config.sections import (ConfigError, clip_grid, data_params, dataset_root, dataset_section, datasets_of_kind,
                                     deep_merge, detector_params, extractor_params, feature_layout, frames_params, generator_params,
                                     head_params, is_import, is_lstm, method_class, method_names, method_outputs, method_params,
                                     method_reads, method_repeats, method_units, split_unit, storage_dtype)
from vadflow.io import as_json, extractor_hash

__all__ = [
    "as_json", "asks_for_cuda", "check", "clip_grid", "ConfigError", "data_params", "dataset_info", "dataset_inputs",
    "dataset_root", "dataset_section", "datasets_of_kind", "deep_merge", "default_targets", "detector_inputs",
    "detector_params", "evaluated_pattern", "extractor_hash", "extractor_params", "feature_command", "feature_inputs",
    "feature_layout", "frames_params", "generator_params", "gpu_resources", "head_features", "head_inputs", "head_params",
    "is_import", "is_lstm", "job_threads", "lstm_extractors", "lstm_pretrain_inputs", "lstm_pretrain_params",
    "method_class", "method_detections", "method_extra_features", "method_features", "method_head", "method_inputs",
    "method_names", "method_outputs", "method_params", "method_protocols", "method_reads", "method_repeats", "method_units",
    "method_wildcard", "methods_pattern", "methods_with_output", "output_files", "per_method", "published_file",
    "repeat_files", "repeat_seeds", "repeated", "repeated_pattern", "reproduction_groups", "reproduction_inputs",
    "require_weights", "shard_names", "shell_prefix", "split_unit", "storage_dtype", "units", "validate",
]
