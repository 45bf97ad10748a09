"""``backend: background``: moving blobs from OpenCV's MOG2 background subtractor.

Needs no weights, so it is the synthetic default (the synthetic anomalies are moving
shapes). MOG2 must see every frame in order; boxes are taken on each clip's centre frame:
the foreground mask (shadows off) is opened with a small kernel, and each connected component
of at least ``min_area`` (fraction of the frame) becomes a box. A blob has no class (label -1);
its score is its *fill ratio*, foreground pixels / box area, in [0, 1]: a compact moving
object scores high, a sparse noisy component low, so the shared score > 0.2 rule drops noise.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator

import numpy as np

from vadflow.detection.base import BoxDetector, Detections, DetectorError, select

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {"history": 200, "var_threshold": 16.0, "learning_rate": -1.0, "min_area": 0.002, "open_kernel": 3}


class BackgroundDetector(BoxDetector):
    backend = "background"
    needs_every_frame = True
    weights_sha256 = "none (OpenCV MOG2)"

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        self.opts = {**DEFAULTS, **(self.cfg.get("background") or {})}
        self.weights_sha256 = f"none (OpenCV MOG2); roi={self.roi.weights_id if self.roi is not None else 'none'}"

    def subtractor(self):
        """A fresh MOG2 model: feed it every frame in order (``vadflow watch`` does, frame by frame)."""
        return self._subtractor()

    def _subtractor(self):
        import cv2

        return cv2.createBackgroundSubtractorMOG2(history=int(self.opts["history"]),
                                                  varThreshold=float(self.opts["var_threshold"]), detectShadows=False)

    def blobs(self, mask: np.ndarray) -> Detections:
        """Boxes of the foreground components of one 0/255 mask."""
        import cv2

        k = int(self.opts["open_kernel"])
        if k > 1:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
        h, w = mask.shape
        min_px = float(self.opts["min_area"]) * h * w
        boxes, scores = [], []
        for x, y, bw, bh, area in stats[1:]:  # component 0 is the background
            if area < min_px:
                continue
            boxes.append([x, y, x + bw, y + bh])
            scores.append(area / float(bw * bh))
        if not boxes:
            return Detections.empty()
        return Detections(np.asarray(boxes, np.float32), np.asarray(scores, np.float32), np.full(len(boxes), -1, np.int32))

    def propose(self, frames: np.ndarray) -> list[Detections]:
        """Frames taken as one sequence (a fresh background model); boxes on every frame."""
        sub = self._subtractor()
        rate = float(self.opts["learning_rate"])
        return [self.blobs(sub.apply(np.ascontiguousarray(f[..., ::-1]), learningRate=rate)) for f in frames]

    def detect_video(self, video: str, frames: Iterator[tuple[int, np.ndarray]], centres: np.ndarray) -> list[Detections]:
        sub = self._subtractor()
        rate = float(self.opts["learning_rate"])
        thresh, kmax, bs = float(self.cfg["score_thresh"]), int(self.cfg["max_objects"]), int(self.cfg["batch_size"])
        want = set(int(c) for c in centres)
        out: dict[int, Detections] = {}
        pending: list[tuple[int, np.ndarray, Detections]] = []  # centre frames awaiting RoI features

        def flush() -> None:
            # In batches as the video streams by: a long video's centre frames never pile up in memory.
            if pending:
                dets = self._with_features(np.stack([f for _, f, _ in pending]), [d for _, _, d in pending])
                out.update(zip([c for c, _, _ in pending], dets))
                pending.clear()

        last = None
        for idx, frame in frames:
            mask = sub.apply(np.ascontiguousarray(frame[..., ::-1]), learningRate=rate)  # OpenCV wants BGR
            last = (frame, mask)
            if idx in want:
                pending.append((idx, frame, select(self.blobs(mask), thresh, kmax)))
                if len(pending) >= bs:
                    flush()
        missing = sorted(want - set(out) - {c for c, _, _ in pending})
        if missing:
            if last is None:
                raise DetectorError(f"video {video}: no frame could be decoded")
            log.warning("video %s: centre frames %s were not decoded; using the last decoded frame", video, missing[:5])
            pending.extend((c, last[0], select(self.blobs(last[1]), thresh, kmax)) for c in missing)
        flush()
        return [out[int(c)] for c in centres]
