"""Which videos the dataset holds, their UCF-Crime names, and the list/annotation files.

File formats follow docs/datasets.md §1.3 and §4.1, so the UCF-Crime importer reads the
synthetic dataset like the real one.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

VIDEOS_DIR = "Videos"
TRAIN_NORMAL_DIR = "Training_Normal_Videos_Anomaly"
TEST_NORMAL_DIR = "Testing_Normal_Videos_Anomaly"
# Project extension: a labelled validation split, so settings tuned on synthetic data are
# tuned without looking at test videos. Train and test keep UCF-Crime's exact layout.
VAL_NORMAL_DIR = "Validation_Normal_Videos_Anomaly"
NORMAL = "Normal"
MAX_EVENTS = 2  # the UCF annotation line has room for two events
# Videos share a few fixed street views, as surveillance datasets reuse their cameras: a
# detector must then tell events from street life rather than one street from another.
CAMERAS = 4


@dataclass(frozen=True)
class VideoSpec:
    """One video as the dataset plan fixes it, before its own random stream is drawn."""

    id: str
    list_path: str  # "Class/Video.mp4", as in the split files
    split: str  # "train" | "test" | "val"
    cls: str  # an anomaly class or "Normal"
    camera: int = 0
    camera_seed: int = 0  # seeds the street view (layout, background, parked cars)
    tiny: bool = False  # shorter than one 16-frame clip
    force_two: bool = False
    force_touch_start: bool = False
    force_touch_end: bool = False

    @property
    def anomalous(self) -> bool:
        return self.cls != NORMAL

    @property
    def relpath(self) -> str:
        """Path of the mp4 relative to the dataset root."""
        return f"{VIDEOS_DIR}/{self.list_path}"


def n_videos(cfg: Mapping[str, Any], val: bool = True) -> int:
    """Videos in the dataset; ``val=False``: the train and test videos only."""
    keys = ["n_train_anomalous", "n_train_normal", "n_test_anomalous", "n_test_normal"]
    return sum(int(cfg[k]) for k in keys) + (n_val(cfg) if val else 0)


def n_val(cfg: Mapping[str, Any]) -> int:
    return int(cfg.get("n_val_anomalous", 0)) + int(cfg.get("n_val_normal", 0))


def plan_dataset(cfg: Mapping[str, Any], rng: np.random.Generator, val_rng: np.random.Generator | None = None) -> list[VideoSpec]:
    """The videos in manifest order: per split, anomalous (class-sorted) then normal, train first.

    Classes go round-robin over a shuffled class list per split, so every class appears in
    training (given as many videos as classes) and in test where counts allow. Numbers run
    on from train to test within a class, and test normal videos continue after the
    training ones, so every id (and number) is unique. The edge cases downstream code must
    handle are pinned to test videos: one shorter than a clip (in datasets of 20 or more
    videos), one with two events, and events touching the first and last frame. Each
    video watches one of :data:`CAMERAS` streets.

    Validation videos (``n_val_*``, project extension) come last and draw from ``val_rng``
    only, so adding them leaves every train and test video as it was. They watch the same
    streets, are numbered on after the test videos and carry no pinned edge case.
    """
    classes = list(cfg["classes"])
    camera_seeds = rng.integers(2**63, size=CAMERAS)
    per_split = {}
    for split in ("train", "test"):
        order = rng.permutation(len(classes))
        per_split[split] = sorted(classes[order[i % len(classes)]] for i in range(int(cfg[f"n_{split}_anomalous"])))

    specs: list[dict[str, Any]] = []
    number: dict[str, int] = {}

    def add_split(split: str, anomalous_classes: list[str]) -> None:
        for cls in anomalous_classes:
            number[cls] = number.get(cls, 0) + 1
            vid = f"{cls}{number[cls]:03d}_x264"
            specs.append(dict(id=vid, list_path=f"{cls}/{vid}.mp4", split=split, cls=cls))
        folder, sep = {"train": (TRAIN_NORMAL_DIR, ""), "test": (TEST_NORMAL_DIR, "_"), "val": (VAL_NORMAL_DIR, "_")}[split]
        for _ in range(int(cfg.get(f"n_{split}_normal", 0))):
            number[NORMAL] = number.get(NORMAL, 0) + 1
            vid = f"Normal_Videos{sep}{number[NORMAL]:03d}_x264"
            specs.append(dict(id=vid, list_path=f"{folder}/{vid}.mp4", split=split, cls=NORMAL))

    for split in ("train", "test"):
        add_split(split, per_split[split])

    def pick(pool: list[dict[str, Any]]) -> dict[str, Any] | None:
        return pool[int(rng.integers(len(pool)))] if pool else None

    test_anomalous = [s for s in specs if s["split"] == "test" and s["cls"] != NORMAL]
    if len(specs) >= 20:
        normals = [s for s in specs if s["cls"] == NORMAL]
        tiny = pick([s for s in normals if s["split"] == "test"] or normals or specs)
        tiny["tiny"] = True
    if cfg["two_event_prob"] > 0 and (two := pick(test_anomalous)) is not None:
        two["force_two"] = True
    if (first := pick(test_anomalous)) is not None:
        first["force_touch_start"] = True
        rest = [s for s in test_anomalous if s is not first]
        (pick(rest) or first)["force_touch_end"] = True
    # Cameras go round-robin within each (split, normal/anomalous) group, so no camera
    # predicts the label and a detector cannot learn the street instead of the event.
    def place_cameras(split: str, gen: np.random.Generator) -> None:
        for anomalous in (True, False):
            group = [s for s in specs if s["split"] == split and (s["cls"] != NORMAL) == anomalous]
            order = gen.permutation(CAMERAS)
            for i, s in enumerate(group):
                s["camera"] = int(order[i % CAMERAS])
                s["camera_seed"] = int(camera_seeds[s["camera"]])

    for split in ("train", "test"):
        place_cameras(split, rng)
    if n_val(cfg):
        if val_rng is None:
            raise ValueError("validation videos (n_val_*) need val_rng")
        order = val_rng.permutation(len(classes))
        add_split("val", sorted(classes[order[i % len(classes)]] for i in range(int(cfg.get("n_val_anomalous", 0)))))
        place_cameras("val", val_rng)
    return [VideoSpec(**s) for s in specs]


def _frame_fields(events: Sequence[Mapping[str, int]]) -> list[int]:
    """``s1 e1 s2 e2``: 1-based inclusive frame numbers, -1 where there is no event."""
    out = []
    for ev in events[:MAX_EVENTS]:
        out += [ev["start"] + 1, ev["end"]]
    return out + [-1] * (2 * MAX_EVENTS - len(out))


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_annotations(root: Path, videos: Sequence[Mapping[str, Any]], fps: int) -> None:
    """Split lists, temporal annotations (frames and V2 seconds) and with-frames lists.

    ``videos`` are manifest entries (``relpath``, ``split``, ``class``, ``n_frames`` and
    0-based half-open ``events``) in manifest order, which is already the UCF list order.
    """
    videos = [{**v, "list_path": v["relpath"].removeprefix(f"{VIDEOS_DIR}/")} for v in videos]
    for split, title, stem in (("train", "Train", "Training"), ("test", "Test", "Testing"), ("val", "Val", "Validation")):
        vids = [v for v in videos if v["split"] == split]
        if split == "val" and not vids:
            continue  # without validation videos the layout is exactly UCF-Crime's
        _write_lines(root / "Anomaly_Detection_splits" / f"Anomaly_{title}.txt", [v["list_path"] for v in vids])
        _write_lines(
            root / f"Temporal_Anomaly_Annotation_for_{stem}_Videos.txt",
            ["".join(f"{field}  " for field in (Path(v["list_path"]).name, v["class"], *_frame_fields(v["events"]))) for v in vids],
        )
        if split != "train":
            lines = [" ".join(str(x) for x in (v["list_path"], v["n_frames"], v["class"], *_frame_fields(v["events"]))) for v in vids]
        else:
            lines = [f"{v['list_path']} {v['n_frames']}" for v in vids]
        _write_lines(root / f"{title}_Annotation_with_frames.txt", lines)
        # V2 JSON is in whole seconds: the smallest second range holding the exact frames.
        seconds = {
            v["list_path"]: [{"start": e["start"] // fps, "end": -(-e["end"] // fps)} for e in v["events"]]
            for v in vids
            if v["class"] != NORMAL
        }
        json_path = root / "Annotations" / "TemporalAnnotations" / "abnormal" / f"{split}.json"
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(seconds, indent=1) + "\n", encoding="utf-8")
