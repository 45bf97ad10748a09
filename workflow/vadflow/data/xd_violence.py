"""XD-Violence adapter (Wu et al., ECCV 2020; lists and features of the XDVioDet project).

Returns the same ``(entries, files)`` as :func:`vadflow.data.ucf_crime.load_entries`, so the
manifest and later stages treat XD-Violence like UCF-Crime. Published layout (names matched
anywhere under the root, see ``LAYOUT_HELP`` and docs/datasets_xd_violence.md):

* lists ``rgb.list`` / ``rgb_test.list`` (also ``flow*.list``, ``audio*.list``, UR-DMU's
  ``XD_Train.list`` / ``XD_Test.list``, VadCLIP's ``xd_CLIP_rgb.csv`` / ``xd_CLIP_rgbtest.csv``,
  CLIP-TSA's ``xd-*-train.list`` / ``xd-*-test.list``): one line per feature file, the
  absolute path on the producer's machine (``/media/peng/Samsung_T5/i3d-features/RGB/
  <name>__<k>.npy``), the five crop lines of a video consecutive, violent videos first;
* ``annotations.txt``: ``<name>[.mp4] s1 e1 [s2 e2 ...]`` for the 500 violent test videos,
  0-based start frame and exclusive end (XDVioDet ``make_gt.py`` sets ``gt[s:e] = 1``);
* features ``RGB|RGBTest/<name>__<k>.npy`` (k = 0..4), ``Flow|FlowTest/<name>__<k>.npy``,
  ``<name>__vggish.npy``; videos ``<name>.mp4`` (optional, ``videos: false``).

Classes come from the name: ``..._label_A`` is normal; ``..._label_B2-G-0`` lists up to three
codes (``0`` pads) of :data:`CLASS_CODES`. ``VideoEntry.cls`` holds the first class (the
name's first code); :class:`XDVideoEntry.classes` holds all of them in name order;
:func:`join_classes` / :func:`split_classes` give the one-string form (``Shooting|Explosion``)
a CSV column can hold, and :func:`vadflow.evaluation.field_metrics.per_class_metrics` counts a
video in each of its classes.

Frame labels follow a named length policy (:data:`POLICIES`, :func:`gt_length`,
:func:`frame_labels`): ``xd_official`` is XDVioDet's rule from the decoded frame count,
``snippets_x16`` is 16·T from the feature length (``videos: false``); both give the same
labels for the published features (docs/datasets_xd_violence.md §4).
"""
from __future__ import annotations

import csv
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vadflow.data import annotations as ann
from vadflow.data.ucf_crime import DatasetError, DatasetFiles, VideoEntry

log = logging.getLogger(__name__)

LAYOUT_HELP = """\
Expected XD-Violence layout under the dataset root (file names matched anywhere below it):
  rgb.list, rgb_test.list          XDVioDet lists, one line per crop file (other machines' paths are fine)
                                   (or XD_Train.list / XD_Test.list, xd_CLIP_rgb.csv / xd_CLIP_rgbtest.csv)
  annotations.txt                  '<name> s1 e1 [s2 e2 ...]' for the violent test videos
  i3d-features/RGB/<name>__0.npy   ... __4.npy, and RGBTest/ (needed with videos: false: T gives the frame count)
  <name>.mp4                       the videos, anywhere below the root (videos: true)
Set datasets.<name>.root to that folder (docs/datasets_xd_violence.md)."""

#: XD-Violence class codes (the XD paper, Table 1; VadCLIP's label_map uses the same codes).
CLASS_CODES: dict[str, str] = {"B1": "Fighting", "B2": "Shooting", "B4": "Riot", "B5": "Abuse",
                               "B6": "CarAccident", "G": "Explosion"}
