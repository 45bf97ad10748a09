"""Run one detector over a dataset's videos -> ``detections/{detector}.h5``.

Detection runs on each feature clip's centre frame, so the rows line up with the clip index
of the features a method pairs them with: the clip grid (``clip_len``, ``stride``, ``tail``)
is the one of the extractor that ``detectors.<name>.features`` names, resolved by
``vadflow.config.detector_params`` and passed in ``cfg``.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vadflow.data.manifest import read_manifest
from vadflow.detection import get_detector
from vadflow.detection.base import Detector, DetectorError, centre_frames, pack
from vadflow.stores.detections import CENTRE_RULE
from vadflow.detection.writer import DetectionWriter
from vadflow.io import config_hash
from vadflow.video.decoder import DecodeError, VideoInfo, iter_frames_at
from vadflow.video.geometry import ClipSpec, n_clips, resized_size, sampled_frames, split_steps

log = logging.getLogger(__name__)

#: keys that change how the job runs, not what it writes (left out of the attrs hash).
RUNTIME_KEYS = ("batch_size", "device", "decoder")


def detector_hash(cfg: dict[str, Any]) -> str:
    return config_hash({k: v for k, v in cfg.items() if k not in RUNTIME_KEYS})


def detect_dataset(manifest: str | Path, root: str | Path, cfg: dict[str, Any], out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Detect on the centre frame of every clip of every ``ok`` video in the manifest."""
    table = read_manifest(manifest)
    rows = table[table["status"] == "ok"]
    clip_len, stride, tail = int(cfg["clip_len"]), int(cfg["stride"]), str(cfg.get("tail", "drop"))
    if tail == "spread":
        raise DetectorError(f"detectors.{cfg.get('name')}: the features' tail rule is spread (one clip over the whole "
                            "video), which has no centre frame per clip; align the detector with a per-clip extractor")
    # An extractor with frame_steps (the realtime method's streams) has one row per sampled frame:
    # objects are detected on those frames, per split, instead of on clip centres.
    frame_steps = cfg.get("frame_steps")
    det: Detector = get_detector(cfg)
    spec = frame_spec(det.cfg)
    file_attrs = {
        "detector": det.name, "backend": det.backend, "feature_dim": det.feature_dim,
        "score_thresh": float(det.cfg["score_thresh"]), "max_objects": int(det.cfg["max_objects"]),
        "centre_rule": "the extractor's sampled frames (frame_steps)" if frame_steps else CENTRE_RULE, "features": str(cfg.get("features", "")), "clip_len": clip_len, "stride": stride,
        "config_hash": detector_hash(cfg), "weights": det.weights_sha256, "class_names": json.dumps(det.class_names),
        "config": json.dumps(cfg, sort_keys=True, default=str),
    }
    stats = {"videos": 0, "failed": 0, "clips": 0, "objects": 0}
    t0 = time.time()
    log.info("detector %s (backend %s, weights %s): %d videos", det.name, det.backend, det.weights_sha256, len(rows))
    with DetectionWriter(out, file_attrs) as writer:
        for r in tqdm(list(rows.itertuples()), desc=f"detect {det.name}", unit="video", disable=not progress):
            extra = {}
            if frame_steps:
                steps = split_steps(frame_steps, r.split)
                centres = sampled_frames(int(r.frames), steps)
                n = len(centres)
                extra["frame_steps"] = json.dumps(steps)
            else:
                n = n_clips(int(r.frames), clip_len, stride, tail)
                centres = centre_frames(n, int(r.frames), clip_len, stride)
            try:
                if det.needs_frames:
                    info = VideoInfo(int(r.frames), float(r.fps), int(r.width), int(r.height), "manifest")
                    frame_hw = resized_size(info.height, info.width, spec.resize)
                    frames = iter_frames_at(Path(root) / r.path, spec, info, None if det.needs_every_frame else centres,
                                            backend=str(det.cfg.get("decoder", "auto")))
                    dets = det.detect_video(r.id, frames, centres)
                else:
                    dets = det.detect_video(r.id, iter(()), centres)
                    frame_hw = det.frame_size(r.id)
            except DecodeError as exc:
                log.warning("video %s skipped: %s", r.id, exc)
                writer.fail(r.id, str(exc))
                stats["failed"] += 1
                continue
            arrays = pack(dets, int(det.cfg["max_objects"]), det.feature_dim, frame_hw)
            writer.add(r.id, arrays, centres, {"clip_len": clip_len, "stride": stride, "tail": tail, "n_frames": int(r.frames),
                                               "fps": float(r.fps), "frame_height": int(frame_hw[0]), "frame_width": int(frame_hw[1]), **extra})
            stats["videos"] += 1
            stats["clips"] += n
            stats["objects"] += int(arrays["valid"].sum())
    stats["seconds"] = round(time.time() - t0, 2)
    log.info("detector %s done: %s (%.2f objects per clip)", det.name, stats, stats["objects"] / max(1, stats["clips"]))
    return stats


def frame_spec(cfg: dict[str, Any]) -> ClipSpec:
    """The geometry of the frames a detector sees (its ``resize``; no crop), offline and in ``vadflow watch``."""
    resize = cfg.get("resize")
    return ClipSpec(clip_len=1, stride=1, resize=tuple(resize) if isinstance(resize, (list, tuple)) else resize, crop=None)
