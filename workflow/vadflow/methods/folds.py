"""Held-out folds over the annotated test split (``train_split: test_folds``).

UCF-Crime v1 annotates only the test videos temporally. Frame-supervised methods can then
be trained on the test split by K-fold cross-fitting: K models, each trained on the videos
outside one fold, and every test video scored only by the model that never saw it. This is
never a silent fallback: the config has to ask for it, and the scores file records it.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from vadflow.io import save_torch
from vadflow.methods.base import Method, MethodError, VideoData, load_model_file, state_errors


def fold_of(video_id: str, n_folds: int) -> int:
    """Stable fold of a video (hash of its id), independent of list order."""
    return zlib.crc32(video_id.encode()) % n_folds


class FoldModels(Method):
    """K models of one method kind, a Method itself: :meth:`score` uses the model that held the
    video out. Its ``kind`` is the wrapped kind's; its model file holds ``folds``, not ``state``."""

    def __init__(self, cls: type[Method], cfg: dict[str, Any], n_folds: int | None = None) -> None:
        super().__init__(cfg)
        n_folds = int(cfg.get("folds", 5) if n_folds is None else n_folds)
        if n_folds < 2:
            raise MethodError(f"train_split: test_folds needs folds >= 2, got {n_folds}")
        self.cls, self.n_folds = cls, n_folds
        self.kind = cls.kind  # type: ignore[misc]  (an instance's kind: the wrapped one)
        self.main_set = cls.main_set  # type: ignore[misc]
        self.models: list[Method] = []

    def fit(self, videos: list[VideoData]) -> None:
        folds = np.array([fold_of(v.id, self.n_folds) for v in videos])
        for k in range(self.n_folds):
            train = [v for v, f in zip(videos, folds) if f != k]
            if not any(v.anomalous for v in train):
                raise MethodError(f"fold {k}: no anomalous video outside the fold; use fewer folds")
            model = self.cls(self.cfg)
            model.fit(train)
            self.models.append(model)

    def _model(self, video: VideoData) -> Method:
        return self.models[fold_of(video.id, self.n_folds)]

    def score(self, video: VideoData) -> np.ndarray:
        return self._model(video).score(video)

    def skip_reason(self, video: VideoData) -> str | None:
        return self._model(video).skip_reason(video) if self.models else None

    @property
    def skipped_train(self) -> dict[str, str]:  # type: ignore[override]
        return {vid: r for m in getattr(self, "models", []) for vid, r in m.skipped_train.items()}

    @skipped_train.setter
    def skipped_train(self, value: dict[str, str]) -> None:
        pass  # derived from the fold models

    def online(self) -> Any:
        raise MethodError("a train_split: test_folds model is K cross-fitted models, one per fold of test videos; "
                          "there is no single model to watch a new stream with")

    def state(self) -> dict[str, Any]:
        return {"folds": [m.state() for m in self.models]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.models = []
        for s in state["folds"]:
            model = self.cls(self.cfg)
            model.load_state(s)
            self.models.append(model)

    def save(self, path: str | Path) -> None:
        from vadflow.device import runtime_info

        blob = {"kind": self.cls.kind, "cfg": self.cfg, "folds": [m.state() for m in self.models], "meta": runtime_info()}
        if self.origin:
            blob["origin"] = self.origin
        save_torch(blob, path)

    @classmethod
    def load_folds(cls, method_cls: type[Method], path: str | Path, blob: dict[str, Any] | None = None) -> "FoldModels":
        blob = load_model_file(path, method_cls.kind, parts=("cfg", "folds"), blob=blob)
        out = cls(method_cls, blob["cfg"], len(blob["folds"]))
        with state_errors(path, method_cls.kind):
            out.load_state({"folds": blob["folds"]})
        out.origin = blob.get("origin")
        return out