NORMAL_CODE = "A"
NORMAL = "Normal"
#: joins a video's classes into one string (no class name holds it, CSV needs no quoting).
CLASS_SEP = "|"
#: frames per snippet of every published XD feature (I3D RGB/flow, VGGish aligned, CLIP).
CLIP_LEN = 16
POLICIES = ("xd_official", "snippets_x16")
#: counts of the published lists (XDVioDet list/rgb.list, rgb_test.list): logged when a copy differs.
PUBLISHED = {"train": (3954, 1905), "test": (800, 500)}

TRAIN_LISTS = ("rgb.list", "xd_train.list", "xd_clip_rgb.csv", "flow.list", "audio.list")
TEST_LISTS = ("rgb_test.list", "xd_test.list", "xd_clip_rgbtest.csv", "flow_test.list", "audio_test.list")
#: CLIP-TSA's lists are named by backbone (xd-i3d-train.list, xd-vit-test.list, ...).
TRAIN_LIST_RE = re.compile(r"^xd-[a-z0-9]+-train\.list$")
TEST_LIST_RE = re.compile(r"^xd-[a-z0-9]+-test\.list$")
ANNOTATIONS = ("annotations.txt", "xd_annotation.txt", "annotations_multiclasses.txt")
#: folder names whose crop files give T with videos: false (flow has one snippet fewer: never used).
RGB_FOLDERS = ("rgb", "rgbtest")

_CROP_FILE = re.compile(r"^(?P<vid>.+)__(?P<k>\d+)\.npy$")
_VGGISH_FILE = re.compile(r"^(?P<vid>.+)__vggish\.npy$")


@dataclass
class XDVideoEntry(VideoEntry):
    """A :class:`VideoEntry` with every class of the name (``cls`` is ``classes[0]``)."""

    classes: tuple[str, ...] = ()
    label_code: str = ""  # the name's label part, e.g. "B2-G-0" or "A"
    n_snippets: int | None = None  # T of the feature file read for the frame count (videos: false)
    event_classes: list[str] | None = None  # per-event class names (annotations_multiclasses.txt only)
    raw_events: list[tuple[int, int]] | None = None  # as in annotations.txt: 0-based start, exclusive end


@dataclass
class XDFiles(DatasetFiles):
    """The files the adapter read; ``features`` maps video id -> the file whose T gave its frame count."""

    features: dict[str, Path] = field(default_factory=dict)


@dataclass
class XDAnnotation:
    id: str
    events: list[tuple[int, int]]  # 0-based start, exclusive end, as in the file
    event_classes: list[str] | None = None
    line: int = 0


# -- names and classes ---------------------------------------------------------------------
def parse_label(name: str, where: str = "") -> tuple[str, tuple[str, ...]]:
    """``...__#00-01-00_label_B2-G-0`` -> ``("B2-G-0", ("Shooting", "Explosion"))``; ``_label_A``
    -> ``("A", ())``. Errors name ``where`` (a file and line) and the video."""
    at = f"{where}: " if where else ""
    parts = name.split("_label_")
    if len(parts) != 2 or not parts[1]:
        raise ann.AnnotationError(f"{at}video name {name!r} has no '_label_<codes>' part (XD-Violence names end "
                                  f"'_label_A' for normal or '_label_B1-0-0' ... for violent videos)")
    code = parts[1]
    tokens = code.split("-")
    if tokens == [NORMAL_CODE]:
        return code, ()
    classes = [t for t in tokens if t != "0"]
    unknown = [t for t in classes if t not in CLASS_CODES]
    if NORMAL_CODE in tokens:
        raise ann.AnnotationError(f"{at}video {name!r}: label {code!r} mixes the normal code A with others")
    if unknown or not classes:
        raise ann.AnnotationError(f"{at}video {name!r}: label {code!r} has unknown codes {unknown or tokens} "
                                  f"(known: A, {', '.join(CLASS_CODES)}; 0 pads)")
    if len(tokens) > 3:
        raise ann.AnnotationError(f"{at}video {name!r}: label {code!r} has {len(tokens)} codes; XD-Violence names hold at most three")
    if len(set(classes)) != len(classes):
        raise ann.AnnotationError(f"{at}video {name!r}: label {code!r} repeats a code")
    return code, tuple(CLASS_CODES[t] for t in classes)


