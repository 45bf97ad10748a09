"""Frame-level VAD benchmarks (UCSD Ped1/Ped2, CUHK Avenue, ShanghaiTech): what their layouts share.

Each layout has its parser (:mod:`vadflow.data.ucsd`, :mod:`vadflow.data.avenue`,
:mod:`vadflow.data.shanghaitech`) returning the same :class:`~vadflow.data.ucf_crime.VideoEntry`
list as the UCF-Crime adapter, so the manifest, ``labels.h5`` and every later stage treat
them alike. Training videos are normal by the benchmarks' definition (all-zero labels); a
test video is anomalous (class ``Anomaly``) when its ground truth marks any frame. A video is
a file or a frame folder (the decoder reads both). Every parser fails on an unexpected or
missing file, naming its path: a half-copied dataset must not evaluate quietly on a subset.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vadflow.data.ucf_crime import DatasetError, VideoEntry

#: dataset kind -> parser module (each has ``load_entries(root, cfg) -> (entries, files)``).
KINDS = {"ucsd": "vadflow.data.ucsd", "avenue": "vadflow.data.avenue", "shanghaitech": "vadflow.data.shanghaitech"}

#: frame rate of each kind's frame folders, which carry none (UCSD: 10 fps; ShanghaiTech: 24).
DEFAULT_FPS = {"ucsd": 10.0, "avenue": 25.0, "shanghaitech": 24.0}

#: names operating systems leave in folders; never reported as unexpected.
IGNORED = {"thumbs.db", "desktop.ini"}


@dataclass
class BenchmarkFiles:
    """The ground-truth files a parser read (manifest job inputs: editing one rebuilds the manifest)."""

    root: Path
    ground_truth: list[Path] = field(default_factory=list)

    def used(self) -> list[Path]:
        return list(self.ground_truth)


def load_entries(kind: str, root: str | Path, cfg: dict | None = None) -> tuple[list[VideoEntry], BenchmarkFiles]:
    if kind not in KINDS:
        raise DatasetError(f"unknown benchmark kind {kind!r} (known: {', '.join(KINDS)})")
    return importlib.import_module(KINDS[kind]).load_entries(root, cfg or {})


def ground_truth_files(kind: str, root: str | Path, cfg: dict | None = None) -> list[Path]:
    """The ground-truth files of a benchmark copy, found without reading them (the manifest
    job's inputs, listed each time Snakemake builds the DAG); [] when the root is missing."""
    if kind not in KINDS or not Path(root).is_dir():
        return []
    return sorted(importlib.import_module(KINDS[kind]).ground_truth_files(Path(root), cfg or {}))


def listing(folder: Path) -> list[Path]:
    """Visible entries of ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.name.lower() not in IGNORED)


def require_dir(path: Path, help_text: str) -> Path:
    if not path.is_dir():
        raise DatasetError(f"{path}: folder not found.\n{help_text}")
    return path


def mask_events(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of nonzero entries of a per-frame 0/1 vector -> 1-based inclusive ``(s, e)`` events."""
    m = np.asarray(mask).reshape(-1) != 0
    edges = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s) + 1, int(e)) for s, e in zip(starts, ends)]


def make_test_entry(vid: str, relpath: str, events: list[tuple[int, int]], source: str, n_frames: int | None = None) -> VideoEntry:
    anomalous = bool(events)
    return VideoEntry(id=vid, relpath=relpath, split="test", cls="Anomaly" if anomalous else "Normal", anomalous=anomalous,
                      frame_events=events, n_frames_hint=n_frames, annotation_source=source)


def make_train_entry(vid: str, relpath: str) -> VideoEntry:
    return VideoEntry(id=vid, relpath=relpath, split="train", cls="Normal", anomalous=False, frame_events=[],
                      annotation_source="normal by definition (training set)")
