"""Parsers for UCF-Crime list and annotation files, and frame-label construction.

Frame base (docs/datasets.md §1.3): annotation files hold 1-based inclusive frame numbers
at the native rate. The project converts an event ``s e`` to the 0-based half-open range
``[s-1, min(e, N))``. V2 annotations hold whole seconds and become ``[floor(s*fps), floor(e*fps))``.
"""
from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class AnnotationError(ValueError):
    """A list or annotation file is malformed; the message names the file and line."""


def video_id(name: str) -> str:
    """``Abuse/Abuse028_x264.mp4`` or ``Abuse028_x264`` -> ``Abuse028_x264``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-4] if base.lower().endswith(".mp4") else base


@dataclass
class TemporalEntry:
    """One row of a temporal annotation file; events are 1-based inclusive frame numbers."""

    id: str
    cls: str
    events: list[tuple[int, int]] = field(default_factory=list)
    n_frames: int | None = None
    relpath: str | None = None


#: the formats are whitespace separated, so a video name may hold any character but whitespace.
FORMAT_NOTE = "fields are separated by whitespace, so a video name cannot contain any"


def whitespace_name(path: str | Path, lineno: int, line: str, exts: tuple[str, ...] = (".mp4",)) -> AnnotationError | None:
    """The error for a line whose video name was split at whitespace: some field after the
    first ends like a video file. None when no field does."""
    fields = list(re.finditer(r"\S+", line))
    for f in fields[1:]:
        if f.group().lower().endswith(exts):
            name = line[fields[0].start(): f.end()]
            return AnnotationError(f"{path}:{lineno}: video name {name!r} contains whitespace, which this list format "
                                   f"cannot hold ({FORMAT_NOTE}); rename the video without it, here and in the other "
                                   f"list and annotation files")
    return None


def read_split_list(path: str | Path) -> list[str]:
    """Lines ``Class/Video.mp4`` of ``Anomaly_Train.txt`` / ``Anomaly_Test.txt``."""
    path = Path(path)
    out = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        if len(tok) > 1:
            raise whitespace_name(path, lineno, line) or AnnotationError(
                f"{path}:{lineno}: expected one 'Class/Video.mp4' per line ({FORMAT_NOTE}), got {line.strip()!r}")
        out.append(tok[0].replace("\\", "/"))
    return out


def read_temporal_annotation(path: str | Path) -> dict[str, TemporalEntry]:
    """Parse ``Video.mp4  Class  s1  e1  s2  e2`` or ``Class/Video.mp4 N Class s1 e1 s2 e2``.

    Both forms appear in public copies (Sultani's file; ekosman / UR-DMU's with frame counts),
    some without ``.mp4``. Fields are whitespace separated; ``-1`` means no event.
    """
    path = Path(path)
    out: dict[str, TemporalEntry] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        n_frames = None
        if len(tok) >= 3 and tok[1].lstrip("-").isdigit() and not tok[2].lstrip("-").isdigit():
            n_frames = int(tok[1])
            name, cls, nums = tok[0], tok[2], tok[3:]
        else:
            name, cls, nums = tok[0], tok[1] if len(tok) > 1 else "", tok[2:]
        if not cls or len(nums) % 2 or not all(t.lstrip("-").isdigit() for t in nums):
            raise whitespace_name(path, lineno, line) or AnnotationError(
                f"{path}:{lineno}: expected 'Video.mp4 Class s1 e1 [s2 e2]' ({FORMAT_NOTE}), got {line.strip()!r}")
        vals = [int(t) for t in nums]
        events = [(s, e) for s, e in zip(vals[::2], vals[1::2]) if s != -1 and e != -1]
        vid = video_id(name)
        if vid in out:
            raise AnnotationError(f"{path}:{lineno}: video {vid} is annotated twice")
        out[vid] = TemporalEntry(vid, cls, events, n_frames, name if "/" in name else None)
    return out


def read_frame_counts(path: str | Path) -> dict[str, int]:
    """``Class/Video.mp4 N [...]`` lines (``*_Annotation_with_frames.txt``) -> {id: N}."""
    path = Path(path)
    out = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        if len(tok) < 2 or not tok[1].isdigit():
            raise whitespace_name(path, lineno, line) or AnnotationError(
                f"{path}:{lineno}: expected 'Class/Video.mp4 nframes ...' ({FORMAT_NOTE}), got {line.strip()!r}")
        out[video_id(tok[0])] = int(tok[1])
    return out


def read_v2_json(path: str | Path) -> dict[str, tuple[str, list[tuple[float, float]]]]:
    """V2 ``{"Class/Video.mp4": [{"start": s, "end": e}, ...]}`` (seconds) -> {id: (relpath, events)}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}: not valid JSON ({exc})") from None
    out = {}
    for name, events in data.items():
        try:
            evs = [(float(ev["start"]), float(ev["end"])) for ev in events]
        except (TypeError, KeyError) as exc:
            raise AnnotationError(f"{path}: video {name}: events must be [{{'start': s, 'end': e}}, ...] ({exc})") from None
        out[video_id(name)] = (name, evs)
    return out


