"""``detections/{detector}.h5``: objects on every clip's centre frame, one group per video (read-only).

Written by :class:`vadflow.detection.writer.DetectionWriter`.

Layout of group ``<video id>`` (T = number of clips of the aligned extractor, K = max_objects):

| dataset | shape | dtype | meaning |
|---|---|---|---|
| ``boxes`` | [T, K, 4] | float32 | (x1, y1, x2, y2) normalised to the frame (x / W, y / H) |
| ``scores`` | [T, K] | float32 | detector score in [0, 1], sorted descending, 0 at padding |
| ``labels`` | [T, K] | int32 | class id, -1 if unknown or padding |
| ``feats`` | [T, K, D] | float16 | per-box feature, zeros at padding |
| ``valid`` | [T, K] | bool | real object (True) or padding |
| ``centres`` | [T] | int64 | frame each row was detected on, ``i * stride + clip_len // 2`` |

Group attrs: clip_len, stride, tail, n_frames, fps, n_clips, frame_height, frame_width (the
frame the boxes were normalised by). File attrs: detector, backend, feature_dim,
score_thresh, max_objects, centre_rule, config_hash, weights, class_names (JSON), failed (JSON).

This module only needs h5py and numpy: methods read detections through it (docs/architecture.md), and
:meth:`DetectionStore.objects` reads clip ranges lazily so a long training set need not fit in
memory. It is generic: ADOR reads the object sets, a bag-of-objects method per-class counts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

from vadflow.stores.h5 import H5Reader

ARRAYS = ("boxes", "scores", "labels", "feats", "valid")
#: per-box features are stored at half precision (2048-d per object); readers get float32 back.
FEATS_DTYPE = np.float16
CENTRE_RULE = "clip i -> frame min(i * stride + clip_len // 2, n_frames - 1)"


class DetectionStoreError(ValueError):
    """A detections file is missing a video or does not line up with the features; says which."""


@dataclass
class ObjectSets:
    """Objects of a run of clips: ``boxes`` [T, K, 4] normalised, ``scores``, ``labels``,
    ``feats`` [T, K, D] float32, ``valid`` [T, K] bool, and the frame size (H, W)."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    feats: np.ndarray
    valid: np.ndarray
    frame_hw: tuple[int, int]

    def __len__(self) -> int:
        return len(self.valid)

    def pixel_boxes(self) -> np.ndarray:
        h, w = self.frame_hw
        return self.boxes * np.array([w, h, w, h], np.float32)


def stored_objects(arrays: dict[str, np.ndarray], frame_hw: tuple[int, int]) -> ObjectSets:
    """The objects a reader gets back once ``arrays`` (detection.base.pack) are written: what
    ``vadflow watch`` hands a method, so that it sees the values it was trained on."""
    return ObjectSets(arrays["boxes"], arrays["scores"], arrays["labels"], arrays["feats"].astype(FEATS_DTYPE).astype(np.float32),
                      arrays["valid"], tuple(frame_hw))


class VideoObjects:
    """Lazy view of one video's detections: ``len()`` clips; ``[a:b]`` reads only those rows."""

    def __init__(self, store: "DetectionStore", vid: str):
        self._store = store
        self.id = vid
        g = store._group(vid)
        self.attrs = dict(g.attrs)
        self.n_clips = int(g["valid"].shape[0])
        self.frame_hw = (int(self.attrs["frame_height"]), int(self.attrs["frame_width"]))
        self.max_objects = int(g["valid"].shape[1])
        self.feature_dim = int(g["feats"].shape[2])

    def __len__(self) -> int:
        return self.n_clips

    def __getitem__(self, rows: slice) -> ObjectSets:
        if not isinstance(rows, slice):
            raise TypeError("VideoObjects is read by clip ranges, e.g. objs[a:b]")
        g = self._store._group(self.id)
        a = {k: g[k][rows] for k in ARRAYS}
        return ObjectSets(a["boxes"], a["scores"], a["labels"], a["feats"].astype(np.float32), a["valid"], self.frame_hw)

    def all(self) -> ObjectSets:
        return self[0 : self.n_clips]

    def centres(self) -> np.ndarray:
        """The frame each row was detected on."""
        return self._store._group(self.id)["centres"][()]

    @property
    def class_names(self) -> list[str]:
        """The detector's class names by label id ([] for class-less detectors such as background)."""
        return self._store.class_names

    def bag(self, conf: float = 0.5) -> np.ndarray:
        """Bag of objects per row (docs/methods/realtime.md §10): ``[T, C]`` float32 counts of the valid
        objects with score >= ``conf`` per class, C = the detector's class count; a class-less
        detector (labels -1, e.g. background blobs) gives one column counting every object."""
        g = self._store._group(self.id)
        labels, scores, valid = g["labels"][()], g["scores"][()], g["valid"][()]
        n = len(self.class_names)
        keep = valid & (scores >= conf)
        if n == 0:
            return keep.sum(axis=1, dtype=np.float32)[:, None]
        keep &= (labels >= 0) & (labels < n)
        out = np.zeros((self.n_clips, n), np.float32)
        rows = np.broadcast_to(np.arange(self.n_clips)[:, None], labels.shape)
        np.add.at(out, (rows[keep], labels[keep]), 1.0)
        return out


class DetectionStore(H5Reader):
    """Read-only access to a detections file."""

    kind = "detections file"
    error = DetectionStoreError

    @property
    def class_names(self) -> list[str]:
        return json.loads(self._f.attrs.get("class_names", "[]"))

    def _group(self, vid: str) -> h5py.Group:
        if vid not in self._f:
            reason = self.failed.get(vid, "not detected")
            raise DetectionStoreError(f"{self.path}: no detections for video {vid} ({reason})")
        return self._f[vid]

    def objects(self, vid: str, clip_len: int | None = None, stride: int | None = None, n_clips: int | None = None) -> VideoObjects:
        """The video's detections; with the features' clip grid given, checks they line up
        (same clip length, stride and clip count), else an error naming both files' values."""
        objs = VideoObjects(self, vid)
        want = {"clip_len": clip_len, "stride": stride}
        for key, value in want.items():
            if value is not None and int(objs.attrs[key]) != int(value):
                raise DetectionStoreError(f"{self.path}: video {vid} was detected on a clip grid with {key} = {objs.attrs[key]}, "
                                          f"the features have {value}; set the detector's `features` to the extractor the method reads")
        if n_clips is not None and objs.n_clips != int(n_clips):
            raise DetectionStoreError(f"{self.path}: video {vid} has detections for {objs.n_clips} clips, the features have {n_clips}; "
                                      f"rerun the detector (its `features` extractor must be the one the method reads)")
        return objs

    def class_counts(self, vid: str, n_classes: int, weighted: bool = False) -> np.ndarray:
        """Per-clip bag of objects ``[T, n_classes]``: how many valid objects of each label
        (or the sum of their scores with ``weighted``); objects without a class (-1) are not counted."""
        objs = VideoObjects(self, vid)
        g = self._group(vid)
        labels, valid = g["labels"][()], g["valid"][()]
        weight = g["scores"][()] if weighted else np.ones(labels.shape, np.float32)
        keep = valid & (labels >= 0) & (labels < n_classes)
        out = np.zeros((objs.n_clips, n_classes), np.float32)
        rows = np.broadcast_to(np.arange(objs.n_clips)[:, None], labels.shape)
        np.add.at(out, (rows[keep], labels[keep]), weight[keep])
        return out
