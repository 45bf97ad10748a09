"""``vadflow`` command line: the entry points Snakemake rules call, one per job type.

Each job receives its config section as JSON (``--cfg``), exactly the rule's ``params``, so
what a job computes and what triggers its rerun are the same thing.
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


def _set_threads(n: int | None) -> None:
    import torch

    # Saturated sigmoids and tiny Adam moments produce denormal floats, which made CPU
    # training steps ~10x slower in measurement; flushing them to zero changes no result we report.
    torch.set_flush_denormal(True)
    if n:
        torch.set_num_threads(n)


def cmd_synth(a: argparse.Namespace) -> None:
    from vadflow.data.synthetic import generate

    info = generate(_cfg(a.cfg), a.out, progress=not a.quiet)
    log.info("synthetic dataset written to %s: %s", a.out, info)


def cmd_manifest(a: argparse.Namespace) -> None:
    from vadflow.data.manifest import build_manifest, write_manifest
    from vadflow.io import config_hash

    cfg = _cfg(a.cfg)
    table, labels, facts = build_manifest(cfg, progress=not a.quiet)
    write_manifest(table, labels, a.manifest, a.labels, attrs={"dataset_config_hash": config_hash(cfg), "root": cfg["root"]})
    log.info("annotation files used: %s", ", ".join(facts["files"]))
    log.info("%d videos: %s", facts["n_videos"], facts["status"])
    for (split, cls), n in sorted(facts["per_class"].items()):
        log.info("  %-5s %-30s %5d", split, cls, n)


def cmd_extract(a: argparse.Namespace) -> None:
    from vadflow.features.extract import extract_shard

    _set_threads(a.threads)
    extract_shard(a.manifest, a.root, _cfg(a.cfg), a.shard, a.out, cache_dir=a.cache, progress=not a.quiet)


def cmd_import(a: argparse.Namespace) -> None:
    from vadflow.features.importers import import_features

    import_features(a.manifest, _cfg(a.cfg), a.out, progress=not a.quiet)


def cmd_merge(a: argparse.Namespace) -> None:
    from vadflow.features.writer import merge

    log.info("merged %s into %s", merge(a.shards, a.out), a.out)


def cmd_frames(a: argparse.Namespace) -> None:
    from vadflow.features.frames import cache_frames

    cache_frames(a.manifest, a.root, _cfg(a.cfg), a.out, a.cache, threads=a.threads or 1, progress=not a.quiet)


def cmd_pretrain_lstm(a: argparse.Namespace) -> None:
    from vadflow.features.lstm_clip import run_pretrain

    _set_threads(a.threads)
    cfg = _cfg(a.cfg)
    run_pretrain(a.manifest, a.labels, a.frames, cfg, a.out, kind=cfg.get("pretrain_kind", "synthetic"))


def cmd_lstm_features(a: argparse.Namespace) -> None:
    from vadflow.features.lstm_clip import derive_features

    _set_threads(a.threads)
    derive_features(a.frames, a.model, _cfg(a.cfg), a.out, progress=not a.quiet)


def cmd_detect(a: argparse.Namespace) -> None:
    from vadflow.detection.run import detect_dataset

    _set_threads(a.threads)
    detect_dataset(a.manifest, a.root, _cfg(a.cfg), a.out, progress=not a.quiet)


def _detections(a: argparse.Namespace) -> str | None:
    """The --detections file, or None (the rule passes an empty value when a method reads none)."""
    files = [f for f in (getattr(a, "detections", None) or []) if f]
    return files[0] if files else None


def cmd_train(a: argparse.Namespace) -> None:
    from vadflow.methods import get_method
    from vadflow.methods.data import load_videos

    _set_threads(a.threads)
    cfg = _cfg(a.cfg)
    cls = get_method(cfg["kind"])
    extra = list(getattr(a, "extra_features", None) or [])
    if cfg.get("train_split", "train") == "test_folds":
        from vadflow.methods.folds import FoldModels

        videos = load_videos(a.manifest, a.labels, a.features, split="test", layouts=cls.layouts,
                             method=cfg.get("name", ""), kind=cfg["kind"], detections=_detections(a), lazy=cls.lazy_features,
                             extra_features=extra)
        log.warning("train_split: test_folds: training %d models on the annotated TEST videos; each test video "
                    "is scored only by the model of the folds that exclude it", cfg.get("folds", 5))
        model = FoldModels(cls, cfg, int(cfg.get("folds", 5)))
    else:
        videos = load_videos(a.manifest, a.labels, a.features, split="train", layouts=cls.layouts,
                             method=cfg.get("name", ""), kind=cfg["kind"], detections=_detections(a), lazy=cls.lazy_features,
                             extra_features=extra)
        model = cls(cfg)
        if getattr(cls, "wants_validation", False):
            from vadflow.data.manifest import read_manifest

            table = read_manifest(a.manifest)
            if ((table["split"] == "val") & (table["status"] == "ok")).any():
                model.set_validation(load_videos(a.manifest, a.labels, a.features, split="val", layouts=cls.layouts,
                                                 method=cfg.get("name", ""), kind=cfg["kind"], detections=_detections(a),
                                                 lazy=cls.lazy_features, extra_features=extra))
    if getattr(a, "head", None) and a.head[0]:
        # A trained projection head (LOF): checked against the features it will be applied to.
        from vadflow.stores.features import FeatureStore
        from vadflow.methods.heads import load_head

        with FeatureStore(a.features) as store:
            model.set_head(load_head(a.head[0], store.attrs))
    log.info("training %s (kind %s) on %d videos", cfg.get("name"), cfg["kind"], len(videos))
    model.fit(videos)
    from vadflow.stores.features import origin

    # The extractors behind the inputs travel with the model, so `vadflow watch` can rebuild them.
    model.origin = {"features": [origin(p) for p in [a.features, *extra]]}
    if _detections(a):
        from vadflow.stores.detections import DetectionStore

        with DetectionStore(_detections(a)) as dets:
            model.origin["detections"] = {k: str(dets.attrs[k]) for k in ("detector", "backend", "config", "class_names", "weights")
                                              if k in dets.attrs}
    model.save(a.out)


def cmd_score(a: argparse.Namespace) -> None:
    from tqdm import tqdm

    from vadflow.data.manifest import read_manifest
    from vadflow.stores.features import FeatureStore
    from vadflow.methods import get_method
    from vadflow.methods.data import load_videos
    from vadflow.provenance import score_attrs
    from vadflow.stores.scores import skipped_attrs, write_scores

    _set_threads(a.threads)
    cfg = _cfg(a.cfg)
    cls = get_method(cfg["kind"])
    protocol = cfg.get("train_split", "train")
    if protocol == "test_folds":
        from vadflow.methods.folds import FoldModels

        model = FoldModels.load(cls, a.model)
    else:
        model = cls.load(a.model)
    test = load_videos(a.manifest, a.labels, a.features, split="test", layouts=cls.layouts,
                       method=cfg.get("name", ""), kind=cfg["kind"], detections=_detections(a), lazy=cls.lazy_features,
                       extra_features=list(a.extra_features or []))
    skipped = {v.id: r for v in test if (r := model.skip_reason(v)) is not None}
    scores = {v.id: model.score(v) for v in tqdm(test, desc=f"score {cfg.get('name')}", unit="video", disable=a.quiet)}
    if hasattr(model, "finalize_scores"):
        # skipped videos keep their all-zero scores: a test-set normalisation must not move them
        final = model.finalize_scores({vid: s for vid, s in scores.items() if vid not in skipped})
        scores = {vid: s if vid in skipped else final[vid] for vid, s in scores.items()}
    if skipped or model.skipped_train:
        log.warning("%s skipped %d of %d test videos (all-zero frame scores, left out of video-level metrics) and "
                    "%d training videos: %s", cfg.get("name"), len(skipped), len(test), len(model.skipped_train),
                    "; ".join(sorted(set(skipped.values()) | set(model.skipped_train.values()))))
    det_attrs = None
    if _detections(a):
        from vadflow.stores.detections import DetectionStore

        with DetectionStore(_detections(a)) as dets:
            det_attrs = dict(dets.attrs)
    with FeatureStore(a.features) as store:
        provenance, failed = score_attrs(cfg, store.attrs, det_attrs), store.failed
    # why a test video the manifest calls ok has no scores (read by `vadflow evaluate`)
    table = read_manifest(a.manifest)
    ok = table[(table["split"] == "test") & (table["status"] == "ok")]["id"]
    unscored = {vid: failed.get(vid, "no features") for vid in ok if vid not in scores}
    # a test-set normalisation's constants (LOF min-max), so `vadflow watch` applies the same map
    norm = model.normalisation_attrs() if hasattr(model, "normalisation_attrs") else {}
    # main_set names the headline; a method's further score sets (other protocols) and logged
    # per-frame values go beside it (svdd_cae)
    write_scores(a.out, scores, attrs={"method": cfg.get("name", ""), "kind": cfg["kind"], "protocol": protocol,
                                       **provenance, "left_out": json.dumps(unscored, sort_keys=True),
                                       **skipped_attrs(skipped, model.skipped_train),
                                       "main_set": getattr(model, "main_set", "main"), **norm},
                 sets=getattr(model, "score_sets", dict)(), logs=getattr(model, "score_logs", dict)())


def cmd_train_head(a: argparse.Namespace) -> None:
    from vadflow.stores.features import FeatureStore
    from vadflow.methods.base import MethodError
    from vadflow.methods.data import load_videos
    from vadflow.methods.heads import dataset_clips, file_clips, head_config, save_head, train_head

    _set_threads(a.threads)
    cfg = head_config(_cfg(a.cfg))
    with FeatureStore(a.features) as store:
        attrs = store.attrs
    train = load_videos(a.manifest, a.labels, a.features, split="train", method=cfg.get("name", ""), kind="head")
    labelled = validation = None
    in_dim = int(train[0].features.shape[1])
    source = cfg["labelled"]["source"] if cfg["mode"] in ("ce", "supcon") else None
    if source == "file":
        labelled = file_clips(cfg["labelled"]["path"] or "", in_dim)
    elif source == "dataset":
        manifest, features = a.labelled  # the labelled dataset's manifest and features (config.head_inputs)
        labelled = dataset_clips(manifest, features, in_dim, "train")
        if labelled is None:
            raise MethodError(f"head {cfg.get('name')}: labelled dataset {cfg['labelled']['dataset']} has no training videos ({manifest})")
        validation = dataset_clips(manifest, features, in_dim, "test")
    log.info("training head %s (mode %s) on %s", cfg.get("name"), cfg["mode"], a.features)
    head = train_head(cfg, train, labelled, validation)
    save_head(a.out, head, cfg, attrs)


def cmd_thesis(a: argparse.Namespace) -> None:
    from vadflow.stores.features import FeatureStore
    from vadflow.io import atomic_path
    from vadflow.methods.data import load_videos
    from vadflow.methods.heads import load_head
    from vadflow.methods.lof import run_thesis

    _set_threads(a.threads)
    cfg = _cfg(a.cfg)
    if cfg.get("kind") != "lof":
        from vadflow.methods.base import MethodError

        raise MethodError(f"the thesis protocol is LOF's (specs/lof.md §5.1); method {cfg.get('name')!r} is kind {cfg.get('kind')}")
    head = None
    if a.head and a.head[0]:
        with FeatureStore(a.features) as store:
            head = load_head(a.head[0], store.attrs)
    test = load_videos(a.manifest, a.labels, a.features, split="test", method=cfg.get("name", ""), kind=cfg["kind"])
    df = run_thesis(cfg, test, head)
    df.insert(0, "method", cfg.get("name", ""))
    with atomic_path(a.out) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    mean = df[df["seed"] == "mean"].iloc[0]
    log.info("%s thesis protocol: snippet AUC %.4f +- %.4f over seeds %s", cfg.get("name"), mean["auc"], mean["auc_std"], cfg.get("thesis_seeds"))


def cmd_evaluate(a: argparse.Namespace) -> None:
    from vadflow.data.manifest import read_labels, read_manifest
    from vadflow.evaluation.plots import plot_timelines
    from vadflow.evaluation.tables import evaluate, left_out
    from vadflow.io import atomic_path
    import pandas as pd

    from vadflow.stores.scores import read_score_attrs, read_score_sets, read_scores, read_skipped

    cfg = _cfg(a.cfg)
    table = read_manifest(a.manifest)
    scores = read_scores(a.scores)
    skipped = read_skipped(a.scores)
    attrs = read_score_attrs(a.scores)
    test = table[(table["split"] == "test") & table["id"].isin(list(scores))]
    unscored = left_out(table, list(scores), json.loads(attrs.pop("left_out", "{}")))
    if len(unscored):
        log.warning("%d test videos have no scores (status %s) and are left out of the metrics",
                    len(unscored), unscored["status"].value_counts().to_dict())
    videos = test[["id", "cls", "anomalous", "fps"]].reset_index(drop=True)
    labels = read_labels(a.labels, list(videos["id"]))
    tables = evaluate(labels, scores, videos, cfg, skipped=skipped["test"], skipped_train=skipped["train"])
    # One auc row per score set: the headline (what `score` returned), then a method's other
    # protocols (e.g. svdd_cae's per-video "agg"), each judged by the same code.
    tables["auc"] = tables["auc"].assign(score_set=attrs.pop("main_set", "main"), headline=True)
    extra = [evaluate(labels, sc, videos, cfg, skipped=skipped["test"], skipped_train=skipped["train"])["auc"]
             .assign(score_set=name, headline=False) for name, sc in read_score_sets(a.scores).items()]
    tables["auc"] = pd.concat([tables["auc"], *extra], ignore_index=True)
    for key, path in (("auc", a.auc), ("f1", a.f1), ("per_video", a.per_video), ("per_class", a.per_class)):
        df = tables[key]
        df.insert(0, "method", a.method)
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False, float_format="%.6g")
    details = {"method": a.method, "n_evaluated": len(videos), "left_out": unscored.to_dict("records"),
               "provenance": attrs, **tables["curves"]}
    with atomic_path(a.details) as tmp:
        tmp.write_text(json.dumps(details, indent=1))
    plot_timelines(labels, scores, videos, a.timelines, n=int(cfg.get("plot_videos", 6)),
                   threshold=float(cfg.get("threshold", 0.5)), title=a.method)
    log.info("%s: %s", a.method, tables["auc"].iloc[0].to_dict())


def cmd_weights_convert(a: argparse.Namespace) -> None:
    from vadflow.features.checkpoints import CheckpointError, convert_trusted

    if not a.trust:
        raise CheckpointError(
            f"not converting {a.file}: reading it needs full unpickling, which can run arbitrary code "
            "from the file. Only if you trust its source, rerun with --trust."
        )
    out, state_dict = convert_trusted(a.file, a.out)
    log.info("wrote %s (%d tensors); point features.<name>.weights at it", out, len(state_dict))


def cmd_watch(a: argparse.Namespace) -> None:
    from vadflow.streaming.watch import watch

    if a.threads:
        _set_threads(a.threads)
    else:
        import torch

        torch.set_flush_denormal(True)
    watch(a.model, a.source, out=a.out, fmt=a.format, threshold=a.threshold, fps=a.fps, timeout=a.read_timeout, pace=a.pace,
          windows=a.windows, scores=a.scores, device=a.device, origin=_watch_origin(a), stats=a.stats, max_frames=a.max_frames)


def _watch_origin(a: argparse.Namespace) -> dict[str, Any] | None:
    """``--config``: the extractor configs of a model.pt that does not record them, resolved from
    the workflow config (dataset and method from --dataset/--method or the path results/<ds>/<method>/model.pt)."""
    if not a.config:
        return None
    from pathlib import Path

    import yaml

    from vadflow import config as vc

    cfg = yaml.safe_load(Path(a.config).read_text())
    try:
        from snakemake.utils import validate

        validate(cfg, str(Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"))  # fills the defaults
    except ImportError:
        log.warning("snakemake is not installed: schema defaults are not filled in for --config")
    parts = Path(a.model).resolve().parts
    dataset = a.dataset or (parts[-3] if len(parts) >= 3 else None)
    method = a.method or (parts[-2] if len(parts) >= 2 else None)
    params = vc.method_params(cfg, dataset, method)
    names = [params["features"]] + [Path(p).stem for p in vc.method_extra_features(cfg, dataset, method)]
    out = []
    for name in names:
        ep = vc.extractor_params(cfg, dataset, name)
        out.append({"extractor": name, "config": vc.as_json(ep)})
    return {"features": out}


def cmd_video_level(a: argparse.Namespace) -> None:
    import pandas as pd

    from vadflow.data.manifest import read_manifest
    from vadflow.evaluation.video_level import video_level
    from vadflow.io import atomic_path
    from vadflow.stores.scores import read_scores

    cfg = _cfg(a.cfg)
    scores = read_scores(a.scores)
    table = read_manifest(a.manifest)
    videos = table[(table["split"] == "test") & table["id"].isin(list(scores))][["id", "anomalous"]]
    per_video, summary = video_level(scores, videos, cfg.get("sas"))
    name = cfg.get("name", "")
    per_video.insert(0, "method", name)
    with atomic_path(a.per_video) as tmp:
        per_video.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(a.out) as tmp:
        pd.DataFrame([{"method": name, **summary}]).to_csv(tmp, index=False, float_format="%.6g")
    log.info("%s video level (SAS): %s", name, summary)


def cmd_resources(a: argparse.Namespace) -> None:
    from vadflow.streaming.resources import measure

    _set_threads(a.threads)
    measure(a.model, a.manifest, a.root, a.out, n_frames=a.frames)


def cmd_summary(a: argparse.Namespace) -> None:
    from vadflow.evaluation.report import skipped_notes, write_report

    for note in skipped_notes(a.auc):
        log.warning("%s", note)
    write_report(a.auc, a.f1, a.out_csv, a.out_html, images=a.images, dataset=a.dataset, thesis_csvs=a.thesis,
                 per_class_csvs=a.per_class, details=a.details, realtime=getattr(a, "realtime", None) or [])


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
        for k in ("--cfg", "--manifest", "--labels", "--features", "--out"):
            sp.add_argument(k, required=True)
        sp.add_argument("--threads", type=int, default=None)
        sp.add_argument("--detections", nargs="*", default=[], help="detections file (methods with `detections:`, ADOR); empty = none")
        sp.add_argument("--extra-features", nargs="*", default=[],
                        help="further feature files of the method's rows (the realtime flow stream); empty = none")
        if name == "score":
            sp.add_argument("--model", required=True)
        else:
            sp.add_argument("--head", nargs="*", default=[], help="trained projection head file (LOF with a heads: entry); empty = none")

    sp = add("train-head", cmd_train_head, "train a projection head (heads.<name>) on cached features")
    for k in ("--cfg", "--manifest", "--labels", "--features", "--out"):
        sp.add_argument(k, required=True)
    sp.add_argument("--labelled", nargs="*", default=[],
                    help="labelled.source dataset: that dataset's manifest.csv and feature file; file: the file; else nothing")
    sp.add_argument("--threads", type=int, default=None)

    sp = add("thesis", cmd_thesis, "LOF thesis protocol (snippet AUC on annotated test videos, seeds) -> CSV")
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

    sp = add("video-level", cmd_video_level, "SAS video-level decisions and VL-P/R/F1 of a realtime method (specs/realtime.md §8)")
    for k in ("--cfg", "--manifest", "--scores", "--out", "--per-video"):
        sp.add_argument(k, required=True)

    sp = add("resources", cmd_resources, "parameters, FLOPs and frames/s per stage of a realtime model (specs/realtime.md §10)")
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
    sp.add_argument("--scores", default=None, help="scores.h5 with the LOF min-max constants (default: beside the model)")
    sp.add_argument("--config", default=None, help="workflow config, for a model.pt that does not record its extractors")
    sp.add_argument("--dataset", default=None, help="with --config: the dataset (default: from the model path)")
    sp.add_argument("--method", default=None, help="with --config: the method (default: from the model path)")
    sp.add_argument("--device", default=None, help="auto, cpu or cuda[:N] (default: the extractor's device setting)")
    sp.add_argument("--stats", default=None, help="also write the run summary (frames/s, latency) to this JSON file")
    sp.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    sp.add_argument("--threads", type=int, default=None)

    sp = add("summary", cmd_summary, "summary.csv and report.html over methods")
    sp.add_argument("--dataset", required=True)
    sp.add_argument("--auc", nargs="+", required=True)
    sp.add_argument("--f1", nargs="+", required=True)
    sp.add_argument("--per-class", nargs="*", default=[], help="per-class AUC CSVs of `vadflow evaluate`")
    sp.add_argument("--details", nargs="*", default=[], help="evaluation JSONs of `vadflow evaluate`")
    sp.add_argument("--images", nargs="*", default=[])
    sp.add_argument("--thesis", nargs="*", default=[], help="LOF thesis-protocol CSVs")
    sp.add_argument("--realtime", nargs="*", default=[], help="realtime methods' {method}_vl.csv and resources.json files")
    sp.add_argument("--out-csv", required=True)
    sp.add_argument("--out-html", required=True)
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
