"""UCF-Crime layout adapter (v1 and V2); the synthetic dataset uses the same layout.

The adapter only reads lists and annotations and finds the video files. It never decodes:
probing belongs to the manifest stage. Every failure names the missing file or video and
how the data should be laid out, before any job starts heavy work.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from vadflow.data import annotations as ann

log = logging.getLogger(__name__)

LAYOUT_HELP = """\
Expected UCF-Crime layout under the dataset root (names matched case-insensitively, anywhere below it):
  <root>/<Class>/<Class>NNN_x264.mp4                       e.g. Abuse/Abuse028_x264.mp4
  <root>/Training_Normal_Videos_Anomaly/Normal_VideosNNN_x264.mp4
  <root>/Testing_Normal_Videos_Anomaly/Normal_Videos_NNN_x264.mp4
  <root>/Anomaly_Detection_splits/Anomaly_Train.txt       (and Anomaly_Test.txt)
  <root>/Temporal_Anomaly_Annotation_for_Testing_Videos.txt  (or Temporal_Anomaly_Annotation.txt)
Set datasets.<name>.root in the config to the folder that holds them (see README, "Real data")."""

TRAIN_LIST = ("anomaly_train.txt",)
TEST_LIST = ("anomaly_test.txt",)
TEST_ANNOTATION = ("temporal_anomaly_annotation_for_testing_videos.txt", "temporal_anomaly_annotation.txt")
TRAIN_ANNOTATION = ("temporal_anomaly_annotation_for_training_videos.txt",)
# Project extension (the synthetic dataset's validation split): optional, same formats.
VAL_LIST = ("anomaly_val.txt",)
VAL_ANNOTATION = ("temporal_anomaly_annotation_for_validation_videos.txt",)
WITH_FRAMES = ("test_annotation_with_frames.txt", "train_annotation_with_frames.txt", "val_annotation_with_frames.txt")
# V2 (vador) folder names differ from the class names of seed document 002.
V2_CLASS_NAMES = {"Banner": "Protest", "MolotovBomb": "MolotovBomb"}


class DatasetError(FileNotFoundError):
    """The dataset root, a list file or a listed video is missing or inconsistent."""


@dataclass
class VideoEntry:
    id: str
    relpath: str  # relative to the dataset root, '/'-separated
    split: str  # "train" | "test" | "val"
    cls: str  # "Normal" or an anomaly class
    anomalous: bool
    frame_events: list[tuple[int, int]] | None = None  # 1-based inclusive (annotation frames)
    second_events: list[tuple[float, float]] | None = None  # V2 seconds
    n_frames_hint: int | None = None
    annotation_source: str = ""


@dataclass
class DatasetFiles:
    root: Path
    train_list: Path | None = None
    test_list: Path | None = None
    test_annotation: Path | None = None
    train_annotation: Path | None = None
    val_list: Path | None = None
    val_annotation: Path | None = None
    with_frames: list[Path] = field(default_factory=list)
    videos: dict[str, Path] = field(default_factory=dict)  # id -> absolute path

    def used(self) -> list[Path]:
        return [p for p in (self.train_list, self.test_list, self.test_annotation, self.train_annotation,
                            self.val_list, self.val_annotation, *self.with_frames) if p]


def _is_normal(relpath: str, cls: str = "") -> bool:
    folder = relpath.replace("\\", "/").split("/")[0].lower()
    return folder.endswith("_normal_videos_anomaly") or cls.lower() == "normal"


def find_files(root: str | Path, index_videos: bool = True) -> DatasetFiles:
    """Find the list/annotation files (case-insensitive, anywhere under ``root``) and the videos."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} does not exist or is not a folder.\n{LAYOUT_HELP}")
    found = DatasetFiles(root=root)
    by_name: dict[str, list[Path]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            low = fn.lower()
            p = Path(dirpath) / fn
            if low.endswith(".mp4") and index_videos:
                vid = ann.video_id(fn)
                if vid in found.videos:
                    raise DatasetError(f"video id {vid} appears twice: {found.videos[vid]} and {p}")
                found.videos[vid] = p
            elif low.endswith(".txt"):
                by_name.setdefault(low, []).append(p)

    def pick(names: tuple[str, ...]) -> Path | None:
        for name in names:
            if name in by_name:
                if len(by_name[name]) > 1:
                    log.warning("several %s under %s; using %s", name, root, by_name[name][0])
                return by_name[name][0]
        return None

    found.train_list = pick(TRAIN_LIST)
    found.test_list = pick(TEST_LIST)
    found.test_annotation = pick(TEST_ANNOTATION)
    found.train_annotation = pick(TRAIN_ANNOTATION)
    found.val_list = pick(VAL_LIST)
    found.val_annotation = pick(VAL_ANNOTATION)
    found.with_frames = [by_name[n][0] for n in WITH_FRAMES if n in by_name]
    return found


def load_entries(
    root: str | Path,
    version: str = "v1",
    v2_annotations: str | Path | None = None,
    test_annotation: str | Path | None = None,
    videos: bool = True,
) -> tuple[list[VideoEntry], DatasetFiles]:
    """Read the splits and annotations of a UCF-Crime-style dataset into one entry per video.

    The test split comes from ``Anomaly_Test.txt`` or, when a copy lacks it, from the test
    temporal annotation (which lists every test video). Test videos keep the frame-level v1
    annotation; V2 seconds are used for training videos and for test videos the v1 file
    lacks (Protest/Banner, MolotovBomb), as docs/datasets.md §2 prescribes.

    ``videos=False`` (a dataset used only through imported features) neither indexes nor
    requires video files: entries keep their listed relative paths.
    """
    files = find_files(root, index_videos=videos)
    if test_annotation:
        files.test_annotation = Path(test_annotation)
    if files.test_annotation is None:
        raise DatasetError(f"no test temporal annotation under {root} (looked for {', '.join(TEST_ANNOTATION)}).\n{LAYOUT_HELP}")
    if files.train_list is None:
        raise DatasetError(f"no Anomaly_Train.txt under {root}.\n{LAYOUT_HELP}")

    test_ann = ann.read_temporal_annotation(files.test_annotation)
    train_ann = ann.read_temporal_annotation(files.train_annotation) if files.train_annotation else {}
    val_ann = ann.read_temporal_annotation(files.val_annotation) if files.val_annotation else {}
    counts: dict[str, int] = {}
    for wf in files.with_frames:
        counts.update(ann.read_frame_counts(wf))

    v2: dict[str, dict[str, tuple[str, list[tuple[float, float]]]]] = {"train": {}, "test": {}}
    if version == "v2":
        if not v2_annotations:
            raise DatasetError(
                "version: v2 needs datasets.<name>.v2_annotations: the folder holding "
                "TemporalAnnotations/abnormal/{train,test}.json (hibrahimozturk/vador data/Annotations)"
            )
        for split in ("train", "test"):
            for h in sorted(Path(v2_annotations).rglob(f"{split}.json")):
                if h.parent.name.lower() in ("abnormal", "normal"):
                    v2[split].update(ann.read_v2_json(h))
        if not v2["train"]:
            raise DatasetError(f"no V2 JSON annotations (abnormal/train.json, ...) under {v2_annotations}")
    v2_all = {**v2["train"], **v2["test"]}

    entries: list[VideoEntry] = []
    seen: set[str] = set()

    def add(relpath: str, split: str, cls: str | None = None) -> None:
        vid = ann.video_id(relpath)
        if vid in seen:
            raise DatasetError(f"video {vid} is listed twice across the split files")
        seen.add(vid)
        folder = relpath.split("/")[0] if "/" in relpath else ""
        cls = cls or ("Normal" if _is_normal(relpath) else V2_CLASS_NAMES.get(folder, folder))
        e = VideoEntry(vid, relpath, split, cls, not _is_normal(relpath, cls), n_frames_hint=counts.get(vid))
        src, src_file = {"test": (test_ann, files.test_annotation), "val": (val_ann, files.val_annotation)}.get(
            split, (train_ann, files.train_annotation))
        if vid in src:
            e.frame_events = src[vid].events
            e.n_frames_hint = e.n_frames_hint or src[vid].n_frames
            e.annotation_source = str(src_file)
        elif vid in v2_all:
            e.second_events = v2_all[vid][1]
            e.annotation_source = "v2-json"
        elif not e.anomalous:
            e.frame_events = []
        entries.append(e)

    for rel in ann.read_split_list(files.train_list):
        add(rel, "train")
    if files.test_list:
        for rel in ann.read_split_list(files.test_list):
            add(rel, "test")
    else:
        for vid, t in test_ann.items():
            rel = t.relpath or _guess_relpath(vid, t.cls)
            add(rel, "test", "Normal" if t.cls.lower() == "normal" else t.cls)
    if files.val_list:  # validation videos: model selection only, never trained on or reported
        for rel in ann.read_split_list(files.val_list):
            add(rel, "val")
    # V2 adds videos (Protest/Banner, MolotovBomb, more Fighting) that the v1 lists lack.
    for split in ("train", "test"):
        for vid, (rel, _) in v2[split].items():
            if vid not in seen:
                add(rel, split)

    missing_ann = [e for e in entries if e.split in ("test", "val") and e.anomalous and e.frame_events is None and e.second_events is None]
    if missing_ann:
        where = files.test_annotation if missing_ann[0].split == "test" else files.val_annotation
        raise DatasetError(
            f"{len(missing_ann)} anomalous {missing_ann[0].split} videos have no temporal annotation in {where}: "
            f"{', '.join(e.id for e in missing_ann[:5])}{' ...' if len(missing_ann) > 5 else ''}"
        )
    if videos:
        _attach_paths(entries, files)
    return entries, files


def _guess_relpath(vid: str, cls: str) -> str:
    if cls.lower() == "normal":
        folder = "Testing_Normal_Videos_Anomaly" if vid.startswith("Normal_Videos_") else "Training_Normal_Videos_Anomaly"
        return f"{folder}/{vid}.mp4"
    return f"{cls}/{vid}.mp4"


def _attach_paths(entries: list[VideoEntry], files: DatasetFiles) -> None:
    """Point each entry at its file (matched by id anywhere under root) or fail listing the missing."""
    missing = [e for e in entries if e.id not in files.videos]
    if missing:
        names = ", ".join(e.relpath for e in missing[:8])
        raise DatasetError(
            f"{len(missing)} of {len(entries)} listed videos are missing under {files.root}: {names}"
            f"{' ...' if len(missing) > 8 else ''}\n{LAYOUT_HELP}"
        )
    for e in entries:
        e.relpath = files.videos[e.id].relative_to(files.root).as_posix()
