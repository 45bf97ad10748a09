"""``backend: precomputed``: detections and per-box features produced elsewhere, imported.

Formats (``precomputed.format``):

``butd_tsv``: the bottom-up-attention Faster R-CNN TSV (peteanderson80/bottom-up-attention
  ``generate_tsv.py``; 10-100 boxes x 2048-d per image). One line per image, tab separated, no
  header, either 6 columns ``image_id, image_w, image_h, num_boxes, boxes, features`` or
  LXMERT's 10 ``img_id, img_h, img_w, objects_id, objects_conf, attrs_id, attrs_conf,
  num_boxes, boxes, features``; arrays are base64 of float32 (boxes [N, 4] x1 y1 x2 y2 pixels,
  features [N, 2048]), objects_id int64, objects_conf float32. ``path``: a .tsv file or a
  folder of them.
``butd_npz``: bottom-up-attention.pytorch's per-image ``.npz`` (``x`` [N, 2048], ``bbox``
  [N, 4], ``image_h``, ``image_w``; its ``info`` dict is a pickle and is read only with
  ``allow_pickle: true``, for ``objects_conf``/``objects_id``). ``path``: a folder, searched
  recursively.
``npz``: the plain layout documented here, one file ``<path>/<video id>.npz`` per video:
  ``frames`` int [N] (0-based frame indices), ``boxes`` float32 [N, K, 4] (x1, y1, x2, y2 in
  pixels of a ``frame_size`` frame), ``scores`` float32 [N, K] in [0, 1], ``feats`` float
  [N, K, D], ``frame_size`` int [2] = (H, W); optional ``labels`` int [N, K] (default -1) and
  ``valid`` bool [N, K] (default all true; rows of padding set false).

Image ids (TSV ``image_id``, the npz path under ``path`` without ``.npz``) name the frame as
``<video id>/<frame>`` or ``<video id>_<frame>``, frame = 0-based index in the video, e.g.
``Abuse001_x264/000136`` or ``Abuse001_x264_136``. A file without scores (the original TSV)
gets score 1.0 for every box: bottom-up-attention already kept only boxes above its 0.2
confidence. The shared post-processing (score > 0.2, top 36) then applies as for every backend.

Each clip needs its centre frame; ``max_offset`` > 0 allows the nearest stored frame within
that many frames (for detections made on a coarser frame grid), else a missing frame is an
error naming the video and the frame.
"""
from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from vadflow.detection.base import Detections, Detector, DetectorError, select

DEFAULTS: dict[str, Any] = {"format": "butd_tsv", "path": None, "max_offset": 0, "allow_pickle": False}
FORMATS = ("butd_tsv", "butd_npz", "npz")
TSV6 = ("image_id", "image_w", "image_h", "num_boxes", "boxes", "features")
TSV10 = ("img_id", "img_h", "img_w", "objects_id", "objects_conf", "attrs_id", "attrs_conf", "num_boxes", "boxes", "features")
_IMAGE_ID = re.compile(r"^(?P<video>.+)[/_](?P<frame>\d+)$")


def parse_image_id(image_id: str) -> tuple[str, int] | None:
    """``"<video>/<frame>"`` or ``"<video>_<frame>"`` -> (video, frame); None if it has no frame number."""
    m = _IMAGE_ID.match(str(image_id).replace("\\", "/"))
    return (m["video"], int(m["frame"])) if m else None


def _b64(text: str, dtype: Any, n: int, width: int | None = None) -> np.ndarray:
    arr = np.frombuffer(base64.b64decode(text), dtype=dtype)
    return arr.reshape(n, width) if width else arr.reshape(n)


