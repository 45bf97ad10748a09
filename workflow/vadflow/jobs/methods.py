"""Method jobs: train, score, the trained projection heads, and a kind's extra outputs (its own
protocol's table, video-level decisions, cost). Every kind runs through the same functions;
what differs is asked of the kind (:class:`vadflow.methods.base.Method`)."""
from __future__ import annotations

import json
import logging
from typing import Any

from vadflow.jobs import set_threads
from vadflow.jobs.crops import CropPlan
from vadflow.jobs.videos import has_split, load_videos, method_videos

log = logging.getLogger("vadflow")


def _head(path: str | None, features: str):
    """A trained projection head, checked against the features it will be applied to."""
    from vadflow.methods.lof.heads import load_head
    from vadflow.stores.features import FeatureStore

    with FeatureStore(features) as store:
        return load_head(path, store.attrs)


def train(cfg: dict[str, Any], manifest: str, labels: str, features: list[str], out: str, detections: str | None = None,
          head: str | None = None, threads: int | None = None) -> None:
    """Fit the method ``cfg`` on its training videos (or K fold models on the test videos) and save model.pt."""
    from vadflow.methods import get_method
    from vadflow.stores.features import origin

    set_threads(threads)
    cls = get_method(cfg["kind"])
    reads = cls.reads(cfg)
    crops = CropPlan.of(cls, features[0], lazy=cls.lazy_features)

    def videos(split: str):  # each crop its own sample where the features keep every crop (jobs/crops.py)
        return crops.train(method_videos(cls, cfg, manifest, labels, features, detections, split))

    if cfg.get("train_split", "train") == "test_folds":
        from vadflow.methods.folds import FoldModels

        train_videos = videos("test")
        log.warning("train_split: test_folds: training %d models on the annotated TEST videos; each test video "
                    "is scored only by the model of the folds that exclude it", cfg.get("folds", 5))
        model = FoldModels(cls, cfg, int(cfg.get("folds", 5)))
    else:
        train_videos = videos("train")
        model = cls(cfg)
        if reads.validation and has_split(manifest, "val"):
            model.set_validation(videos("val"))
    if head:
        model.set_head(_head(head, features[0]))
    test = videos("test") if reads.test_at_train else None
    if test is not None:
        model.set_test_videos(test)
    counts = crops.counts(train_videos)
    log.info("training %s (kind %s) on %d videos (%d samples; %s)", cfg.get("name"), cfg["kind"], counts["train_videos"],
             counts["train_samples"], counts["handling"])
    model.fit(train_videos)
    if test is not None:
        # A transductive step of the kind (LOF's test-set min-max): features only, no labels.
        model.calibrate([v for v in test if model.skip_reason(v) is None])
    # The extractors behind the inputs travel with the model, so `vadflow watch` can rebuild them;
    # the crop counts say what fit() got, for the scores' provenance.
    model.origin = {"features": [origin(p) for p in features], "crops": counts}
    if detections:
        from vadflow.stores.detections import DetectionStore

        with DetectionStore(detections) as dets:
            model.origin["detections"] = {k: str(dets.attrs[k]) for k in ("detector", "backend", "config", "class_names", "weights")
                                          if k in dets.attrs}
    model.save(out)


def score(cfg: dict[str, Any], model_path: str, manifest: str, labels: str, features: list[str], out: str,
          detections: str | None = None, threads: int | None = None, progress: bool = True) -> None:
    """Frame scores of every test video -> scores.h5, with the scores' provenance."""
    from tqdm import tqdm

    from vadflow.data.manifest import read_manifest
    from vadflow.methods import get_method, load_method
    from vadflow.provenance import score_attrs
    from vadflow.stores.features import FeatureStore
    from vadflow.stores.scores import skipped_attrs, write_scores

    set_threads(threads)
    cls = get_method(cfg["kind"])
    protocol = cfg.get("train_split", "train")
    model = load_method(model_path)
    crops = CropPlan.of(cls, features[0], lazy=cls.lazy_features)
    test = method_videos(cls, cfg, manifest, labels, features, detections, "test")
    skipped = {v.id: r for v in test if (r := model.skip_reason(v)) is not None}
    scores = {v.id: crops.score(model, v) for v in tqdm(test, desc=f"score {cfg.get('name')}", unit="video", disable=not progress)}
    if skipped or model.skipped_train:
        log.warning("%s skipped %d of %d test videos (all-zero frame scores, left out of video-level metrics) and "
                    "%d training videos: %s", cfg.get("name"), len(skipped), len(test), len(model.skipped_train),
                    "; ".join(sorted(set(skipped.values()) | set(model.skipped_train.values()))))
    det_attrs = None
    if detections:
        from vadflow.stores.detections import DetectionStore

        with DetectionStore(detections) as dets:
            det_attrs = dict(dets.attrs)
    with FeatureStore(features[0]) as store:
        provenance, failed = score_attrs(cfg, store.attrs, det_attrs), store.failed
    trained = (model.origin or {}).get("crops")
    if crops.all_crops or trained:  # a model trained before crops were recorded has no counts
        provenance["crops"] = crops.describe(int((trained or {}).get("n_crops") or 0))
        provenance["train_samples"] = json.dumps({k: (trained or {}).get(k) for k in ("train_videos", "train_samples", "n_crops")})
    # why a test video the manifest calls ok has no scores (read by `vadflow evaluate`)
    table = read_manifest(manifest)
    ok = table[(table["split"] == "test") & (table["status"] == "ok")]["id"]
    unscored = {vid: failed.get(vid, "no features") for vid in ok if vid not in scores}
    # main_set names the headline; a method's further score sets (other protocols) and logged
    # per-frame values go beside it (svdd_cae); score_attrs: constants such as LOF's min-max
    write_scores(out, scores, attrs={"method": cfg.get("name", ""), "kind": cfg["kind"], "protocol": protocol,
                                     **provenance, "left_out": json.dumps(unscored, sort_keys=True),
                                     **skipped_attrs(skipped, model.skipped_train),
                                     "main_set": model.main_set, **model.score_attrs()},
                 sets=model.score_sets(), logs=model.score_logs())


