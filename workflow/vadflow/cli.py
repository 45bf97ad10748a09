"""``vadflow`` command line: the entry points Snakemake rules call, one per job type.

Argument parsing only: each subcommand hands its arguments to a job of :mod:`vadflow.jobs`.
A job receives its config section as JSON (``--cfg``), exactly the rule's ``params``, so what
a job computes and what triggers its rerun are the same thing.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any, Callable

# HDF5 file locking, decided once for every job (README, "Concurrent jobs"): lock where the
# file system supports it, carry on where it does not (NFS or Lustre without flock make HDF5
# fail every open with "unable to lock file, errno = 38"). Jobs never share a file being
# written (atomic_path writes a temporary name), so the locks only guard against outside
# writers. HDF5 reads this when h5py loads: it must be set before any h5py import.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "BEST_EFFORT")

log = logging.getLogger("vadflow")


def _cfg(text: str) -> dict[str, Any]:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--cfg is not valid JSON: {exc}") from None


def _one(files: list[str] | None) -> str | None:
    """An optional file: the rule passes an empty value when a method reads none."""
    files = [f for f in (files or []) if f]
    return files[0] if files else None


def cmd_synth(a: argparse.Namespace) -> None:
    from vadflow.jobs import data

    data.synth(_cfg(a.cfg), a.out, progress=not a.quiet)


def cmd_manifest(a: argparse.Namespace) -> None:
    from vadflow.jobs import data

    data.manifest(_cfg(a.cfg), a.manifest, a.labels, progress=not a.quiet)


def cmd_extract(a: argparse.Namespace) -> None:
    from vadflow.jobs import features

    features.extract(_cfg(a.cfg), a.root, a.manifest, a.shard, a.out, cache=a.cache, threads=a.threads, progress=not a.quiet)


def cmd_import(a: argparse.Namespace) -> None:
    from vadflow.jobs import features

    features.import_features(_cfg(a.cfg), a.manifest, a.out, progress=not a.quiet, labels=a.labels)


def cmd_concat(a: argparse.Namespace) -> None:
    from vadflow.jobs import features

    features.concat(_cfg(a.cfg), a.inputs, a.out, progress=not a.quiet)


def cmd_merge(a: argparse.Namespace) -> None:
    from vadflow.jobs import features

    features.merge(a.shards, a.out)


def cmd_frames(a: argparse.Namespace) -> None:
    from vadflow.jobs import features

    features.frames(_cfg(a.cfg), a.root, a.manifest, a.cache, a.out, threads=a.threads, progress=not a.quiet)


def cmd_pretrain_lstm(a: argparse.Namespace) -> None:
    from vadflow.jobs import features

    features.pretrain_lstm(_cfg(a.cfg), a.manifest, a.labels, a.frames, a.out, threads=a.threads)


def cmd_lstm_features(a: argparse.Namespace) -> None:
    from vadflow.jobs import features

    features.lstm_features(_cfg(a.cfg), a.frames, a.model, a.out, threads=a.threads, progress=not a.quiet)


def cmd_detect(a: argparse.Namespace) -> None:
    from vadflow.jobs import features

    features.detect(_cfg(a.cfg), a.root, a.manifest, a.out, threads=a.threads, progress=not a.quiet)


def cmd_train(a: argparse.Namespace) -> None:
    from vadflow.jobs import methods

    methods.train(_cfg(a.cfg), a.manifest, a.labels, [f for f in a.features if f], a.out, detections=_one(a.detections),
                  head=_one(a.head), threads=a.threads)


def cmd_score(a: argparse.Namespace) -> None:
    from vadflow.jobs import methods

    methods.score(_cfg(a.cfg), a.model, a.manifest, a.labels, [f for f in a.features if f], a.out,
                  detections=_one(a.detections), threads=a.threads, progress=not a.quiet)


def cmd_train_head(a: argparse.Namespace) -> None:
    from vadflow.jobs import methods

    methods.train_head(_cfg(a.cfg), a.manifest, a.labels, a.features, a.out, labelled=a.labelled, threads=a.threads)


def cmd_thesis(a: argparse.Namespace) -> None:
    from vadflow.jobs import methods

    methods.protocol(_cfg(a.cfg), a.manifest, a.labels, a.features, a.out, head=_one(a.head), threads=a.threads)


def cmd_evaluate(a: argparse.Namespace) -> None:
    from vadflow.jobs import evaluate

    evaluate.evaluate(_cfg(a.cfg), a.method, a.manifest, a.labels, a.scores, a.auc, a.f1, a.per_video, a.per_class,
                      a.details, a.timelines)


def cmd_weights_convert(a: argparse.Namespace) -> None:
    from vadflow.jobs import methods

    methods.convert_weights(a.file, a.out, a.trust)


def cmd_watch(a: argparse.Namespace) -> None:
    from vadflow.jobs import watch

    watch.watch(a.model, a.source, threads=a.threads, config=a.config, dataset=a.dataset, method=a.method, out=a.out,
                fmt=a.format, threshold=a.threshold, fps=a.fps, timeout=a.read_timeout, pace=a.pace, windows=a.windows,
                device=a.device, stats=a.stats, max_frames=a.max_frames)


def cmd_video_level(a: argparse.Namespace) -> None:
    from vadflow.jobs import methods

    methods.video_level(_cfg(a.cfg), a.manifest, a.scores, a.out, a.per_video)


def cmd_resources(a: argparse.Namespace) -> None:
    from vadflow.jobs import methods

    methods.resources(a.model, a.manifest, a.root, a.out, frames=a.frames, threads=a.threads)


def cmd_repeats(a: argparse.Namespace) -> None:
    from vadflow.jobs import repeats

    repeats.aggregate(a.method, a.seeds, a.auc, a.f1, a.per_video, a.per_class, a.details, a.timelines, a.out_auc, a.out_f1,
                      a.out_per_video, a.out_per_class, a.out_details, a.out_timelines)


def cmd_summary(a: argparse.Namespace) -> None:
    from vadflow.jobs import evaluate

    evaluate.summary(a.dataset, a.auc, a.f1, a.out_csv, a.out_html, per_class=a.per_class, details=a.details, images=a.images,
                     thesis=[f for f in a.thesis if f], video_level=[f for f in a.video_level if f],
                     resources=[f for f in a.resources if f], info=_cfg(a.info) if a.info else None,
                     protocols=_cfg(a.protocols) if a.protocols else None, published=a.published, out_reproduction=a.out_reproduction)


def cmd_reproduce(a: argparse.Namespace) -> None:
    from vadflow.jobs import evaluate

    evaluate.reproduce(a.dataset, a.group, a.auc, a.f1, a.details, [f for f in a.thesis if f], [f for f in a.video_level if f],
                       _cfg(a.info), _cfg(a.protocols), a.published, a.out_csv, a.out_html)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vadflow", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name: str, fn: Callable[[argparse.Namespace], None], help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help)
        sp.set_defaults(fn=fn)
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
        return sp

    sp = add("synth", cmd_synth, "generate the synthetic dataset")
    sp.add_argument("--cfg", required=True, help="datasets.<name>.generator as JSON")
    sp.add_argument("--out", required=True)

    sp = add("manifest", cmd_manifest, "probe videos, write manifest.csv and labels.h5")
    sp.add_argument("--cfg", required=True, help="datasets.<name> as JSON")
    sp.add_argument("--manifest", required=True)
    sp.add_argument("--labels", required=True)

    sp = add("extract", cmd_extract, "extract clip features of one shard")
    for k in ("--cfg", "--root", "--manifest", "--shard", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("--threads", type=int, default=None)
    sp.add_argument("--cache", default=None, help="per-video cache directory (default: <out dir>/videos)")

    sp = add("import", cmd_import, "import public feature files (source: import) into one feature file")
    for k in ("--cfg", "--manifest", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("--labels", default=None, help="the dataset's labels.h5: its label policy names length mismatches")

    sp = add("concat", cmd_concat, "join several feature files of the same videos per snippet (source: concat)")
    for k in ("--cfg", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("inputs", nargs="+", help="the input feature files, in the order of the extractor's inputs")

    sp = add("merge", cmd_merge, "merge the videos that shard receipts list into one feature file")
    sp.add_argument("--out", required=True)
    sp.add_argument("shards", nargs="+", help="shard receipts (JSON) written by `vadflow extract`")

    sp = add("frames", cmd_frames, "frame cache frames/{name}.h5: sampled, resized uint8 frames per video (pixel methods)")
    for k in ("--cfg", "--root", "--manifest", "--cache", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("--threads", type=int, default=None, help="videos decoded at once")

    sp = add("pretrain-lstm", cmd_pretrain_lstm, "pretrain the LSTM clip encoder of an lstm extractor on frame sequences")
    for k in ("--cfg", "--manifest", "--labels", "--frames", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("--threads", type=int, default=None)

    sp = add("lstm-features", cmd_lstm_features, "clip features [n_clips, d] of an lstm extractor from a frame-sequence file")
    for k in ("--cfg", "--frames", "--model", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("--threads", type=int, default=None)

    sp = add("detect", cmd_detect, "detect objects on every clip's centre frame -> detections/{detector}.h5")
    for k in ("--cfg", "--root", "--manifest", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("--threads", type=int, default=None)

    for name, fn in (("train", cmd_train), ("score", cmd_score)):
        sp = add(name, fn, f"{name} a method")
        for k in ("--cfg", "--manifest", "--labels", "--out"):
            sp.add_argument(k, required=True)
        sp.add_argument("--features", nargs="+", required=True,
                        help="the method's feature files, the main one first (a pixel method: its frame cache)")
        sp.add_argument("--threads", type=int, default=None)
        sp.add_argument("--detections", nargs="*", default=[], help="the detections file the method reads; empty = none")
        if name == "score":
            sp.add_argument("--model", required=True)
        else:
            sp.add_argument("--head", nargs="*", default=[], help="the trained head file the method reads; empty = none")

    sp = add("train-head", cmd_train_head, "train a projection head (heads.<name>) on cached features")
    for k in ("--cfg", "--manifest", "--labels", "--features", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("--labelled", nargs="*", default=[],
                    help="labelled.source dataset: that dataset's manifest.csv and feature file; file: the file; else nothing")
    sp.add_argument("--threads", type=int, default=None)

    sp = add("thesis", cmd_thesis, "a kind's own evaluation protocol (LOF: snippet AUC on annotated test videos, seeds) -> CSV")
    for k in ("--cfg", "--manifest", "--labels", "--features", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("--head", nargs="*", default=[], help="trained projection head file; empty = the method's built-in head")
    sp.add_argument("--threads", type=int, default=None)

    sp = add("evaluate", cmd_evaluate, "frame AUC, F1@k, per-video table and plots of one method")
    for k in ("--cfg", "--method", "--manifest", "--labels", "--scores", "--auc", "--f1", "--per-video", "--per-class", "--timelines"):
        sp.add_argument(k, required=True)
    sp.add_argument("--details", required=True, help="JSON for report.html: ROC/PR curves, videos left out, provenance")

    weights = sub.add_parser("weights", help="weight-file utilities").add_subparsers(dest="weights_cmd", required=True)
    sp = weights.add_parser("convert", help="rewrite a trusted old-style checkpoint as a plain state_dict "
                                            "(loadable with torch.load(weights_only=True))")
    sp.set_defaults(fn=cmd_weights_convert)
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sp.add_argument("--trust", action="store_true", help="allow full unpickling of FILE (it can run code)")
    sp.add_argument("--out", default=None, help="output path (default: <stem>.state_dict.pt beside FILE)")
    sp.add_argument("file", metavar="FILE")

    sp = add("video-level", cmd_video_level, "SAS video-level decisions and VL-P/R/F1 of a method's scores (docs/methods/realtime.md §8)")
    for k in ("--cfg", "--manifest", "--scores", "--out", "--per-video"):
        sp.add_argument(k, required=True)

    sp = add("resources", cmd_resources, "parameters, FLOPs and frames/s per stage of a per-frame model (docs/methods/realtime.md §10)")
    for k in ("--model", "--manifest", "--root", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("--frames", type=int, default=60, help="frames of the first test video to time")
    sp.add_argument("--threads", type=int, default=None)

    sp = add("watch", cmd_watch, "score a live stream or a video file frame by frame with a trained model.pt")
    sp.add_argument("--model", required=True, help="results/<dataset>/<method>/model.pt")
    sp.add_argument("source", metavar="SOURCE", help="video file, URL (rtsp://, http://, ...), '-' for standard input, or a camera index")
    sp.add_argument("--out", default=None, help="write rows to this .csv or .jsonl file instead of stdout")
    sp.add_argument("--format", choices=("csv", "jsonl"), default=None, help="output format (default: from --out's suffix, else csv)")
    sp.add_argument("--threshold", type=float, default=0.5, help="alarm when the score reaches it (realtime: when the SAS exceeds it)")
    sp.add_argument("--fps", type=float, default=None, help="source frame rate when it does not report one (default 30)")
    sp.add_argument("--read-timeout", type=float, default=10.0, help="seconds without a frame before the source counts as stalled")
    sp.add_argument("--pace", action="store_true", help="release a file's frames at its frame rate, as a live camera would")
    sp.add_argument("--windows", choices=("causal", "exact"), default="causal",
                    help="window methods: emit each window's newest half at once (causal), or the offline merge one window later (exact)")
    sp.add_argument("--config", default=None, help="workflow config, for a model.pt that does not record its extractors")
    sp.add_argument("--dataset", default=None, help="with --config: the dataset (default: from the model path)")
    sp.add_argument("--method", default=None, help="with --config: the method (default: from the model path)")
    sp.add_argument("--device", default=None, help="auto, cpu or cuda[:N] (default: the extractor's device setting)")
    sp.add_argument("--stats", default=None, help="also write the run summary (frames/s, latency) to this JSON file")
    sp.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    sp.add_argument("--threads", type=int, default=None)

    sp = add("repeats", cmd_repeats, "a repeated method's metric files: every repeat, their mean (the headline) and std")
    sp.add_argument("--method", required=True)
    sp.add_argument("--seeds", type=int, nargs="+", required=True, help="each repeat's training seed, in repeat order")
    for k in ("--auc", "--f1", "--per-video", "--per-class", "--details", "--timelines"):
        sp.add_argument(k, nargs="+", required=True, help="the repeats' files, in repeat order")
    for k in ("--out-auc", "--out-f1", "--out-per-video", "--out-per-class", "--out-details", "--out-timelines"):
        sp.add_argument(k, required=True)

    sp = add("summary", cmd_summary, "summary.csv and report.html over methods")
    sp.add_argument("--dataset", required=True)
    sp.add_argument("--auc", nargs="+", required=True)
    sp.add_argument("--f1", nargs="+", required=True)
    sp.add_argument("--per-class", nargs="*", default=[], help="per-class AUC CSVs of `vadflow evaluate`")
    sp.add_argument("--details", nargs="*", default=[], help="evaluation JSONs of `vadflow evaluate`")
    sp.add_argument("--images", nargs="*", default=[])
    sp.add_argument("--thesis", nargs="*", default=[], help="methods' own protocol tables (the thesis output)")
    sp.add_argument("--video-level", nargs="*", default=[], help="methods' {method}_vl.csv (the video_level output)")
    sp.add_argument("--resources", nargs="*", default=[], help="methods' resources.json (the resources output)")
    sp.add_argument("--out-csv", required=True)
    sp.add_argument("--out-html", required=True)
    sp.add_argument("--published", default=None, help="published figures (workflow/published.yaml) for reproduction.csv")
    sp.add_argument("--info", default=None, help="the dataset's kind and subset as JSON (config.dataset_info)")
    sp.add_argument("--protocols", default=None, help="each method's features and crops as JSON (config.method_protocols)")
    sp.add_argument("--out-reproduction", default=None, help="reproduction.csv: the published figures beside ours")

    sp = add("reproduce", cmd_reproduce, "one published group's figures beside ours: reproduce_<group>.csv and .html")
    for k in ("--dataset", "--group", "--info", "--protocols", "--published", "--out-csv", "--out-html"):
        sp.add_argument(k, required=True)
    sp.add_argument("--auc", nargs="+", required=True)
    sp.add_argument("--f1", nargs="+", required=True)
    sp.add_argument("--details", nargs="+", required=True)
    sp.add_argument("--thesis", nargs="*", default=[])
    sp.add_argument("--video-level", nargs="*", default=[])
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        args.fn(args)
    except _user_errors() as exc:
        # Our own errors name the file, key or video and what to do; a traceback adds nothing.
        # Anything else is a bug and keeps its traceback.
        log.error("%s: %s", type(exc).__name__, exc)
        return 1
    return 0


def _user_errors() -> tuple[type[BaseException], ...]:
    import importlib

    errors: list[type[BaseException]] = []
    for module, name in (("vadflow.config", "ConfigError"), ("vadflow.data.annotations", "AnnotationError"),
                         ("vadflow.data.ucf_crime", "DatasetError"), ("vadflow.stores.features", "FeatureStoreError"),
                         ("vadflow.methods.base", "MethodError"), ("vadflow.video.decoder", "DecodeError"),
                         ("vadflow.features.lstm_clip", "PretrainError"), ("vadflow.features.checkpoints", "CheckpointError"),
                         ("vadflow.io", "ArtifactWriteError"), ("vadflow.io", "UnsafeFileError"),
                         ("vadflow.detection.base", "DetectorError"), ("vadflow.stores.detections", "DetectionStoreError"),
                         ("vadflow.streaming.source", "SourceError"), ("vadflow.features.online", "OnlineError")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except ImportError:
            # a torch-side module in a job environment without torch (envs/data.yaml,
            # envs/report.yaml): such a job cannot raise that error anyway
            pass
    return tuple(errors)


if __name__ == "__main__":
    sys.exit(main())
