"""ADOR on a live stream (``vadflow watch``, specs/ador.md): each clip is encoded to z as soon as
it completes, then windows of z go through the TCN stages as :meth:`ADOR.score` runs them.

Per clip, the encoder reads the action map of the model's extractor (rebuilt online from
``model.origin``) and the objects on the clip's centre frame ``k * stride + clip_len // 2``
(detection.base.centre_frames), found by the model's detector fed every frame
(streaming/objects.py). The centre frame arrives before the clip's last frame; a clip that only
end of stream completes (``tail: pad``, a video shorter than a clip) has its centre clamped to
the last frame, as offline. ``encoder: action`` runs no detector, ``encoder: object`` no
extractor (only its clip grid).

The windows are :class:`~vadflow.streaming.scorers.Windowed`'s (causal or exact) over z, with
``test_window`` as W.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from vadflow.features.online import ClipGrid, OnlineClips
from vadflow.methods.base import MethodError
from vadflow.streaming.objects import OnlineDetector
from vadflow.streaming.scorers import ClipScorer, Windowed
from vadflow.video.geometry import ClipSpec


class ADORWindows:
    """:class:`Windowed`'s adapter for ADOR: the rows are z (already encoded), W = ``test_window``."""

    def __init__(self, model: Any):
        self.model = model
        self.width = model.test_width()

    def row(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, np.float32)

    def run(self, xs: list[np.ndarray], ms: list[np.ndarray]) -> np.ndarray:
        return self.model.window_scores(np.stack(xs), np.stack(ms))


class ADORClips:
    """z of each clip of a live stream: :meth:`push` (every frame, in order) and :meth:`finish`
    return ``[(clip index, z)]`` of the clips completed, like :class:`OnlineClips` its features."""

    def __init__(self, model: Any, spec: ClipSpec, maps: OnlineClips | None, objects: OnlineDetector | None):
        self.model, self.spec, self.maps, self.objects = model, spec, maps, objects
        self.grid = maps.grid if maps is not None else ClipGrid(spec)
        self.centred: dict[int, Any] = {}  # objects of clips whose centre frame has passed
        self.next = 0  # the clip whose centre frame comes next
        self.j = -1  # last frame index

    def push(self, frame: np.ndarray) -> list[tuple[int, np.ndarray]]:
        self.j += 1
        if self.objects is not None:
            self.objects.push(frame)  # every frame: background subtraction needs them all in order
            if self.j == self.next * self.spec.stride + self.spec.clip_len // 2:
                self.centred[self.next] = self.objects.objects()
                self.next += 1
        done = self.maps.push(frame) if self.maps is not None else [(k, None) for k in self.grid.push()]
        return [(k, self._encode(k, m)) for k, m in done]

    def finish(self) -> list[tuple[int, np.ndarray]]:
        done = self.maps.finish() if self.maps is not None else [(k, None) for k in self.grid.finish()]
        return [(k, self._encode(k, m)) for k, m in done]

    def _encode(self, k: int, maps: np.ndarray | None) -> np.ndarray:
        objs = None
        if self.objects is not None:
            # A centre past the end (padded clip) is the last frame, which was the last one pushed.
            objs = self.centred.pop(k) if k in self.centred else self.objects.objects()
        return self.model.encode_rows(self.model.clip_rows(None if maps is None else maps[None], objs))[0]


def ador_scorer(model: Any, prov: dict[str, Any], windows: str = "causal", device: str | None = None) -> ClipScorer:
    """The online scorer of a trained ADOR model whose inputs ``prov`` (model.origin) describes."""
    feats = prov["features"][0]
    main = json.loads(feats["config"])
    spec = ClipSpec.from_cfg(main)
    objects = None
    if model.use_objects:  # before the extractor is built: a detector that cannot run live fails at once
        det = prov.get("detections")
        if not det:
            raise MethodError(f"ador {model.cfg.get('name')!r} (encoder {model.cfg['encoder']}) reads objects (detections "
                              f"{model.cfg.get('detections')!r}), but its model.pt records no detector")
        cfg = json.loads(det["config"])
        if device:
            cfg["device"] = device
        if (int(cfg.get("clip_len", spec.clip_len)), int(cfg.get("stride", spec.stride))) != (spec.clip_len, spec.stride):
            raise MethodError(f"ador: detector {cfg.get('name')!r} was run on clips of {cfg.get('clip_len')}/{cfg.get('stride')} "
                              f"frames, the features on {spec.clip_len}/{spec.stride}")
        objects = OnlineDetector(cfg)
        # As for the extractors: the RoI backbone's weights must be the ones the training objects were pooled with.
        if det.get("weights") and objects.det.weights_sha256 != det["weights"]:
            raise MethodError(f"ador: detector {cfg.get('name')!r} now has weights {objects.det.weights_sha256!r}, the model's "
                              f"training objects were detected with {det['weights']!r}")
    maps = OnlineClips(main, feats.get("weights"), device) if model.use_action else None
    return ClipScorer(model, ADORClips(model, spec, maps, objects), Windowed(model, windows, ADORWindows(model)))