def train_head(cfg: dict[str, Any], manifest: str, labels: str, features: str, out: str, labelled: list[str] | tuple = (),
               threads: int | None = None) -> None:
    """Train a projection head (``heads.<name>``) on cached features -> heads/<name>.pt."""
    from vadflow.methods.base import MethodError
    from vadflow.methods.lof.heads import dataset_clips, file_clips, head_config, save_head, train_head as fit_head
    from vadflow.stores.features import FeatureStore

    set_threads(threads)
    cfg = head_config(cfg)
    with FeatureStore(features) as store:
        attrs = store.attrs
    train = load_videos(manifest, labels, features, split="train", method=cfg.get("name", ""), kind="head")
    found = validation = None
    in_dim = int(train[0].features.shape[1])
    source = cfg["labelled"]["source"] if cfg["mode"] in ("ce", "supcon") else None
    if source == "file":
        found = file_clips(cfg["labelled"]["path"] or "", in_dim)
    elif source == "dataset":
        lab_manifest, lab_features = labelled  # the labelled dataset's manifest and features (config head_inputs)
        found = dataset_clips(lab_manifest, lab_features, in_dim, "train")
        if found is None:
            raise MethodError(f"head {cfg.get('name')}: labelled dataset {cfg['labelled']['dataset']} has no training videos ({lab_manifest})")
        validation = dataset_clips(lab_manifest, lab_features, in_dim, "test")
    log.info("training head %s (mode %s) on %s", cfg.get("name"), cfg["mode"], features)
    head = fit_head(cfg, train, found, validation)
    save_head(out, head, cfg, attrs)


def protocol(cfg: dict[str, Any], manifest: str, labels: str, features: str, out: str, head: str | None = None,
             threads: int | None = None) -> None:
    """A kind's own evaluation protocol (the ``thesis`` output, e.g. LOF's) -> its CSV."""
    from vadflow.io import atomic_path
    from vadflow.methods import get_method
    from vadflow.methods.base import MethodError

    set_threads(threads)
    cls = get_method(cfg["kind"])
    if "thesis" not in cls.outputs(cfg):
        raise MethodError(f"method {cfg.get('name')!r} (kind {cfg.get('kind')}) has no thesis protocol output")
    test = load_videos(manifest, labels, features, split="test", method=cfg.get("name", ""), kind=cfg["kind"])
    df = cls(cfg).protocol_table(test, _head(head, features) if head else None)
    df.insert(0, "method", cfg.get("name", ""))
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    mean = df[df["seed"] == "mean"].iloc[0]
    log.info("%s thesis protocol: snippet AUC %.4f +- %.4f over seeds %s", cfg.get("name"), mean["auc"], mean["auc_std"],
             cfg.get("thesis_seeds"))


def video_level(cfg: dict[str, Any], manifest: str, scores: str, out: str, per_video: str) -> None:
    """SAS video-level decisions and VL-P/R/F1 of a method's frame scores (the ``video_level`` output)."""
    import pandas as pd

    from vadflow.data.manifest import read_manifest
    from vadflow.evaluation.video_level import video_level as decide
    from vadflow.io import atomic_path
    from vadflow.stores.scores import read_scores

    frame_scores = read_scores(scores)
    table = read_manifest(manifest)
    videos = table[(table["split"] == "test") & table["id"].isin(list(frame_scores))][["id", "anomalous"]]
    per, summary = decide(frame_scores, videos, cfg.get("sas"))
    name = cfg.get("name", "")
    per.insert(0, "method", name)
    with atomic_path(per_video) as tmp:
        per.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(out) as tmp:
        pd.DataFrame([{"method": name, **summary}]).to_csv(tmp, index=False, float_format="%.6g")
    log.info("%s video level (SAS): %s", name, summary)


def resources(model: str, manifest: str, root: str, out: str, frames: int = 60, threads: int | None = None) -> None:
    """Parameters, FLOPs and frames/s per stage of the online pipeline (the ``resources`` output)."""
    from vadflow.streaming.resources import measure

    set_threads(threads)
    measure(model, manifest, root, out, n_frames=frames)


def convert_weights(file: str, out: str | None, trust: bool) -> None:
    """Rewrite a trusted old-style checkpoint as a plain state_dict."""
    from vadflow.features.checkpoints import CheckpointError, convert_trusted

    if not trust:
        raise CheckpointError(
            f"not converting {file}: reading it needs full unpickling, which can run arbitrary code "
            "from the file. Only if you trust its source, rerun with --trust."
        )
    dest, state_dict = convert_trusted(file, out)
    log.info("wrote %s (%d tensors); point features.<name>.weights at it", dest, len(state_dict))
