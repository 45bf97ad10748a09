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


class FoldModels:
    """K models of one method kind; :meth:`score` uses the model that held the video out."""

    def __init__(self, cls: type[Method], cfg: dict[str, Any], n_folds: int) -> None:
        if n_folds < 2:
            raise MethodError(f"train_split: test_folds needs folds >= 2, got {n_folds}")
        self.cls, self.cfg, self.n_folds = cls, cfg, n_folds
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

    def score(self, video: VideoData) -> np.ndarray:
        return self.models[fold_of(video.id, self.n_folds)].score(video)

    def skip_reason(self, video: VideoData) -> str | None:
        return self.models[fold_of(video.id, self.n_folds)].skip_reason(video)

    @property
    def skipped_train(self) -> dict[str, str]:
        return {vid: r for m in self.models for vid, r in m.skipped_train.items()}

    def save(self, path: str | Path) -> None:
        from vadflow.device import runtime_info

        save_torch({"kind": self.cls.kind, "cfg": self.cfg, "folds": [m.state() for m in self.models], "meta": runtime_info()}, path)

    @classmethod
    def load(cls, method_cls: type[Method], path: str | Path) -> "FoldModels":
        blob = load_model_file(path, method_cls.kind, parts=("cfg", "folds"))
        out = cls(method_cls, blob["cfg"], len(blob["folds"]))
        for state in blob["folds"]:
            model = method_cls(blob["cfg"])
            with state_errors(path, method_cls.kind):
                model.load_state(state)
            out.models.append(model)
        return out
