"""``backend: hog_person``: OpenCV's built-in HOG + linear SVM people detector (Dalal-Triggs).

A **person-only detector**: every box is class 0 ("person"). Its weights ship inside OpenCV
(``cv2.HOGDescriptor_getDefaultPeopleDetector``), so it needs no download. The detection
window is 64x128 pixels, so frames lower than 128 px find nothing unless ``resize`` enlarges
them. The SVM margin is unbounded; its score is ``sigmoid(margin)``, so every box OpenCV
returns (margin > ``hit_threshold`` = 0) scores above 0.5 and passes the shared 0.2 rule.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from vadflow.detection.base import BoxDetector, Detections, DetectorError

DEFAULTS: dict[str, Any] = {"hit_threshold": 0.0, "win_stride": 8, "scale": 1.05, "group_threshold": 2}
CLASS_NAMES = ["person"]


def _people_detector(name: str):
    """OpenCV's HOG with its default people SVM. OpenCV 4 has it in the main module; OpenCV 5
    moved HOG to opencv-contrib (``xobjdetect``), so a plain opencv-python 5 has none."""
    import cv2

    for where in (cv2, getattr(cv2, "xobjdetect", None)):
        cls = getattr(where, "HOGDescriptor", None) if where is not None else None
        if cls is None:
            continue
        hog = cls()
        coeffs = getattr(where, "HOGDescriptor_getDefaultPeopleDetector", None) or cls.getDefaultPeopleDetector
        hog.setSVMDetector(coeffs())
        return hog
    raise DetectorError(
        f"detectors.{name}: backend hog_person (a person-only detector) needs OpenCV's HOG people detector, which this "
        f"OpenCV {cv2.__version__} does not have: OpenCV 5 moved HOGDescriptor to opencv-contrib (xobjdetect). Install "
        f"opencv-python-headless<5 or opencv-contrib-python-headless, or use backend: background (moving blobs, no weights), "
        f"onnx (your detector file) or precomputed (imported detections)."
    )


class HOGPersonDetector(BoxDetector):
    backend = "hog_person"
    class_names = CLASS_NAMES

    def __init__(self, cfg: dict[str, Any]) -> None:
        import cv2

        self.hog = _people_detector(str(cfg.get("name", "hog_person")))
        super().__init__(cfg)
        self.opts = {**DEFAULTS, **(self.cfg.get("hog") or {})}
        self.weights_sha256 = f"builtin (OpenCV {cv2.__version__} default people detector); roi={self.roi.weights_id if self.roi is not None else 'none'}"

    def propose(self, frames: np.ndarray) -> list[Detections]:
        import cv2

        out = []
        stride = int(self.opts["win_stride"])
        for f in frames:
            h, w = f.shape[:2]
            if h < 128 or w < 64:  # smaller than one detection window
                out.append(Detections.empty())
                continue
            gray = cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY)
            rects, weights = self.hog.detectMultiScale(gray, hitThreshold=float(self.opts["hit_threshold"]),
                                                       winStride=(stride, stride), scale=float(self.opts["scale"]),
                                                       groupThreshold=int(self.opts["group_threshold"]))
            if len(rects) == 0:
                out.append(Detections.empty())
                continue
            rects = np.asarray(rects, np.float32).reshape(-1, 4)
            boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
            margin = np.asarray(weights, np.float32).reshape(-1)
            out.append(Detections(boxes, 1.0 / (1.0 + np.exp(-margin)), np.zeros(len(boxes), np.int32)))
        return out
