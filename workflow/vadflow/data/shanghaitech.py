"""``kind: shanghaitech``: ShanghaiTech Campus, as published.

    <root>/training/videos/01_001.avi ...        normal training videos (or, in preprocessed
    <root>/training/frames/01_001/000.jpg ...     copies, one frame folder per video)
    <root>/testing/frames/01_0014/000.jpg ...    test frame folders
    <root>/testing/test_frame_mask/01_0014.npy   per-frame 0/1 ground truth

Video ids are the folder and file stems (unique over the dataset).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vadflow.data.benchmarks import BenchmarkFiles, listing, make_test_entry, make_train_entry, mask_events, require_dir
from vadflow.data.ucf_crime import DatasetError, VideoEntry

log = logging.getLogger(__name__)

LAYOUT_HELP = """A shanghaitech dataset is the ShanghaiTech Campus folder:
  <root>/training/videos/01_001.avi ... (or <root>/training/frames/01_001/*.jpg)
  <root>/testing/frames/01_0014/*.jpg ...   <root>/testing/test_frame_mask/01_0014.npy ..."""

VIDEO_EXTS = (".avi", ".mp4")


def ground_truth_files(root: Path, cfg: dict) -> list[Path]:
    d = root / "testing" / "test_frame_mask"
    return [p for p in listing(d) if p.suffix == ".npy"] if d.is_dir() else []


def load_entries(root: str | Path, cfg: dict) -> tuple[list[VideoEntry], BenchmarkFiles]:
    root = Path(root)
    require_dir(root, LAYOUT_HELP)
    training = require_dir(root / "training", LAYOUT_HELP)
    train: dict[str, Path] = {}
    if (training / "frames").is_dir():
        for p in listing(training / "frames"):
            if not p.is_dir():
                raise DatasetError(f"{p}: unexpected entry in {training / 'frames'} (expected one frame folder per video)")
            train[p.name] = p
    elif (training / "videos").is_dir():
        for p in listing(training / "videos"):
            if not (p.is_file() and p.suffix.lower() in VIDEO_EXTS):
                raise DatasetError(f"{p}: unexpected entry in {training / 'videos'} (expected .avi videos only)")
            train[p.stem] = p
    else:
        raise DatasetError(f"{training}: neither videos/ nor frames/ found.\n{LAYOUT_HELP}")
    if not train:
        raise DatasetError(f"{training}: no training videos.\n{LAYOUT_HELP}")
    frames_dir = require_dir(root / "testing" / "frames", LAYOUT_HELP)
    mask_dir = require_dir(root / "testing" / "test_frame_mask", LAYOUT_HELP)
    test: dict[str, Path] = {}
    for p in listing(frames_dir):
        if not p.is_dir():
            raise DatasetError(f"{p}: unexpected entry in {frames_dir} (expected one frame folder per test video)")
        test[p.name] = p
    masks: dict[str, Path] = {}
    for p in listing(mask_dir):
        if not (p.is_file() and p.suffix == ".npy"):
            raise DatasetError(f"{p}: unexpected entry in {mask_dir} (expected <video>.npy files only)")
        if p.stem not in test:
            raise DatasetError(f"{p}: frame mask of a test video that has no folder {frames_dir / p.stem}")
        masks[p.stem] = p
    missing = sorted(set(test) - set(masks))
    if missing:
        raise DatasetError(f"no ground truth for {test[missing[0]]} ({len(missing)} test videos): expected {mask_dir / (missing[0] + '.npy')}")
    clash = sorted(set(train) & set(test))
    if clash:
        raise DatasetError(f"video id {clash[0]} is both a training and a test video ({train[clash[0]]}, {test[clash[0]]})")
    entries = [make_train_entry(vid, p.relative_to(root).as_posix()) for vid, p in sorted(train.items())]
    for vid, p in sorted(test.items()):
        try:
            flags = np.load(masks[vid], allow_pickle=False).reshape(-1)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{masks[vid]}: cannot read frame mask ({exc})") from None
        if not np.all((flags == 0) | (flags == 1)):
            raise DatasetError(f"{masks[vid]}: frame mask must hold 0/1 values")
        entries.append(make_test_entry(vid, p.relative_to(root).as_posix(), mask_events(flags), masks[vid].name, len(flags)))
    log.info("shanghaitech %s: %d train, %d test videos", root, len(train), len(test))
    return entries, BenchmarkFiles(root=root, ground_truth=[masks[k] for k in sorted(masks)])
