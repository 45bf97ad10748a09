"""``backend: onnx``: a user-supplied ONNX detector run through OpenCV's DNN module.

Nothing is downloaded: ``onnx.model`` points at the user's file, for example a YOLO export
(``yolo export model=yolov8n.pt format=onnx``). Two output layouts are read:

- ``yolov8`` (also v9-v11): one tensor ``[1, 4 + C, N]``, rows (cx, cy, w, h, class scores);
- ``yolov5`` (also v7): ``[1, N, 5 + C]``, (cx, cy, w, h, objectness, class scores), score =
  objectness x class score.

Frames are letterboxed to ``input_size`` (aspect kept, grey padding, RGB in [0, 1]); boxes
are mapped back to frame pixels, then class-wise NMS at ``nms_iou``. Per-box features come
from ResNet-50 + RoIAlign like every box-only backend (base.BoxDetector).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vadflow.detection.base import BoxDetector, Detections, DetectorError
from vadflow.io import sha256_file

DEFAULTS: dict[str, Any] = {"model": None, "format": "yolov8", "input_size": 640, "nms_iou": 0.45, "class_names": None}
FORMATS = ("yolov8", "yolov5")

ALTERNATIVES = ("backend: hog_person (person-only detector, OpenCV's built-in HOG, OpenCV < 5), backend: background "
                "(moving blobs, no weights), backend: precomputed (import bottom-up-attention or plain npz detections) "
                "or backend: none (no objects)")


def missing_model_message(name: str, path: Any) -> str:
    return (f"detectors.{name}.onnx.model = {path!r}: no such file. The onnx backend runs a detector file you "
            f"supply (e.g. a YOLOv8 export: `yolo export model=yolov8n.pt format=onnx`; nothing is downloaded). "
            f"Set detectors.{name}.onnx.model to its path, or use another backend: {ALTERNATIVES}.")


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping the aspect ratio into a ``size x size`` canvas (padding 114, as YOLO's)."""
    import cv2

    h, w = frame.shape[:2]
    r = min(size / h, size / w)
    nh, nw = max(1, round(h * r)), max(1, round(w * r))
    top, left = (size - nh) // 2, (size - nw) // 2
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[top : top + nh, left : left + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, r, (left, top)


def decode_yolo(output: np.ndarray, fmt: str, ratio: float, pad: tuple[float, float], frame_hw: tuple[int, int],
                score_floor: float, nms_iou: float) -> Detections:
    """One image's raw YOLO output -> frame-pixel boxes, scores in [0, 1], class ids, after NMS."""
    import cv2

    out = np.asarray(output, np.float32)
    out = out.reshape(out.shape[-2], out.shape[-1])
    if fmt == "yolov8":
        rows = out.T  # [N, 4 + C]
        cls_scores = rows[:, 4:]
    elif fmt == "yolov5":
        rows = out
        cls_scores = rows[:, 5:] * rows[:, 4:5]
    else:
        raise DetectorError(f"onnx.format {fmt!r}: expected one of {FORMATS}")
    if cls_scores.shape[1] == 0:
        raise DetectorError(f"onnx output {list(output.shape)} has no class scores for format {fmt}; check onnx.format")
    labels = cls_scores.argmax(axis=1).astype(np.int32)
    scores = cls_scores[np.arange(len(rows)), labels]
    keep = scores > score_floor
    rows, scores, labels = rows[keep], scores[keep], labels[keep]
    if len(rows) == 0:
        return Detections.empty()
    cx, cy, bw, bh = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    x1 = (cx - bw / 2 - pad[0]) / ratio
    y1 = (cy - bh / 2 - pad[1]) / ratio
    x2 = (cx + bw / 2 - pad[0]) / ratio
    y2 = (cy + bh / 2 - pad[1]) / ratio
    h, w = frame_hw
    boxes = np.stack([x1.clip(0, w), y1.clip(0, h), x2.clip(0, w), y2.clip(0, h)], axis=1).astype(np.float32)
    # Class-wise NMS in one call: shifting each class to its own region keeps classes apart.
    shift = (labels.astype(np.float32) * (max(h, w) + 1))[:, None]
    xywh = np.concatenate([boxes[:, :2] + shift, boxes[:, 2:] - boxes[:, :2]], axis=1)
    idx = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), float(score_floor), float(nms_iou)), np.int64).reshape(-1)
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return Detections(boxes[idx], scores[idx].astype(np.float32), labels[idx])


class ONNXDetector(BoxDetector):
    backend = "onnx"

    def __init__(self, cfg: dict[str, Any]) -> None:
        opts = {**DEFAULTS, **(cfg.get("onnx") or {})}
        name = str(cfg.get("name", "onnx"))
        if not opts["model"] or not Path(str(opts["model"])).is_file():
            raise DetectorError(missing_model_message(name, opts["model"]))
        if opts["format"] not in FORMATS:
            raise DetectorError(f"detectors.{name}.onnx.format = {opts['format']!r}: expected one of {FORMATS}")
        super().__init__(cfg)
        import cv2

        self.opts = opts
        try:
            self.net = cv2.dnn.readNetFromONNX(str(opts["model"]))
        except cv2.error as exc:
            raise DetectorError(f"detectors.{name}.onnx.model = {opts['model']!r}: OpenCV cannot read it as ONNX ({exc})") from None
        self.class_names = list(opts["class_names"] or [])
        self.weights_sha256 = f"{sha256_file(opts['model'])}; roi={self.roi.weights_id if self.roi is not None else 'none'}"

    def propose(self, frames: np.ndarray) -> list[Detections]:
        import cv2

        size = int(self.opts["input_size"])
        out = []
        for f in frames:
            img, ratio, pad = letterbox(np.ascontiguousarray(f), size)
            self.net.setInput(cv2.dnn.blobFromImage(img, 1.0 / 255.0, (size, size), swapRB=False, crop=False))
            raw = self.net.forward()
            # The floor only trims the candidate list before NMS; the shared rule is applied later.
            out.append(decode_yolo(raw, self.opts["format"], ratio, pad, f.shape[:2],
                                   min(0.05, float(self.cfg["score_thresh"])), float(self.opts["nms_iou"])))
        return out