def join_classes(classes: tuple[str, ...] | list[str]) -> str:
    """A video's classes as one string (``Normal`` for none): what a manifest column can hold."""
    return CLASS_SEP.join(classes) if classes else NORMAL


def split_classes(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Inverse of :func:`join_classes`; a sequence passes through. ``Normal`` -> ``()``."""
    if not isinstance(value, str):
        return tuple(value)
    out = tuple(c for c in value.split(CLASS_SEP) if c)
    return () if out in ((), (NORMAL,)) else out


# -- lists ---------------------------------------------------------------------------------
def video_of_list_line(line: str) -> str:
    """The video id of one list line: a path (any machine's, ``/`` or ``\\``) ending
    ``<name>__<k>.npy``, ``<name>__vggish.npy``, ``<name>.npy`` or ``<name>.mp4``."""
    base = line.strip().replace("\\", "/").rsplit("/", 1)[-1]
    for pattern in (_CROP_FILE, _VGGISH_FILE):
        m = pattern.match(base)
        if m:
            return m.group("vid")
    if base.endswith(".npy"):
        return base[:-4]
    return ann.video_id(base)


def read_feature_list(path: str | Path) -> list[str]:
    """Video ids of an XDVioDet-style list, in list order (one per video, not per crop line).

    A video's crop lines must be consecutive (the loaders pair line i of the RGB list with
    line i of the flow list and line i//5 of the audio list), and one crop file appears once.
    """
    path = Path(path)
    return _group_lines(path, ((n, ln.strip()) for n, ln in enumerate(_read_text(path).splitlines(), 1) if ln.strip()))


def read_vadclip_csv(path: str | Path) -> list[tuple[str, str]]:
    """VadCLIP's ``path,label`` CSV (``xd_CLIP_rgb.csv``, ``ucf_CLIP_rgbtest.csv``): ``[(id, label)]``
    in list order, one per video. The label must agree with every crop line of its video."""
    path = Path(path)
    rows = list(csv.reader(_read_text(path).splitlines()))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["path", "label"]:
        raise ann.AnnotationError(f"{path}:1: expected the header 'path,label' of a VadCLIP list, got {rows[0] if rows else 'an empty file'}")
    labels: dict[str, tuple[str, int]] = {}
    lines = []
    for n, row in enumerate(rows[1:], 2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ann.AnnotationError(f"{path}:{n}: expected 'path,label', got {','.join(row)!r}")
        vid = video_of_list_line(row[0])
        if vid in labels and labels[vid][0] != row[1].strip():
            raise ann.AnnotationError(f"{path}:{n}: video {vid} has label {row[1].strip()!r} here but "
                                      f"{labels[vid][0]!r} on line {labels[vid][1]}")
        labels.setdefault(vid, (row[1].strip(), n))
        lines.append((n, row[0].strip()))
    return [(vid, labels[vid][0]) for vid in _group_lines(path, lines)]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ann.AnnotationError(f"{path}: not UTF-8 text ({exc})") from None


def _group_lines(path: Path, lines) -> list[str]:
    order: list[str] = []
    first_line: dict[str, int] = {}
    seen_files: dict[str, int] = {}
    for n, text in lines:
        base = text.replace("\\", "/").rsplit("/", 1)[-1]
        if not base or not (base.endswith(".npy") or base.lower().endswith(".mp4")):
            raise ann.AnnotationError(f"{path}:{n}: expected a path ending <name>__<k>.npy, <name>__vggish.npy, "
                                      f"<name>.npy or <name>.mp4, got {text!r}")
        vid = video_of_list_line(text)
        if base in seen_files:
            raise ann.AnnotationError(f"{path}:{n}: {base} is listed twice (first on line {seen_files[base]})")
        seen_files[base] = n
        if order and order[-1] == vid:
            continue
        if vid in first_line:
            raise ann.AnnotationError(f"{path}:{n}: video {vid} is listed again after other videos (first on line "
                                      f"{first_line[vid]}); a video's crop lines must be consecutive")
        first_line[vid] = n
        order.append(vid)
    return order


def read_annotations(path: str | Path) -> dict[str, XDAnnotation]:
    """``annotations.txt``: ``<name>[.mp4] s1 e1 [s2 e2 ...]`` (XDVioDet; 14 lines of the
    published file end ``.mp4``), or VadCLIP's ``annotations_multiclasses.txt``
    ``<name> C1 s1 e1 [C2 s2 e2 ...]`` with a class code per event. Frames are 0-based
    starts and exclusive ends; the published file ends without a newline."""
    path = Path(path)
    out: dict[str, XDAnnotation] = {}
    for n, line in enumerate(_read_text(path).splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        vid, rest = ann.video_id(tok[0]), tok[1:]
        classes = None
        if rest and not rest[0].lstrip("-").isdigit():  # the multi-class form
            if len(rest) % 3:
                raise ann.AnnotationError(f"{path}:{n}: expected '<name> C1 s1 e1 [C2 s2 e2 ...]', got {line.strip()!r}")
            classes = rest[0::3]
            bad = [c for c in classes if c not in CLASS_CODES]
            if bad:
                raise ann.AnnotationError(f"{path}:{n}: video {vid}: unknown event class codes {bad} (known: {', '.join(CLASS_CODES)})")
            nums = [t for i, t in enumerate(rest) if i % 3]
        else:
            nums = rest
        if not nums or len(nums) % 2 or not all(t.isdigit() for t in nums):
            raise ann.whitespace_name(path, n, line) or ann.AnnotationError(
                f"{path}:{n}: expected '<name> s1 e1 [s2 e2 ...]' with non-negative frame numbers "
                f"({ann.FORMAT_NOTE}), got {line.strip()!r}")
        vals = [int(t) for t in nums]
        events = list(zip(vals[::2], vals[1::2]))
        for s, e in events:
            if e <= s:
                raise ann.AnnotationError(f"{path}:{n}: video {vid}: event {s} {e} ends before it starts")
        if vid in out:
            raise ann.AnnotationError(f"{path}:{n}: video {vid} is annotated twice (first on line {out[vid].line})")
        parse_label(vid, f"{path}:{n}")
        out[vid] = XDAnnotation(vid, events, [CLASS_CODES[c] for c in classes] if classes else None, n)
    return out


# -- the frame-label policy ------------------------------------------------------------------
def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown XD-Violence label policy {policy!r} (known: {', '.join(POLICIES)})")


def n_snippets(n_frames: int, policy: str) -> int:
    """Snippets a video of ``n_frames`` has under ``policy``.

    ``xd_official``: ⌊(n−1)/16⌋: XDVioDet extracted RGB from n−1 frames to align it with the
    n−1 flow fields (the comment in its ``list/make_gt.py``). ``snippets_x16``: ⌊n/16⌋ (with
    ``n = 16·T`` from a feature file, T itself).
    """
    _check_policy(policy)
    n = max(int(n_frames), 0)
    return max(n - 1, 0) // CLIP_LEN if policy == "xd_official" else n // CLIP_LEN


def gt_length(n_frames: int, policy: str) -> int:
    """Frames the ground truth covers: 16 per snippet of :func:`n_snippets`.

    ``xd_official`` reproduces XDVioDet ``list/make_gt.py`` (the ``gt.npy`` that RTFM, UR-DMU,
    CLIP-TSA, MGFN and PEL4VAD load): drop the last frame (``gt_vec[:-1]``), then ``(n−1) % 16``
    more (``gt_vec[:-mod]``), leaving 16·⌊(n−1)/16⌋ frames.
    """
    return CLIP_LEN * n_snippets(n_frames, policy)


def label_policy(videos: bool) -> str:
    """The policy whose input the manifest has: a decoded frame count (``videos: true``) or
    16·T from the feature length (``videos: false``). Both label the same frames."""
    return "xd_official" if videos else "snippets_x16"


def frame_labels(events: list[tuple[int, int]] | None, n_frames: int, policy: str, vid: str = "?") -> np.ndarray:
    """0/1 uint8 labels of length :func:`gt_length` from a :class:`VideoEntry`'s ``frame_events``
    (1-based inclusive, the project's convention; the adapter stores an annotation's
    0-based ``s e`` as ``(s+1, e)``), so an event marks frames ``[s, e)`` as XDVioDet does.

    Events are clipped to the labelled span: that is the policy (the published GT drops
    the tail). An end beyond the video itself is warned about; under ``snippets_x16`` the
    video may be up to 16 frames longer than ``n_frames`` (T = ⌊(n−1)/16⌋), so only ends past
    that are.
    """
    length = gt_length(n_frames, policy)
    lab = np.zeros(length, dtype=np.uint8)
    video_end = int(n_frames) + (CLIP_LEN if policy == "snippets_x16" else 0)
    for s, e in events or []:
        start, end = s - 1, e
        if end > video_end:
            log.warning("video %s: annotation event %d-%d ends beyond its %d frames (policy %s); clamped",
                        vid, start, end, n_frames, policy)
        if start >= length:
            log.debug("video %s: event %d-%d lies in the %d tail frames policy %s leaves unlabelled",
                      vid, start, end, int(n_frames) - length, policy)
        lab[max(start, 0):min(end, length)] = 1
    return lab


def warn_length_mismatch(vid: str, n_labels: int, n_snippets: int, policy: str, clip_len: int = CLIP_LEN,
                         what: str = "features") -> str | None:
    """Log (and return) a warning when ``n_snippets`` × ``clip_len`` frames of ``what`` differ
    from the ``n_labels`` frames labelled under ``policy``; None when they agree. The caller
    decides how to align; this never truncates anything itself."""
    _check_policy(policy)
    covered = int(n_snippets) * int(clip_len)
    if covered == int(n_labels):
        return None
    msg = (f"video {vid}: {what} hold {n_snippets} snippets × {clip_len} = {covered} frames, but the labels "
           f"(policy {policy}) cover {n_labels} frames ({covered - int(n_labels):+d})")
    log.warning(msg)
    return msg


# -- finding the files -----------------------------------------------------------------------
def feature_length(path: str | Path) -> int:
    """T (first axis) of a ``.npy`` file, from its header only."""
    path = Path(path)
    try:
        shape = np.load(path, mmap_mode="r", allow_pickle=False).shape  # a memory map reads the header only
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable .npy file ({exc})") from None
    if len(shape) < 2 or shape[0] == 0:
        raise DatasetError(f"{path}: expected a [T>0, D] feature array, got shape {list(shape)}")
    return int(shape[0])


def _pick_list(by_name: dict[str, list[Path]], names: tuple[str, ...], pattern: re.Pattern, root: Path) -> Path | None:
    candidates = [n for n in names if n in by_name] + sorted(n for n in by_name if pattern.match(n))
    if not candidates:
        return None
    chosen = by_name[candidates[0]]
    if len(chosen) > 1:
        log.warning("several %s under %s; using %s", candidates[0], root, chosen[0])
    if len(candidates) > 1:
        log.info("XD-Violence lists %s under %s; using %s", ", ".join(candidates), root, chosen[0])
    return chosen[0]


def find_files(root: str | Path, index_videos: bool = True, index_features: bool = False) -> XDFiles:
    """Lists, annotation, videos (``<name>.mp4``) and RGB crop-0 / VGGish files under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} does not exist or is not a folder.\n{LAYOUT_HELP}")
    found = XDFiles(root=root)
    by_name: dict[str, list[Path]] = {}
    crop0: dict[str, list[Path]] = {}
    vggish: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        folder = Path(dirpath).name.lower()
        for fn in sorted(filenames):
            low = fn.lower()
            p = Path(dirpath) / fn
            if low.endswith(".mp4"):
                if index_videos:
                    vid = ann.video_id(fn)
                    if vid in found.videos:
                        raise DatasetError(f"video {vid} appears twice: {found.videos[vid]} and {p}")
                    found.videos[vid] = p
            elif low.endswith((".txt", ".list", ".csv")):
                by_name.setdefault(low, []).append(p)
            elif index_features and low.endswith(".npy") and "flow" not in folder:
                m = _CROP_FILE.match(fn)
                if m and m.group("k") == "0":
                    crop0.setdefault(m.group("vid"), []).append(p)
                m = _VGGISH_FILE.match(fn)
                if m:
                    vggish[m.group("vid")] = p
    found.train_list = _pick_list(by_name, TRAIN_LISTS, TRAIN_LIST_RE, root)
    found.test_list = _pick_list(by_name, TEST_LISTS, TEST_LIST_RE, root)
    for name in ANNOTATIONS:
        if name in by_name:
            found.test_annotation = by_name[name][0]
            break
    for vid, paths in crop0.items():
        if len(paths) > 1:
            rgb = [p for p in paths if p.parent.name.lower() in RGB_FOLDERS]
            if len(rgb) != 1:
                raise DatasetError(f"video {vid}: several crop-0 feature files and none (or several) under an RGB "
                                   f"folder to take T from: {', '.join(map(str, paths))}")
            paths = rgb
        found.features[vid] = paths[0]
    for vid, p in vggish.items():
        found.features.setdefault(vid, p)
    return found


def ground_truth_files(root: str | Path) -> list[Path]:
    """The list and annotation files of a copy (the manifest job's inputs); [] without a root."""
    if not Path(root).is_dir():
        return []
    return sorted(find_files(root, index_videos=False).used())


def _read_list(path: Path) -> list[tuple[str, str | None]]:
    """``[(id, label or None)]`` of a list file of any supported kind."""
    if path.name.lower().endswith(".csv"):
        return [(vid, label) for vid, label in read_vadclip_csv(path)]
    return [(vid, None) for vid in read_feature_list(path)]


def load_entries(
    root: str | Path,
    videos: bool = True,
    train_list: str | Path | None = None,
    test_list: str | Path | None = None,
    annotation: str | Path | None = None,
) -> tuple[list[XDVideoEntry], XDFiles]:
    """Read the XD-Violence lists and annotations into one entry per video.

    ``videos: true``: entries point at ``<name>.mp4`` found anywhere under ``root`` (every
    listed video must be there). ``videos: false``: each entry's ``n_frames_hint`` is 16·T of
    its RGB crop-0 file (else its VGGish file) under ``root``, to be labelled with policy
    ``snippets_x16``; a video without one keeps ``None`` (the manifest marks it ``no_frames``).
    Test entries of violent videos carry ``frame_events`` (1-based inclusive, from
    ``annotations.txt``'s 0-based ``[s, e)``); normal videos carry ``[]``; training videos of
    violent classes carry ``None`` (XD-Violence is weakly labelled there).
    """
    files = find_files(root, index_videos=videos, index_features=not videos)
    files.train_list = Path(train_list) if train_list else files.train_list
    files.test_list = Path(test_list) if test_list else files.test_list
    files.test_annotation = Path(annotation) if annotation else files.test_annotation
    if files.train_list is None and files.test_list is None:
        raise DatasetError(f"no XD-Violence list under {root} (looked for {', '.join(TRAIN_LISTS + TEST_LISTS)}).\n{LAYOUT_HELP}")
    annotated = read_annotations(files.test_annotation) if files.test_annotation else {}

    entries: list[XDVideoEntry] = []
    seen: dict[str, str] = {}
    for split, path in (("train", files.train_list), ("test", files.test_list)):
        if path is None:
            continue
        listed = _read_list(path)
        for i, (vid, label) in enumerate(listed):
            if vid in seen:
                raise DatasetError(f"video {vid} is in both {seen[vid]} and {path}")
            seen[vid] = str(path)
            code, classes = parse_label(vid, str(path))
            if label is not None and label != code:
                raise DatasetError(f"{path}: video {vid} has label {label!r}, but its name says {code!r}")
            e = XDVideoEntry(vid, f"{vid}.mp4", split, classes[0] if classes else NORMAL, bool(classes),
                             classes=classes, label_code=code)
            if not classes:
                e.frame_events = []
                if vid in annotated:
                    log.warning("%s:%d: video %s is normal (_label_A) but annotated; its events are ignored",
                                files.test_annotation, annotated[vid].line, vid)
            elif vid in annotated:
                a = annotated[vid]
                e.raw_events = list(a.events)
                e.frame_events = [(s + 1, end) for s, end in a.events]
                e.event_classes = a.event_classes
                e.annotation_source = f"{files.test_annotation}:{a.line}"
                if split != "test":
                    log.warning("%s:%d: training video %s is annotated; XD-Violence's protocol trains on video labels only",
                                files.test_annotation, a.line, vid)
            entries.append(e)
        _check_order(path, split, entries)
    stray = sorted(set(annotated) - set(seen))
    if stray:
        log.warning("%s: %d annotated videos are in no list (ignored): %s%s", files.test_annotation, len(stray),
                    ", ".join(stray[:5]), " ..." if len(stray) > 5 else "")
    missing = [e for e in entries if e.anomalous and e.split == "test" and e.frame_events is None]
    if missing:
        where = files.test_annotation or f"{root} (no {' / '.join(ANNOTATIONS)})"
        raise DatasetError(f"{len(missing)} violent test videos have no temporal annotation in {where}: "
                           f"{', '.join(e.id for e in missing[:5])}{' ...' if len(missing) > 5 else ''}")
    if videos:
        _attach_videos(entries, files)
    else:
        _frame_hints(entries, files)
    return entries, files


def _check_order(path: Path, split: str, entries: list[XDVideoEntry]) -> None:
    mine = [e for e in entries if e.split == split]
    n_violent = sum(e.anomalous for e in mine)
    if any(not e.anomalous for e in mine[:n_violent]):
        # RTFM / CLIP-TSA / UR-DMU split the training list by position (list[:1905] violent).
        log.warning("%s: violent and normal videos are interleaved; loaders that split the list by position "
                    "(RTFM, CLIP-TSA, UR-DMU) would mislabel them (this adapter reads labels from the names)", path)
    if (len(mine), n_violent) != PUBLISHED[split]:
        log.info("%s: %d %s videos, %d violent (the published list has %d, %d violent)", path, len(mine), split,
                 n_violent, *PUBLISHED[split])


def _attach_videos(entries: list[XDVideoEntry], files: XDFiles) -> None:
    missing = [e for e in entries if e.id not in files.videos]
    if missing:
        raise DatasetError(f"{len(missing)} of {len(entries)} listed videos have no <name>.mp4 under {files.root}: "
                           f"{', '.join(e.id for e in missing[:5])}{' ...' if len(missing) > 5 else ''} "
                           f"(set videos: false to use the published features without videos).\n{LAYOUT_HELP}")
    for e in entries:
        e.relpath = files.videos[e.id].relative_to(files.root).as_posix()


def _frame_hints(entries: list[XDVideoEntry], files: XDFiles) -> None:
    without = []
    for e in entries:
        path = files.features.get(e.id)
        if path is None:
            without.append(e.id)
            continue
        e.n_snippets = feature_length(path)
        e.n_frames_hint = CLIP_LEN * e.n_snippets
    if without:
        log.warning("%d of %d videos have no RGB crop-0 (<name>__0.npy) or <name>__vggish.npy file under %s to take "
                    "their frame count from; first: %s", len(without), len(entries), files.root, without[0])
