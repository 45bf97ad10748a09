"""UCFCrime2Local vatic annotations -> hard-anomaly frame masks (docs/methods/realtime.md §5).

One file per anomalous video, one row per (track, frame)::

    track xmin ymin xmax ymax frame lost occluded generated "label"

A frame is **hard** when any row for it has ``lost == 0`` (the object is visible); the other
frames of an anomalous video are **soft**. The mask written to ``labels.h5`` is the hard mask:
soft = anomalous video and not hard, so the realtime method's label policies (hard / soft /
normal, ``-ha``) follow from the mask and the video label alone.
"""
from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadflow.data.annotations import AnnotationError

log = logging.getLogger(__name__)

#: frame-index conventions: 0-based (default, A7), 1-based, or inferred from the file (auto).
INDEX_BASES = (0, 1, "auto")


@dataclass(frozen=True)
class VaticRow:
    track: int
    box: tuple[int, int, int, int]
    frame: int
    lost: bool
    occluded: bool
    generated: bool
    label: str


def parse_rows(path: str | Path) -> list[VaticRow]:
    """Every row of a vatic file; an unreadable row is an error naming the file and line."""
    path = Path(path)
    rows: list[VaticRow] = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            parts = shlex.split(line)  # the label is quoted and may hold spaces
            track, x1, y1, x2, y2, frame, lost, occl, gen = (int(p) for p in parts[:9])
            label = " ".join(parts[9:])
        except ValueError as exc:
            raise AnnotationError(f"{path}:{n}: not a vatic row (track xmin ymin xmax ymax frame lost occluded generated \"label\"): "
                                  f"{line.strip()!r} ({exc})") from None
        rows.append(VaticRow(track, (x1, y1, x2, y2), frame, bool(lost), bool(occl), bool(gen), label))
    return rows


def infer_base(rows: list[VaticRow]) -> int:
    """``auto``: 1-based when no row has frame 0 and the smallest frame is 1, else 0-based."""
    return 1 if rows and min(r.frame for r in rows) == 1 else 0


def hard_mask(path: str | Path, n_frames: int, base: int | str = 0) -> np.ndarray:
    """uint8 ``[n_frames]``: 1 where some row of the frame has ``lost == 0``.

    Frame indices are 0-based by default (A7); ``base: 1`` shifts them, ``auto`` infers and logs
    the base. Rows past the video's end are dropped with a warning naming the file.
    """
    if base not in INDEX_BASES:
        raise AnnotationError(f"vatic index base must be one of {INDEX_BASES}, got {base!r}")
    rows = parse_rows(path)
    if base == "auto":
        base = infer_base(rows)
        log.info("%s: vatic frame index base inferred as %d", path, base)
    mask = np.zeros(n_frames, dtype=np.uint8)
    frames = np.array([r.frame - int(base) for r in rows if not r.lost], dtype=np.int64)
    bad = frames[(frames < 0) | (frames >= n_frames)]
    if len(bad):
        log.warning("%s: %d visible rows lie outside the video's %d frames (first %d); dropped", path, len(bad), n_frames, int(bad[0]))
    mask[frames[(frames >= 0) & (frames < n_frames)]] = 1
    return mask


_SUFFIX = re.compile(r"(_x264)?$", re.I)


def vatic_files(folder: str | Path) -> dict[str, Path]:
    """``{video stem without _x264 (lower case): file}`` for every ``*.txt`` below ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(f"ucfcrime2local.path {folder} is not a folder (expected the UCFCrime2Local vatic .txt files)")
    return {_SUFFIX.sub("", p.stem).lower(): p for p in sorted(folder.rglob("*.txt")) if _looks_vatic(p)}


def _looks_vatic(path: Path) -> bool:
    """Split lists and readme files share the folder; a vatic file's first row has 9 integers."""
    try:
        with open(path) as f:
            first = f.readline()
        parts = shlex.split(first)
        [int(p) for p in parts[:9]]
        return len(parts) >= 10
    except (ValueError, OSError):
        return False


def find_vatic(files: dict[str, Path], video_id: str) -> Path | None:
    """The vatic file of a video id such as ``Arrest002_x264`` (or ``Arrest002``)."""
    return files.get(_SUFFIX.sub("", video_id).lower())
