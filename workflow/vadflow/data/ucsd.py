"""``kind: ucsd``: UCSD Anomaly Detection Dataset (Ped1 or Ped2), as published (v1p2).

    <root>/Train/Train001/001.tif ...          training frame folders (normal)
    <root>/Test/Test001/001.tif ...            test frame folders
    <root>/Test/UCSDped2.m                     frame-level ground truth (any *.m in Test/ or root)
    <root>/Test/Test001_gt/001.bmp ...         pixel masks (Ped2: every test video; Ped1: 10 of 36)

``root`` is the ``UCSDped1`` or ``UCSDped2`` folder. The ``.m`` file lists one
``TestVideoFile{end+1}.gt_frame = [61:180];`` per test video in order (1-based inclusive
MATLAB ranges, several per video allowed: ``[5:90, 140:200]``). Without it, a video's
``TestNNN_gt`` masks give its labels (a frame is anomalous when its mask has any nonzero pixel).
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from vadflow.data.benchmarks import BenchmarkFiles, listing, make_test_entry, make_train_entry, mask_events, require_dir
from vadflow.data.ucf_crime import DatasetError, VideoEntry

log = logging.getLogger(__name__)

LAYOUT_HELP = """A ucsd dataset is the UCSDped1 or UCSDped2 folder of UCSD_Anomaly_Dataset.v1p2:
  <root>/Train/Train001/001.tif ...   <root>/Test/Test001/001.tif ...
  <root>/Test/UCSDped2.m (frame ground truth) and/or <root>/Test/Test001_gt/*.bmp (pixel masks)
Set datasets.<name>.root to that folder."""

_ENTRY = re.compile(r"TestVideoFile\s*\{\s*(end\s*\+\s*1|\d+)\s*\}\s*\.\s*gt_frame\s*=\s*\[([^\]]*)\]")


def parse_m_file(path: str | Path) -> dict[int, list[tuple[int, int]]]:
    """``UCSDpedN.m`` -> {test video number (1-based): [(s, e), ...]} (1-based inclusive)."""
    path = Path(path)
    text = "\n".join(line.split("%", 1)[0] for line in path.read_text(errors="replace").splitlines())
    out: dict[int, list[tuple[int, int]]] = {}
    n = 0
    for m in _ENTRY.finditer(text):
        n = n + 1 if m.group(1).replace(" ", "") == "end+1" else int(m.group(1))
        events = []
        for tok in re.split(r"[,\s]+", m.group(2).strip()):
            if not tok:
                continue
            parts = tok.split(":")
            if not all(p.isdigit() for p in parts) or len(parts) not in (1, 2, 3):
                raise DatasetError(f"{path}: TestVideoFile {n}: cannot read range {tok!r} (expected s:e or a frame number)")
            s, e = int(parts[0]), int(parts[-1])
            if len(parts) == 3 and int(parts[1]) != 1:
                raise DatasetError(f"{path}: TestVideoFile {n}: stepped range {tok!r} is not a frame interval")
            if e < s:
                raise DatasetError(f"{path}: TestVideoFile {n}: range {tok!r} ends before it starts")
            events.append((s, e))
        if n in out:
            raise DatasetError(f"{path}: TestVideoFile {n} is given twice")
        out[n] = events
    if not out:
        raise DatasetError(f"{path}: no 'TestVideoFile{{end+1}}.gt_frame = [...]' lines")
    return out


def mask_folder_events(folder: Path) -> tuple[list[tuple[int, int]], int]:
    """A ``TestNNN_gt`` folder of per-frame masks -> (events, number of masks)."""
    from vadflow.frame_folders import DecodeError, frame_files

    import cv2

    try:
        files = frame_files(folder)
    except DecodeError as exc:
        raise DatasetError(str(exc)) from None
    flags = []
    for p in files:
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise DatasetError(f"{p}: cannot read ground-truth mask")
        flags.append(bool(np.any(img)))
    return mask_events(np.array(flags)), len(files)


def ground_truth_files(root: Path, cfg: dict) -> list[Path]:
    return [p for d in (root, root / "Test") if d.is_dir() for p in listing(d) if p.is_file() and p.suffix.lower() == ".m"]


def load_entries(root: str | Path, cfg: dict) -> tuple[list[VideoEntry], BenchmarkFiles]:
    root = Path(root)
    require_dir(root, LAYOUT_HELP)
    train_dir = require_dir(root / "Train", LAYOUT_HELP)
    test_dir = require_dir(root / "Test", LAYOUT_HELP)
    files = BenchmarkFiles(root=root)
    entries: list[VideoEntry] = []
    for p in listing(train_dir):
        if not (p.is_dir() and re.fullmatch(r"Train\d+", p.name)):
            raise DatasetError(f"{p}: unexpected entry in {train_dir} (expected TrainNNN frame folders only).\n{LAYOUT_HELP}")
        entries.append(make_train_entry(p.name, p.relative_to(root).as_posix()))
    tests: dict[int, Path] = {}
    gt_dirs: dict[int, Path] = {}
    m_files = [p for p in listing(root) if p.is_file() and p.suffix.lower() == ".m"]
    for p in listing(test_dir):
        if p.is_dir() and (m := re.fullmatch(r"Test(\d+)", p.name)):
            tests[int(m.group(1))] = p
        elif p.is_dir() and (m := re.fullmatch(r"Test(\d+)_gt", p.name)):
            gt_dirs[int(m.group(1))] = p
        elif p.is_file() and p.suffix.lower() == ".m":
            m_files.append(p)
        else:
            raise DatasetError(f"{p}: unexpected entry in {test_dir} (expected TestNNN, TestNNN_gt folders and a .m file).\n{LAYOUT_HELP}")
    if not entries:
        raise DatasetError(f"{train_dir}: no TrainNNN frame folders.\n{LAYOUT_HELP}")
    if not tests:
        raise DatasetError(f"{test_dir}: no TestNNN frame folders.\n{LAYOUT_HELP}")
    for k, p in gt_dirs.items():
        if k not in tests:
            raise DatasetError(f"{p}: ground-truth masks of a test video that does not exist ({test_dir / p.name[:-3]})")
    if len(m_files) > 1:
        raise DatasetError(f"several ground-truth .m files: {', '.join(map(str, m_files))}; keep one")
    gt: dict[int, list[tuple[int, int]]] = {}
    source: dict[int, str] = {}
    hints: dict[int, int] = {}
    if m_files:
        gt = parse_m_file(m_files[0])
        files.ground_truth.append(m_files[0])
        extra = sorted(set(gt) - set(tests))
        if extra:
            raise DatasetError(f"{m_files[0]}: lists {max(gt)} test videos but {test_dir} holds {len(tests)} "
                               f"(no folder Test{extra[0]:03d}); is it the .m file of the other Ped dataset?")
        source = {k: m_files[0].name for k in gt}
    for k in sorted(set(tests) - set(gt)):
        if k in gt_dirs:
            gt[k], hints[k] = mask_folder_events(gt_dirs[k])
            source[k] = gt_dirs[k].name
    missing = sorted(set(tests) - set(gt))
    if missing:
        raise DatasetError(f"no ground truth for {tests[missing[0]]} ({len(missing)} test videos): expected an entry in a "
                           f"UCSDpedN.m file or a folder {test_dir / (tests[missing[0]].name + '_gt')}")
    for k in sorted(tests):
        p = tests[k]
        entries.append(make_test_entry(p.name, p.relative_to(root).as_posix(), gt[k], source[k], hints.get(k)))
    log.info("ucsd %s: %d train, %d test videos; ground truth from %s", root, sum(e.split == "train" for e in entries),
             len(tests), ", ".join(sorted(set(source.values())))[:200])
    return entries, files