def frame_events(events: list[tuple[int, int]], n_frames: int, vid: str = "?") -> list[tuple[int, int]]:
    """1-based inclusive ``(s, e)`` -> 0-based half-open ``[s-1, min(e, N))``, clamped and logged."""
    out = []
    for s, e in events:
        if e > n_frames:
            log.warning("video %s: annotation end %d exceeds its %d frames; clamped", vid, e, n_frames)
        start, end = max(s - 1, 0), min(e, n_frames)
        if end > start:
            out.append((start, end))
        else:
            log.warning("video %s: event %d-%d lies outside its %d frames; dropped", vid, s, e, n_frames)
    return out


def second_events(
    events: list[tuple[float, float]], fps: float, n_frames: int, vid: str = "?", end_inclusive: bool = False
) -> list[tuple[int, int]]:
    """V2 seconds -> 0-based half-open frames ``[floor(s*fps), floor(e*fps))`` (ADNet's rule).

    ``end_inclusive`` reads ``e`` as a whole second that is itself anomalous: ``(e+1)*fps``.
    Events with ``e <= s`` are dropped with a warning naming the video.
    """
    out = []
    for s, e in events:
        if e <= s:
            log.warning("video %s: V2 event start %s >= end %s; dropped", vid, s, e)
            continue
        start = math.floor(s * fps)
        end = math.floor((e + 1 if end_inclusive else e) * fps)
        start, end = max(start, 0), min(end, n_frames)
        if end > start:
            out.append((start, end))
    return out


def frame_labels(events: list[tuple[int, int]], n_frames: int) -> np.ndarray:
    """0/1 uint8 labels of length ``n_frames`` from 0-based half-open events."""
    lab = np.zeros(n_frames, dtype=np.uint8)
    for start, end in events:
        lab[start:end] = 1
    return lab


def clip_anomalous_frames(frame_labels: np.ndarray, n_clips: int, clip_len: int, stride: int) -> np.ndarray:
    """Anomalous-frame count of each clip ``[i*stride, i*stride + clip_len)`` (clipped to the video)."""
    lab = np.asarray(frame_labels).reshape(-1) != 0
    csum = np.concatenate([[0], np.cumsum(lab)])
    starts = np.minimum(np.arange(n_clips) * stride, lab.size)
    ends = np.minimum(starts + clip_len, lab.size)
    return (csum[ends] - csum[starts]).astype(np.int64)


def event_clip_classes(counts: np.ndarray, cls: str, threshold: int) -> tuple[np.ndarray, list[str]]:
    """Class of each kept clip of an anomalous video from its anomalous-frame ``counts``.

    No anomalous frame: ``Normal``; more than ``threshold`` (the LOF thesis's > 3 of 16): the
    video's class ``cls``; in between the clip straddles an event boundary and is left out.
    Returns the keep mask and the kept clips' class names.
    """
    counts = np.asarray(counts)
    keep = (counts == 0) | (counts > threshold)
    return keep, ["Normal" if c == 0 else cls for c in counts[keep]]