class PrecomputedDetector(Detector):
    backend = "precomputed"
    needs_frames = False

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        self.opts = {**DEFAULTS, **(self.cfg.get("precomputed") or {})}
        where = f"detectors.{self.name}.precomputed"
        if self.opts["format"] not in FORMATS:
            raise DetectorError(f"{where}.format = {self.opts['format']!r}: expected one of {FORMATS}")
        root = Path(str(self.opts["path"] or ""))
        if not self.opts["path"] or not root.exists():
            raise DetectorError(f"{where}.path = {self.opts['path']!r}: no such file or folder (the detections to import, "
                                f"format {self.opts['format']})")
        self.root = root
        self.weights_sha256 = f"imported ({self.opts['format']})"
        # (video, frame) -> where the record is: (tsv file, byte offset) or an npz path.
        self._index: dict[str, dict[int, Any]] = {}
        self._videos: dict[str, dict[str, np.ndarray]] = {}
        if self.opts["format"] == "butd_tsv":
            self._index_tsv()
        elif self.opts["format"] == "butd_npz":
            self._index_npz()
        self.feature_dim = self._probe_dim()

    # -- indexing ------------------------------------------------------------------------
    def _files(self, suffix: str) -> list[Path]:
        return [self.root] if self.root.is_file() else sorted(self.root.rglob(f"*{suffix}"))

    def _index_tsv(self) -> None:
        for path in self._files(".tsv"):
            with open(path, "rb") as f:
                offset = 0
                for line in f:
                    key = parse_image_id(line.split(b"\t", 1)[0].decode())
                    if key is not None:
                        self._index.setdefault(key[0], {})[key[1]] = (path, offset)
                    offset += len(line)

    def _index_npz(self) -> None:
        for path in self._files(".npz"):
            rel = path.relative_to(self.root).with_suffix("").as_posix() if self.root.is_dir() else path.stem
            key = parse_image_id(rel)
            if key is not None:
                self._index.setdefault(key[0], {})[key[1]] = path

    def _probe_dim(self) -> int:
        fmt = self.opts["format"]
        if fmt == "npz":
            files = sorted(self.root.glob("*.npz"))
            if not files:
                raise DetectorError(f"detectors.{self.name}.precomputed.path = {str(self.root)!r}: no <video id>.npz file")
            with np.load(files[0], allow_pickle=False) as z:
                return int(z["feats"].shape[-1])
        if not self._index:
            raise DetectorError(f"detectors.{self.name}.precomputed.path = {str(self.root)!r}: no {fmt} record whose image id "
                                f"names a frame as <video>/<frame> or <video>_<frame>")
        video = next(iter(self._index))
        rec = self._read(video, next(iter(self._index[video])))
        return int(rec[3].shape[1])

    # -- reading -------------------------------------------------------------------------
    def _read(self, video: str, frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
        """(boxes, scores, labels, feats, (H, W)) of one indexed frame."""
        where = self._index[video][frame]
        if self.opts["format"] == "butd_tsv":
            path, offset = where
            with open(path, "rb") as f:
                f.seek(offset)
                cols = f.readline().decode().rstrip("\r\n").split("\t")
            if len(cols) == len(TSV6):
                rec = dict(zip(TSV6, cols))
                h, w = int(float(rec["image_h"])), int(float(rec["image_w"]))
            elif len(cols) == len(TSV10):
                rec = dict(zip(TSV10, cols))
                h, w = int(float(rec["img_h"])), int(float(rec["img_w"]))
            else:
                raise DetectorError(f"{path}: line of image {video}/{frame} has {len(cols)} columns; expected {len(TSV6)} "
                                    f"({', '.join(TSV6)}) or {len(TSV10)} ({', '.join(TSV10)})")
            n = int(rec["num_boxes"])
            boxes = _b64(rec["boxes"], np.float32, n, 4)
            feats = _b64(rec["features"], np.float32, n, -1) if n else np.zeros((0, 0), np.float32)
            scores = _b64(rec["objects_conf"], np.float32, n) if "objects_conf" in rec else np.ones(n, np.float32)
            labels = _b64(rec["objects_id"], np.int64, n).astype(np.int32) if "objects_id" in rec else np.full(n, -1, np.int32)
            return boxes, scores, labels, feats, (h, w)
        path = where
        allow = bool(self.opts["allow_pickle"])
        with np.load(path, allow_pickle=allow) as z:
            feats = np.asarray(z["x"], np.float32)
            boxes = np.asarray(z["bbox"], np.float32).reshape(-1, 4)
            if feats.shape[0] != len(boxes) and feats.shape[-1] == len(boxes):
                feats = feats.T
            n = len(boxes)
            scores, labels = np.ones(n, np.float32), np.full(n, -1, np.int32)
            if allow and "info" in z.files:
                info = z["info"].item()
                if "objects_conf" in info:
                    scores = np.asarray(info["objects_conf"], np.float32).reshape(n)
                if "objects_id" in info:
                    labels = np.asarray(info["objects_id"]).astype(np.int32).reshape(n)
            return boxes, scores, labels, feats, (int(z["image_h"]), int(z["image_w"]))

    def _plain(self, video: str) -> dict[str, np.ndarray]:
        if video not in self._videos:
            path = self.root / f"{video}.npz"
            if not path.is_file():
                raise DetectorError(f"detectors.{self.name}.precomputed: no detections for video {video} ({path} is missing)")
            with np.load(path, allow_pickle=False) as z:
                need = ("frames", "boxes", "scores", "feats", "frame_size")
                missing = [k for k in need if k not in z.files]
                if missing:
                    raise DetectorError(f"{path}: arrays {missing} missing (plain npz layout: {', '.join(need)}, optional labels, valid)")
                rec = {k: z[k] for k in z.files}
            self._videos = {video: rec}  # one video at a time: files can be large
        return self._videos[video]

    def _frames_of(self, video: str) -> np.ndarray:
        if self.opts["format"] == "npz":
            return np.asarray(self._plain(video)["frames"], np.int64)
        if video not in self._index:
            raise DetectorError(f"detectors.{self.name}.precomputed: no record of video {video} under {self.root} "
                                f"(image ids must read <video>/<frame> or <video>_<frame>)")
        return np.asarray(sorted(self._index[video]), np.int64)

    def _nearest(self, video: str, have: np.ndarray, frame: int) -> int:
        if len(have) == 0:
            raise DetectorError(f"detectors.{self.name}.precomputed: video {video} has no frames")
        j = int(have[np.abs(have - frame).argmin()])
        if abs(j - frame) > int(self.opts["max_offset"]):
            raise DetectorError(f"detectors.{self.name}.precomputed: video {video} has no detections for centre frame {frame} "
                                f"(nearest stored frame {j}; max_offset {self.opts['max_offset']}); detections must be made on "
                                f"every clip's centre frame i*stride + clip_len//2")
        return j

    def detect(self, frames: np.ndarray) -> list[Detections]:
        raise DetectorError("the precomputed backend reads files, not frames")

    def frame_size(self, video: str) -> tuple[int, int]:
        if self.opts["format"] == "npz":
            h, w = np.asarray(self._plain(video)["frame_size"]).reshape(2)
            return int(h), int(w)
        have = self._frames_of(video)
        return self._read(video, int(have[0]))[4]

    def detect_video(self, video: str, frames: Iterable, centres: np.ndarray) -> list[Detections]:
        have = self._frames_of(video)
        size = self.frame_size(video)
        thresh, kmax = float(self.cfg["score_thresh"]), int(self.cfg["max_objects"])
        out = []
        for c in centres.tolist():
            j = self._nearest(video, have, int(c))
            if self.opts["format"] == "npz":
                rec = self._plain(video)
                row = int(np.flatnonzero(np.asarray(rec["frames"]) == j)[0])
                valid = np.asarray(rec["valid"][row], bool) if "valid" in rec else np.ones(rec["boxes"].shape[1], bool)
                labels = rec["labels"][row][valid] if "labels" in rec else np.full(int(valid.sum()), -1)
                det = Detections(np.asarray(rec["boxes"][row][valid], np.float32), np.asarray(rec["scores"][row][valid], np.float32),
                                 np.asarray(labels, np.int32), np.asarray(rec["feats"][row][valid], np.float32))
            else:
                boxes, scores, labels, feats, hw = self._read(video, j)
                if hw != size:
                    raise DetectorError(f"detectors.{self.name}.precomputed: video {video} frame {j} is {hw[0]}x{hw[1]}, "
                                        f"its first frame {size[0]}x{size[1]}; frames of one video must share a size")
                det = Detections(boxes, scores, labels, feats.reshape(len(boxes), -1) if len(boxes) else np.zeros((0, self.feature_dim), np.float32))
            if len(det) and det.feats.shape[1] != self.feature_dim:
                raise DetectorError(f"detectors.{self.name}.precomputed: video {video} frame {j} has {det.feats.shape[1]}-d features, "
                                    f"other records {self.feature_dim}-d")
            out.append(select(det, thresh, kmax))
        return out
