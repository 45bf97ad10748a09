"""Every ``results/`` path of the workflow, written once.

The rules use these templates for their inputs and outputs (``{dataset}``, ``{extractor}``,
``{method}``, ... are Snakemake wildcards), and the package formats the same templates
wherever it names a file another job wrote, so a path can only change here. Layout:
docs/architecture.md, "The DAG".
"""
from __future__ import annotations

RESULTS = "results/{dataset}"

MANIFEST = RESULTS + "/manifest.csv"
LABELS = RESULTS + "/labels.h5"

FEATURES = RESULTS + "/features/{extractor}.h5"
#: an extraction shard's receipt, and the per-video cache every shard of an extractor fills
FEATURE_SHARD = RESULTS + "/features/{extractor}/shard-{shard}.json"
FEATURE_CACHE = RESULTS + "/features/{extractor}/videos"
#: the pretrained LSTM of an lstm extractor (Xception-LSTM)
LSTM_MODEL = RESULTS + "/extractors/{extractor}.pt"

FRAMES = RESULTS + "/frames/{frames}.h5"
FRAMES_CACHE = RESULTS + "/frames/{frames}/videos"
DETECTIONS = RESULTS + "/detections/{detector}.h5"
HEAD = RESULTS + "/heads/{head}.pt"

MODEL = RESULTS + "/{method}/model.pt"
SCORES = RESULTS + "/{method}/scores.h5"

AUC = RESULTS + "/{method}_auc.csv"
F1 = RESULTS + "/{method}_f1.csv"
PER_VIDEO = RESULTS + "/{method}/per_video.csv"
PER_CLASS = RESULTS + "/{method}/per_class.csv"
EVALUATION = RESULTS + "/{method}/evaluation.json"
TIMELINES = RESULTS + "/{method}/timelines.png"

SUMMARY = RESULTS + "/summary.csv"
REPORT = RESULTS + "/report.html"
#: every published figure that applies to the dataset beside ours (docs/reproduction.md)
REPRODUCTION = RESULTS + "/reproduction.csv"
#: one published group's table (``{group}``: seed000 .. seed004, sultani, rtfm, urdmu, mgfn)
REPRODUCE_CSV = RESULTS + "/reproduce_{group}.csv"
REPRODUCE_HTML = RESULTS + "/reproduce_{group}.html"

#: a method's further result files, by the output names a kind declares (``Method.outputs``):
#: each name has its own rule, and the report a section; the first file is what the report reads.
METHOD_OUTPUTS: dict[str, dict[str, str]] = {
    # the kind's own evaluation protocol (LOF's thesis protocol, docs/methods/lof.md §5.1)
    "thesis": {"table": RESULTS + "/{method}_thesis_auc.csv"},
    # video-level decisions from the sigmoidal anomaly score (docs/methods/realtime.md §8)
    "video_level": {"summary": RESULTS + "/{method}_vl.csv", "videos": RESULTS + "/{method}/video_level.csv"},
    # cost of the online pipeline per sampled frame (docs/methods/realtime.md §10)
    "resources": {"json": RESULTS + "/{method}/resources.json"},
}


def output_file(name: str, dataset: str, method: str) -> str:
    """The file of a method's extra output ``name`` that the report reads."""
    return next(iter(METHOD_OUTPUTS[name].values())).format(dataset=dataset, method=method)
