"""Objects of a live stream (``vadflow watch``): the detector a model's detections file was made
with, fed every decoded frame in order, as the detect job feeds it (detection.run).

Both go through the detector's :class:`vadflow.detection.base.FrameStream` (background
subtraction must see every frame in order) and the same geometry (``detection.run.frame_spec``),
post-processing (``select``), packing (``pack``) and storage rounding (``stored_objects``), so a
finished video's objects are the stored ones.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from vadflow.detection.base import Detections
from vadflow.stores.detections import ObjectSets
from vadflow.methods.base import MethodError


class OnlineDetector:
    """One detector over a live frame sequence: :meth:`push` every frame, then :meth:`detect`
    or :meth:`objects` of the last frame pushed."""

    def __init__(self, cfg: dict[str, Any]):
        from vadflow.detection import detector_class, get_detector
        from vadflow.detection.run import frame_spec

        # Checked on the class: building a precomputed detector would index its whole import first.
        why = detector_class(cfg.get("backend")).live_error(str(cfg.get("name", cfg.get("backend"))))
        if why:
            raise MethodError(why)
        self.det = get_detector(cfg)
        self.stream = self.det.stream()
        self.spec = frame_spec(self.det.cfg)
        self.kmax = int(self.det.cfg["max_objects"])
        self.img: np.ndarray | None = None

    @property
    def backend(self) -> str:
        return self.det.backend

    def push(self, frame: np.ndarray) -> None:
        from vadflow.video.decoder import transform_frame

        if self.det.needs_frames:
            self.img = transform_frame(frame, self.spec)
            self.stream.push(self.img)

    def detect(self) -> Detections:
        """Selected detections of the last frame, without per-box features."""
        return self.stream.detect()

    def objects(self) -> ObjectSets:
        """The last frame's objects as one row of the detections file holds them."""
        from vadflow.detection.base import pack
        from vadflow.stores.detections import stored_objects

        if self.det.needs_frames:
            d = self.det.with_features(self.img[None], [self.detect()])[0]
            hw = self.img.shape[:2]
        else:
            d, hw = self.detect(), self.det.frame_size("")
        return stored_objects(pack([d], self.kmax, self.det.feature_dim, hw), hw)


class OnlineBag:
    """The bag of objects of a live stream, counted on the sampled frames exactly as
    :meth:`vadflow.stores.detections.VideoObjects.bag` counts the stored objects."""

    def __init__(self, cfg: dict[str, Any], class_names: list[str], conf: float):
        self.det = OnlineDetector(cfg)
        self.n_classes, self.conf = len(class_names), float(conf)

    def push(self, frame: np.ndarray, sampled: bool) -> np.ndarray | None:
        self.det.push(frame)  # every frame: background subtraction needs them all in order
        if not sampled:
            return None
        dets = self.det.detect()
        keep = np.asarray(dets.scores) >= self.conf
        labels = np.asarray(dets.labels)[keep]
        if self.n_classes == 0:
            return np.array([keep.sum()], np.float32)
        labels = labels[(labels >= 0) & (labels < self.n_classes)]
        return np.bincount(labels, minlength=self.n_classes).astype(np.float32)
