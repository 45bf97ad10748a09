"""How a method meets features stored with every crop (``crops: all``; docs/datasets_xd_violence.md §6).

The published weakly supervised methods (RTFM, UR-DMU, MGFN, VadCLIP) train on every crop of a
video as its own sample and score a video with the mean of its crops' scores. A kind that
handles crops itself (:attr:`Method.reads_crops`) gets them all in ``VideoData.crops``; every
other kind is handed each crop as its own training video and its test score is the mean of the
crops' frame scores, or one crop's (``score_crop``, as VadCLIP's test lists name one crop). A
crop sample keeps its video's id, so ``train_split: test_folds`` keeps a video's crops in one
fold. The crops are views of the one array read per video: nothing is copied per crop.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vadflow.methods.base import Method, MethodError, VideoData
from vadflow.stores.features import FeatureStore
from vadflow.stores.frames import is_frames_file

#: the feature file attr that says every crop is stored (features/importers.py ``crop_reduce``).
ALL = "all"


@dataclass(frozen=True)
class CropPlan:
    """What the train and score jobs do with a method's crops."""

    all_crops: bool  # the features keep every crop
    reads_crops: bool  # the kind handles them (Method.reads_crops)
    score_crop: str | int = "mean"  # "mean" over the crops' scores, or crop k alone
    crop_reduce: str = ""  # the feature file's own record (mean, crop:k, all, none; "" when extracted)

    @classmethod
    def of(cls, kind: type[Method], features: str | Path, lazy: bool = False) -> CropPlan:
        """The plan for ``kind`` reading ``features`` (a feature file, or a frame cache: no crops)."""
        if is_frames_file(features):
            return cls(False, bool(kind.reads_crops))
        with FeatureStore(features) as store:
            attrs = store.attrs
        reduce = str(attrs.get("crop_reduce", ""))
        score = str(attrs.get("score_crop", "mean"))
        plan = cls(reduce == ALL, bool(kind.reads_crops), "mean" if score == "mean" else int(score), reduce)
        if plan.all_crops and lazy:
            raise MethodError(f"{features}: features with every crop (crops: all), but kind {kind.kind} reads features lazily "
                              "by clip ranges and cannot take crops; import them with crops: mean or a crop index")
        return plan

    def train(self, videos: list[VideoData]) -> list[VideoData]:
        """The training samples: the videos themselves, or each crop of each video as its own."""
        if not self.all_crops or self.reads_crops:
            return videos
        return [sample for v in videos for sample in crop_videos(v)]

    def score(self, model: Method, video: VideoData) -> np.ndarray:
        """Frame scores of one test video under the plan."""
        if not self.all_crops or video.crops is None:
            return model.score(video)
        if self.reads_crops:
            return model.score(video if self.score_crop == "mean" else _one_crop(video, int(self.score_crop), keep_axis=True))
        if self.score_crop != "mean":
            return model.score(_one_crop(video, int(self.score_crop)))
        return np.mean(np.stack([np.asarray(model.score(c), dtype=np.float64) for c in crop_videos(video)]), axis=0)

    def counts(self, samples: list[VideoData]) -> dict[str, Any]:
        """What model.pt and scores.h5 record of training: videos, the samples ``fit`` got, crops per video."""
        n_videos = len({v.id for v in samples})
        crops = max((len(v.crops) for v in samples if v.crops is not None), default=0)
        n = crops or (round(len(samples) / n_videos) if n_videos else 1)
        return {"crop_reduce": self.crop_reduce or "none", "n_crops": n, "train_videos": n_videos,
                "train_samples": len(samples), "handling": self.describe(n)}

    def describe(self, n: int) -> str:
        """One line for the log, model.pt and the scores' provenance."""
        if not self.all_crops:
            return f"features as stored (crops: {self.crop_reduce or 'none'})"
        if self.reads_crops:
            train = f"every crop ({n}) handed to the kind, which handles crops itself"
        else:
            train = f"training on each of the {n} crops as its own sample"
        score = "the mean of the crops' frame scores" if self.score_crop == "mean" else f"crop {self.score_crop} alone (score_crop)"
        return f"crops: all; {train}; test score = {score}"


def crop_videos(video: VideoData) -> list[VideoData]:
    """Each crop of ``video`` as a one-crop VideoData (same id; ``extras["crop"]`` its index)."""
    if video.crops is None:
        return [video]
    return [dataclasses.replace(video, features=video.crops[c], crops=None, extras={**video.extras, "crop": c})
            for c in range(len(video.crops))]


def _one_crop(video: VideoData, k: int, keep_axis: bool = False) -> VideoData:
    if not 0 <= k < len(video.crops):
        raise MethodError(f"video {video.id!r}: score_crop {k}, but its features hold {len(video.crops)} crops")
    crops = video.crops[k:k + 1] if keep_axis else None
    return dataclasses.replace(video, features=video.crops[k], crops=crops, extras={**video.extras, "crop": k})
