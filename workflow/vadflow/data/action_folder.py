"""``kind: action_folder``: a labelled action dataset laid out one folder per class (UCF-101).

    <root>/<Class>/<video file>          e.g. ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi

Class = the top folder; video id = the file stem (unique over the dataset). Such a dataset has
no anomalies and no frame labels: it is a pretraining set (the Xception-LSTM extractor,
docs/methods/mil.md §8), never the dataset a method is evaluated on. ``train_list`` (optional) is a
UCF-101 split list (``ucfTrainTestlist/trainlist01.txt``: ``Class/video.avi [label]`` per line):
listed videos are ``train``, the others ``test`` (split 1: 9,537 / 3,783); without it every video
is ``train``.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from vadflow.data.annotations import whitespace_name
from vadflow.data.ucf_crime import DatasetError, VideoEntry

log = logging.getLogger(__name__)

VIDEO_EXTS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v")

LAYOUT_HELP = """An action_folder dataset is one folder per class under its root:
  <root>/<Class>/<video file>        e.g. <root>/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi
Set datasets.<name>.root to that folder (UCF-101: the extracted UCF-101/ folder) and, for the
official split, datasets.<name>.train_list to ucfTrainTestlist/trainlist01.txt."""


@dataclass
class ActionFiles:
    root: Path
    train_list: Path | None = None
    videos: dict[str, Path] = field(default_factory=dict)

    def used(self) -> list[Path]:
        return [self.train_list] if self.train_list else []


def read_list(path: str | Path) -> set[str]:
    """Video stems named by a split list (first token of each non-empty line, then an optional label)."""
    out = set()
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.strip().split()
        if not parts:
            continue
        err = whitespace_name(path, lineno, line, VIDEO_EXTS)
        if err:
            raise err
        out.add(Path(parts[0].replace("\\", "/")).stem)
    return out


def load_entries(root: str | Path, train_list: str | Path | None = None) -> tuple[list[VideoEntry], ActionFiles]:
    """One entry per video file under ``root/<Class>/`` (searched recursively inside each class)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} does not exist or is not a folder.\n{LAYOUT_HELP}")
    files = ActionFiles(root=root, train_list=Path(train_list) if train_list else None)
    listed: set[str] | None = None
    if files.train_list is not None:
        if not files.train_list.is_file():
            raise DatasetError(f"train_list {files.train_list} does not exist.\n{LAYOUT_HELP}")
        listed = read_list(files.train_list)
    entries: list[VideoEntry] = []
    for cls_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for dirpath, dirnames, filenames in os.walk(cls_dir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in sorted(filenames):
                if not fn.lower().endswith(VIDEO_EXTS) or fn.startswith("."):
                    continue
                path = Path(dirpath) / fn
                vid = path.stem
                if vid in files.videos:
                    raise DatasetError(f"video id {vid} appears twice: {files.videos[vid]} and {path}; ids are file stems")
                files.videos[vid] = path
                split = "train" if listed is None or vid in listed else "test"
                entries.append(VideoEntry(id=vid, relpath=path.relative_to(root).as_posix(), split=split,
                                          cls=cls_dir.name, anomalous=False, annotation_source="folder"))
    if not entries:
        raise DatasetError(f"no video files ({', '.join(VIDEO_EXTS)}) under {root}/<Class>/.\n{LAYOUT_HELP}")
    if listed is not None:
        missing = listed - set(files.videos)
        if missing:
            log.warning("%d videos of %s are not under %s (e.g. %s)", len(missing), files.train_list, root, sorted(missing)[:3])
    return entries, files
