"""Feature-stage jobs: extraction shards, imports of public feature files, the merge, feature sets
joined per snippet (concat), the frame cache, the Xception-LSTM clip extractor, and object
detection on clip centre frames."""
from __future__ import annotations

import logging
from typing import Any

from vadflow.jobs import set_threads

log = logging.getLogger("vadflow")


def extract(cfg: dict[str, Any], root: str, manifest: str, shard: str, out: str, cache: str | None = None,
            threads: int | None = None, progress: bool = True) -> None:
    from vadflow.features.extract import extract_shard

    set_threads(threads)
    extract_shard(manifest, root, cfg, shard, out, cache_dir=cache, progress=progress)


def import_features(cfg: dict[str, Any], manifest: str, out: str, progress: bool = True, labels: str | None = None) -> None:
    from vadflow.features.importers import import_features as run

    run(manifest, cfg, out, progress=progress, labels=labels)


def concat(cfg: dict[str, Any], inputs: list[str], out: str, progress: bool = True) -> None:
    from vadflow.features.concat import concat_features

    concat_features(cfg, inputs, out, progress=progress)


def merge(shards: list[str], out: str) -> None:
    from vadflow.features.writer import merge as run

    log.info("merged %s into %s", run(shards, out), out)


def frames(cfg: dict[str, Any], root: str, manifest: str, cache: str, out: str, threads: int | None = None,
           progress: bool = True) -> None:
    from vadflow.features.frames import cache_frames

    cache_frames(manifest, root, cfg, out, cache, threads=threads or 1, progress=progress)


def pretrain_lstm(cfg: dict[str, Any], manifest: str, labels: str, frames: str, out: str, threads: int | None = None) -> None:
    from vadflow.features.lstm_clip import run_pretrain

    set_threads(threads)
    run_pretrain(manifest, labels, frames, cfg, out, kind=cfg.get("pretrain_kind", "synthetic"))


def lstm_features(cfg: dict[str, Any], frames: str, model: str, out: str, threads: int | None = None, progress: bool = True) -> None:
    from vadflow.features.lstm_clip import derive_features

    set_threads(threads)
    derive_features(frames, model, cfg, out, progress=progress)


def detect(cfg: dict[str, Any], root: str, manifest: str, out: str, threads: int | None = None, progress: bool = True) -> None:
    from vadflow.detection.run import detect_dataset

    set_threads(threads)
    detect_dataset(manifest, root, cfg, out, progress=progress)
