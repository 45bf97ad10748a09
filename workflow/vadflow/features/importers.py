"""Import public pre-extracted feature sets (``source: import``, docs/datasets.md §3).

An imported extractor writes the same ``results/{dataset}/features/{extractor}.h5`` as
extraction, one float array per manifest video, with honest attrs: the store's
``VIDEO_ATTRS`` (``weights`` says ``imported:<format>``, never a checkpoint we did not run),
plus ``source_format``, ``source_file``, ``source_sha256``, ``crop_reduce`` and ``tail``.

Formats (``format`` key):

* ``sultani_txt``: Sultani's C3D ``<Video>_x264.txt`` / ``<Video>_x264_C.txt`` (ekosman's
  ``<Class>/<Video>.txt`` too): 32 rows of space-separated floats, already L2-normalised
  segment means. Kept as layout ``segments32`` (MIL only); rows map to frames through the
  segment boundaries of ``n_clips(n_frames, 16, 16)`` C3D clips (methods/segments32.py).
* ``rtfm_npy``: RTFM / MGFN / CLIP-TSA ``<Video>_x264_i3d.npy``, ``[T, 10, D]`` (ResNet50-I3D,
  D = 2048): ``crops: mean`` averages the crop axis, ``crops: k`` keeps crop k. A crop-first
  ``[10, T, D]`` file under this name is refused (it is UR-DMU's, below).
* ``urdmu_npy``: UR-DMU's combined ``<Video>_i3d.npy`` before splitting, ``[10, T, 1024]``,
  crop axis first (Inception-I3D): the same crop handling over axis 0.
* ``crop_npy``: DeepMIL / UR-DMU ``<Video>_x264__<k>.npy``, one ``[T, D]`` file per crop k
  (Inception-I3D, D = 1024): the mean over the crop files found, or crop k alone.
* ``xd_i3d``: XD-Violence (XDVioDet) ``RGB/<name>__<k>.npy`` (and ``RGBTest/``), five ``[T, 1024]``
  crop files (``_0`` centre, ``_1``-``_4`` corners). Only files below a folder named ``RGB`` or
  ``RGBTest`` are read when the tree has one, so ``path`` may be the ``i3d-features`` folder
  that also holds ``Flow/`` files of the same names.
* ``xd_flow``: ``Flow/<name>__<k>.npy`` (and ``FlowTest/``), five crops, T or T-1 rows (the
  XDVioDet loader trims RGB by one snippet when flow is shorter).
* ``xd_vggish``: ``<name>__vggish.npy``, one ``[T, 128]`` VGGish file per video, no crops; T or T-1.
* ``vadclip``: VadCLIP's CLIP ViT-B/16 ``<Class>/<Video>__<k>.npy`` (UCF-Crime) or
  ``<name>__<k>.npy`` (XD-Violence), ten ``[T, 512]`` crop files; its lists are
  ``path,label`` CSVs (read by :func:`vadflow.data.xd_violence.read_vadclip_csv`).
* ``cliptsa``: CLIP-TSA's ``<Video>.npy``, one ``[T, 512]`` (or ``[T, 1, 512]``) file, no crops.

The format names the layout, not the dimension: any D imports (the I3D and VGGish formats
log a D other than the published one; the CLIP formats accept any), and a crop-file format
reads whatever crop files exist. XD-Violence features cover ⌊(n−1)/16⌋ snippets of an
n-frame video (tail ``xd_official``, see :mod:`vadflow.data.xd_violence`); 16·T frames from
a ``videos: false`` manifest give tail ``drop``. :func:`load_video_crops` returns every crop,
``[C, T, D]``, which ``crops: all`` stores once per video (attr ``n_crops``; the readers give their
mean or every crop, and jobs/crops.py hands them to the methods).

Values are stored as float32 unless the extractor's ``dtype`` says float16 (``dtype: auto``,
the default, resolves to float32 for imports in ``vadflow.config.storage_dtype``): the readers
return float32, which holds every format exactly (Sultani's 6-decimal text included), while
float16 would move Sultani's values by up to 6e-5 (measured on the fixture files).

Files are found by basename anywhere under ``path`` (public lists carry other machines'
paths). Frame counts come from the manifest (a probe, or the ``*_with_frames`` annotation
when the dataset has ``videos: false``); T is checked against them (rule 3). A malformed
file is an error naming it; the output is written atomically, so a failed import leaves no
feature file behind.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vadflow.stores.features import FeatureStoreError

log = logging.getLogger(__name__)

#: relative tolerance on the unit norm of Sultani rows (they are written with %f, 6 decimals).
NORM_TOL = 1e-3
#: the crop orders public producers use (docs/datasets.md §3, rule 1); logged with ``crops: k``.
CROP_ORDER_NOTE = (
    "crop order is not standard: Roc-Ng/DeepMIL documents _0 centre, _1-_4 corners, _5-_9 mirrors; "
    "UR-DMU's extractor writes top-left, top-right, centre, bottom-left, bottom-right, then the flips"
)


class FeatureImportError(FeatureStoreError):
    """A public feature file is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class Format:
    name: str
    layout: str  # "clips" | "segments32"
    patterns: tuple[str, ...]  # basenames, "{vid}" = manifest id, "{k}" = crop index
    crops: str  # "none" | "axis" (one file [T, C, D]) | "axis0" (one file [C, T, D]) | "files" (one [T, D] file per crop)
    #           | "single" (one [T, D] npy file, no crops)
    backbone: str
    dim: int  # the published dimension (a different one is imported with a warning); 0: any, no warning
    producer: str
    clip_len: int = 16
    stride: int = 16
    n_crops: int = 10  # crops the producer published (fewer files: logged as partial)
    folders: tuple[str, ...] = ()  # read only files below folders of these names (case-insensitive), when any exist
    tail: str = "clips"  # accepted T: "clips" (drop/pad), "xd" (also ⌊(n−1)/16⌋), "xd_short" (also one fewer)


FORMATS: dict[str, Format] = {
    "sultani_txt": Format(
        "sultani_txt", "segments32", ("{vid}.txt", "{vid}_C.txt"), "none", "c3d", 4096,
        "WaqasSultani/AnomalyDetectionCVPR2018: C3D fc6 (Sports-1M), 32 L2-normalised segment means of 16/16 clips"),
    "rtfm_npy": Format(
        "rtfm_npy", "clips", ("{vid}_i3d.npy",), "axis", "resnet50-i3d", 2048,
        "tianyu0207/RTFM (also MGFN, CLIP-TSA): ten-crop ResNet50-I3D, 16/16 clips"),
    "urdmu_npy": Format(
        "urdmu_npy", "clips", ("{vid}_i3d.npy",), "axis0", "inception-i3d", 1024,
        "henrryzh1/UR-DMU i3d_extract.py before splitting: Inception-I3D, [10, T, 1024] crop axis first, 16/16 clips"),
    "crop_npy": Format(
        "crop_npy", "clips", ("{vid}__{k}.npy",), "files", "inception-i3d", 1024,
        "Roc-Ng/DeepMIL, henrryzh1/UR-DMU: Inception-I3D, one file per crop, 16/16 clips"),
    "xd_i3d": Format(
        "xd_i3d", "clips", ("{vid}__{k}.npy",), "files", "inception-i3d", 1024,
        "Roc-Ng/XDVioDet (XD-Violence): Inception-I3D RGB, 5 crops (_0 centre, _1-_4 corners), 16-frame snippets",
        n_crops=5, folders=("RGB", "RGBTest"), tail="xd"),
    "xd_flow": Format(
        "xd_flow", "clips", ("{vid}__{k}.npy",), "files", "inception-i3d-flow", 1024,
        "Roc-Ng/XDVioDet (XD-Violence): Inception-I3D optical flow, 5 crops, 16-frame snippets (T or T-1)",
        n_crops=5, folders=("Flow", "FlowTest"), tail="xd_short"),
    "xd_vggish": Format(
        "xd_vggish", "clips", ("{vid}__vggish.npy",), "single", "vggish", 128,
        "Roc-Ng/XDVioDet (XD-Violence): VGGish audio, one vector per 16-frame snippet (T or T-1)",
        n_crops=1, tail="xd_short"),
    "vadclip": Format(
        "vadclip", "clips", ("{vid}__{k}.npy",), "files", "clip-vit-b16", 0,
        "nwpu-zxr/VadCLIP: CLIP ViT-B/16 image features, 10 crops, 16-frame snippets", tail="xd"),
    "cliptsa": Format(
        "cliptsa", "clips", ("{vid}.npy",), "single", "clip-vit-b16", 0,
        "joos2010kj/CLIP-TSA: CLIP ViT-B/16 image features, one crop, 16-frame snippets", n_crops=1, tail="xd"),
}
#: crop files probed for the crop-file formats.
MAX_CROPS = 10
#: the ``crops`` value that keeps every crop (:func:`load_video_crops`).
CROPS_ALL = "all"
#: extractor keys that say where the files are or how to treat absent ones, not what the values are.
NON_VALUE_KEYS = ("path", "missing")


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise FeatureImportError(f"unknown import format {name!r} (known: {', '.join(FORMATS)})") from None


def layout_of(cfg: dict[str, Any]) -> str:
    """The layout an extractor config produces (extraction always gives ``clips``)."""
    if cfg.get("source", "extract") != "import":
        return "clips"
    return get_format(cfg["format"]).layout


def check_config(cfg: dict[str, Any], where: str) -> None:
    """Raise naming ``where`` (a config key path) when import keys are inconsistent."""
    fmt = FORMATS.get(cfg.get("format", ""))
    if fmt is None:
        raise FeatureImportError(f"{where}.format = {cfg.get('format')!r}: source: import needs one of {', '.join(FORMATS)}")
    if not cfg.get("path"):
        raise FeatureImportError(f"{where}.path is required with source: import (the folder holding the {fmt.name} files)")
    crops = cfg.get("crops", "mean")
    if fmt.crops in ("none", "single") and "crops" in cfg:
        raise FeatureImportError(f"{where}.crops: format {fmt.name} has no crops; remove the key")
    if crops not in ("mean", CROPS_ALL) and not _crop_index(crops):
        raise FeatureImportError(f"{where}.crops = {crops!r}: expected 'mean', 'all' or a crop index 0-{MAX_CROPS - 1}")
    score_crop = cfg.get("score_crop", "mean")
    if score_crop != "mean" and crops != CROPS_ALL:
        raise FeatureImportError(f"{where}.score_crop = {score_crop!r}: a scoring crop applies to crops: all only "
                                 f"(crops is {crops!r}); remove the key or set crops: all")
    if score_crop != "mean" and not _crop_index(score_crop):
        raise FeatureImportError(f"{where}.score_crop = {score_crop!r}: expected 'mean' or a crop index 0-{MAX_CROPS - 1}")


def _crop_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_CROPS


# -- readers -------------------------------------------------------------------------------
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_sultani_txt(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Sultani / ekosman segment text -> ``[32, D]`` float32; errors name ``name``."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise FeatureImportError(f"{name}: not a text feature file (non-ASCII bytes)") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) != 32:
        raise FeatureImportError(f"{name}: expected 32 segment rows, found {len(lines)}")
    try:
        rows = [np.array(ln.split(), dtype=np.float64) for ln in lines]
    except ValueError as exc:
        raise FeatureImportError(f"{name}: a row holds a non-number ({exc})") from None
    dims = sorted({len(r) for r in rows})
    if len(dims) != 1 or dims[0] == 0:
        raise FeatureImportError(f"{name}: rows have different lengths {dims}; the file is truncated or malformed")
    x = np.stack(rows)
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if len(bad):
        # ekosman's to_segments divides an all-zero segment by its zero norm.
        raise FeatureImportError(f"{name}: segment rows {bad.tolist()} hold NaN or inf (an all-zero segment normalised?)")
    return x.astype(np.float32)


def read_sultani_txt(path: str | Path) -> np.ndarray:
    """One Sultani ``.txt`` file -> ``[32, D]`` float32."""
    path = Path(path)
    return parse_sultani_txt(_read(path), str(path))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FeatureImportError(f"{path}: cannot read feature file ({exc.strerror or exc})") from None


def _load_npy(data: bytes, name: str) -> np.ndarray:
    try:
        x = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FeatureImportError(f"{name}: not a readable .npy array ({exc})") from None
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu":
        raise FeatureImportError(f"{name}: expected a numeric array, got dtype {getattr(x, 'dtype', type(x))}")
    return x


def _finite(x: np.ndarray, name: str) -> np.ndarray:
    if not np.isfinite(x).all():
        raise FeatureImportError(f"{name}: holds NaN or inf values")
    return x


def reduce_ten_crop(x: np.ndarray, crops: str | int, name: str = "<array>", crop_axis: int = 1) -> np.ndarray:
    """``[T, C, D]`` (or ``[C, T, D]`` with ``crop_axis=0``) -> ``[T, D]``: mean over the crop
    axis, or crop ``crops``."""
    want = "[T>0, crops, D] (RTFM ten-crop)" if crop_axis == 1 else "[crops, T>0, D] (UR-DMU combined)"
    if x.ndim != 3 or x.shape[1 - crop_axis] == 0:
        raise FeatureImportError(f"{name}: expected {want}, got shape {list(x.shape)}")
    if crop_axis == 1 and x.shape[0] == 10 and x.shape[1] != 10:
        # The same file name as UR-DMU's crop-first file: averaging the wrong axis would import
        # garbage with no error, so refuse instead of guessing.
        raise FeatureImportError(f"{name}: shape {list(x.shape)} looks crop-first [10, T, D] (UR-DMU's combined "
                                 "<Video>_i3d.npy); use format: urdmu_npy")
    x = np.moveaxis(x, crop_axis, 1)
    if crops == "mean":
        out = x.astype(np.float64).mean(axis=1)
    else:
        if not 0 <= int(crops) < x.shape[1]:
            raise FeatureImportError(f"{name}: crop {crops} requested, the file has {x.shape[1]} crops")
        out = x[:, int(crops), :]
    return _finite(np.asarray(out, dtype=np.float32), name)


def read_ten_crop(path: str | Path, crops: str | int = "mean") -> np.ndarray:
    path = Path(path)
    return reduce_ten_crop(_load_npy(_read(path), str(path)), crops, str(path))


def reduce_per_crop(arrays: dict[int, np.ndarray], crops: str | int, names: dict[int, str] | None = None) -> np.ndarray:
    """``{k: [T, D]}`` -> ``[T, D]``: mean over the crops given, or crop ``crops``."""
    names = names or {k: f"crop {k}" for k in arrays}
    for k, x in arrays.items():
        if x.ndim != 2 or x.shape[0] == 0:
            raise FeatureImportError(f"{names[k]}: expected [T>0, D] (one crop), got shape {list(x.shape)}")
    if crops != "mean":
        k = int(crops)
        if k not in arrays:
            raise FeatureImportError(f"crop {k} requested but not found (have crops {sorted(arrays)})")
        return _finite(arrays[k].astype(np.float32), names[k])
    shapes = {k: x.shape for k, x in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise FeatureImportError("crop files disagree in shape: " + ", ".join(f"{names[k]} {list(s)}" for k, s in sorted(shapes.items())))
    out = np.mean(np.stack([arrays[k].astype(np.float64) for k in sorted(arrays)]), axis=0).astype(np.float32)
    return _finite(out, ", ".join(names[k] for k in sorted(arrays)))


def read_per_crop(paths: dict[int, str | Path], crops: str | int = "mean") -> np.ndarray:
    paths = {k: Path(p) for k, p in paths.items()}
    arrays = {k: _load_npy(_read(p), str(p)) for k, p in paths.items()}
    return reduce_per_crop(arrays, crops, {k: str(p) for k, p in paths.items()})


def single_crop(x: np.ndarray, name: str = "<array>") -> np.ndarray:
    """A no-crop file -> ``[T, D]`` float32; ``[T, 1, D]`` (CLIP-TSA's loader reshapes to it) is
    accepted, anything else with a crop axis is refused rather than averaged."""
    if x.ndim == 3 and x.shape[1] == 1:
        x = x[:, 0, :]
    if x.ndim != 2 or x.shape[0] == 0:
        raise FeatureImportError(f"{name}: expected [T>0, D] (one vector per snippet, no crops), got shape {list(x.shape)}")
    return _finite(x.astype(np.float32), name)


def stack_crops(arrays: dict[int, np.ndarray], names: dict[int, str] | None = None) -> np.ndarray:
    """``{k: [T, D]}`` for crops ``0..C-1`` -> ``[C, T, D]`` float32, in crop order.

    A gap (crops 0, 1, 3) is an error naming the missing crop: stacking the others would
    shift every later crop's index."""
    names = names or {k: f"crop {k}" for k in arrays}
    if not arrays:
        raise FeatureImportError("no crop files to stack")
    gaps = sorted(set(range(max(arrays) + 1)) - set(arrays))
    if gaps:
        raise FeatureImportError(f"crops {gaps} are missing beside {', '.join(names[k] for k in sorted(arrays))}; "
                                 "all crops must be numbered 0..C-1")
    for k, x in arrays.items():
        if x.ndim != 2 or x.shape[0] == 0:
            raise FeatureImportError(f"{names[k]}: expected [T>0, D] (one crop), got shape {list(x.shape)}")
    shapes = {k: x.shape for k, x in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise FeatureImportError("crop files disagree in shape: " + ", ".join(f"{names[k]} {list(s)}" for k, s in sorted(shapes.items())))
    out = np.stack([arrays[k].astype(np.float32) for k in sorted(arrays)])
    return _finite(out, ", ".join(names[k] for k in sorted(arrays)))


def read_all_crops(paths: dict[int, str | Path]) -> np.ndarray:
    """One ``[T, D]`` file per crop -> ``[C, T, D]``."""
    paths = {k: Path(p) for k, p in paths.items()}
    return stack_crops({k: _load_npy(_read(p), str(p)) for k, p in paths.items()}, {k: str(p) for k, p in paths.items()})


# -- finding files -------------------------------------------------------------------------
def _name_pattern(patterns: tuple[str, ...]) -> re.Pattern | None:
    """One regex matching the basenames ``patterns`` ({vid}, {k}) can produce."""
    if not patterns:
        return None
    alts = [re.escape(p).replace(r"\{vid\}", ".+").replace(r"\{k\}", r"\d+") for p in patterns]
    return re.compile("^(?:" + "|".join(alts) + ")$")


def index_files(root: str | Path, folders: tuple[str, ...] = (), patterns: tuple[str, ...] = ()) -> dict[str, Path]:
    """Basename -> path of every file under ``root`` (a name found twice is an error).

    ``folders``: when ``root`` is, or holds, a folder of one of these names (case-insensitive),
    only files below such folders count: XD-Violence's ``RGB/`` and ``Flow/`` hold files of the
    same names, and ``root`` may be their parent. ``patterns`` (a format's): only names they
    can produce count, so other formats' files beside them (VGGish beside crop files) never
    collide."""
    root = Path(root)
    if not root.is_dir():
        raise FeatureImportError(f"import path {root} does not exist or is not a folder (features.<name>.path)")
    wanted = {f.lower() for f in folders}
    match = _name_pattern(patterns)
    files: list[tuple[Path, bool]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        parts = {part.lower() for part in Path(dirpath).relative_to(root.parent).parts}
        files += [(Path(dirpath) / fn, bool(parts & wanted)) for fn in sorted(filenames) if match is None or match.match(fn)]
    if any(inside for _, inside in files):
        skipped = sum(not inside for _, inside in files)
        if skipped:
            log.info("%s: reading files below folders named %s only (%d other files ignored)", root, "/".join(folders), skipped)
        files = [f for f in files if f[1]]
    out: dict[str, Path] = {}
    for p, _ in files:
        if p.name in out:
            raise FeatureImportError(f"feature file name {p.name} appears twice under {root}: {out[p.name]} and {p}")
        out[p.name] = p
    return out


def files_of(fmt: Format, vid: str, index: dict[str, Path], crops: str | int = "mean") -> dict[int, Path]:
    """The source file(s) of one video, keyed by crop (0 for single-file formats); {} if none."""
    if fmt.crops == "files":
        ks = range(MAX_CROPS) if crops in ("mean", CROPS_ALL) else [int(crops)]
        names = {k: fmt.patterns[0].format(vid=vid, k=k) for k in ks}
        return {k: index[n] for k, n in names.items() if n in index}
    for pattern in fmt.patterns:
        name = pattern.format(vid=vid)
        if name in index:
            return {0: index[name]}
    return {}


def load_video(fmt: Format, files: dict[int, Path], crops: str | int = "mean") -> tuple[np.ndarray, str]:
    """Features of one video and the sha256 of its source bytes (several files: of their digests)."""
    blobs = {k: _read(p) for k, p in sorted(files.items())}
    digests = {k: _sha256(b) for k, b in blobs.items()}
    if fmt.crops == "files":
        arrays = {k: _load_npy(b, str(files[k])) for k, b in blobs.items()}
        x = reduce_per_crop(arrays, crops, {k: str(p) for k, p in files.items()})
        sha = digests[next(iter(digests))] if len(digests) == 1 else _sha256("".join(digests[k] for k in sorted(digests)).encode())
        return x, sha
    (k, data), = blobs.items()
    name = str(files[k])
    if fmt.crops in ("axis", "axis0"):
        x = reduce_ten_crop(_load_npy(data, name), crops, name, crop_axis=1 if fmt.crops == "axis" else 0)
    elif fmt.crops == "single":
        x = single_crop(_load_npy(data, name), name)
    else:
        x = parse_sultani_txt(data, name)
    return x, digests[k]


def load_video_crops(fmt: Format, files: dict[int, Path]) -> tuple[np.ndarray, str]:
    """Every crop of one video, ``[C, T, D]`` float32 (``crops: all``), and the sha256 of its
    source bytes as :func:`load_video` gives it. A no-crop format gives ``C = 1``."""
    if fmt.layout != "clips":
        raise FeatureImportError(f"format {fmt.name} has layout {fmt.layout}: it has no crops to keep")
    blobs = {k: _read(p) for k, p in sorted(files.items())}
    digests = {k: _sha256(b) for k, b in blobs.items()}
    if fmt.crops == "files":
        arrays = {k: _load_npy(b, str(files[k])) for k, b in blobs.items()}
        x = stack_crops(arrays, {k: str(p) for k, p in files.items()})
        sha = digests[next(iter(digests))] if len(digests) == 1 else _sha256("".join(digests[k] for k in sorted(digests)).encode())
        return x, sha
    (k, data), = blobs.items()
    name = str(files[k])
    x = _load_npy(data, name)
    if fmt.crops == "single":
        return single_crop(x, name)[None], digests[k]
    # check the layout the way the reducing reader does (crop-first files under rtfm_npy are refused)
    reduce_ten_crop(x, 0, name, crop_axis=1 if fmt.crops == "axis" else 0)
    x = np.moveaxis(x, 1, 0) if fmt.crops == "axis" else x
    return _finite(np.ascontiguousarray(x, dtype=np.float32), name), digests[k]


def clip_counts(n_frames: int, clip_len: int, stride: int) -> tuple[int, int]:
    """Clips of a video with complete clips only (``drop``) and with a padded last clip (``pad``)."""
    drop = 0 if n_frames < clip_len else (n_frames - clip_len) // stride + 1
    pad = 1 if n_frames <= clip_len else math.ceil((n_frames - clip_len) / stride) + 1
    return drop, pad


def tail_of(vid: str, n_clips: int, n_frames: int, clip_len: int, stride: int, name: str) -> str:
    """Rule 3: T = floor -> ``drop``, T = ceil -> ``pad``; else warn and map by stride anyway."""
    drop, pad = clip_counts(n_frames, clip_len, stride)
    if n_clips == drop:
        return "drop"
    if n_clips == pad:
        return "pad"
    log.warning("video %s: %s holds %d clips, but %d frames give %d (complete clips) or %d (padded); "
                "mapped by stride %d anyway", vid, name, n_clips, n_frames, drop, pad, stride)
    return "mismatch"


def tail_for(fmt: Format, vid: str, n_clips: int, n_frames: int, clip_len: int, stride: int, name: str) -> str:
    """:func:`tail_of` plus the T the XD-Violence formats publish.

    ``xd_official``: T = ⌊(n−1)/clip_len⌋ (XDVioDet extracts from n−1 frames so RGB aligns
    with flow); ``xd_short``: one snippet fewer than that or than ⌊n/clip_len⌋ (flow, and
    audio, which its loader aligns by trimming RGB). Anything else warns as in :func:`tail_of`.
    """
    drop, pad = clip_counts(n_frames, clip_len, stride)
    if fmt.tail != "clips" and stride == clip_len:
        if n_clips == drop:
            return "drop"
        official = max(n_frames - 1, 0) // clip_len
        if n_clips == official:
            return "xd_official"
        if fmt.tail == "xd_short" and n_clips > 0 and n_clips in (official - 1, drop - 1):
            return "xd_short"
    return tail_of(vid, n_clips, n_frames, clip_len, stride, name)


# -- the job -------------------------------------------------------------------------------

def import_features(manifest: str | Path, cfg: dict[str, Any], out: str | Path, progress: bool = True,
                    labels: str | Path | None = None) -> dict[str, Any]:
    """Write ``out`` from the public feature files of every ``ok`` manifest video.

    ``labels`` (the dataset's labels.h5): its label policy; under XD-Violence's, a video whose
    16·T frames differ from the frames its labels cover is warned about, naming both.

    ``cfg`` is the resolved extractor section (``vadflow.config.extractor_params``). A video
    without a source file is an error listing the expected names, unless ``missing: skip``
    (then it is recorded in the file's ``failed`` attr and consumers skip it with a warning).
    """
    from tqdm import tqdm

    from vadflow.io import as_json, extractor_hash
    from vadflow.data.manifest import ALL_FRAMES, read_label_attrs, read_manifest
    from vadflow.data.xd_violence import POLICIES, warn_length_mismatch
    from vadflow.features.writer import FeatureWriter

    name = cfg.get("name", "imported")
    check_config(cfg, f"features.{name}")
    fmt = get_format(cfg["format"])
    crops = cfg.get("crops", "mean") if fmt.crops not in ("none", "single") else None
    sel = "mean" if crops is None else crops  # never `crops or ...`: crop 0 is falsy
    keep_all = sel == CROPS_ALL  # every crop stored once, [C, T, D] (stores/features.py reads mean or crops)
    clip_len = int(cfg.get("clip_len") or fmt.clip_len)
    stride = int(cfg.get("stride") or fmt.stride)
    # float32 unless asked otherwise: the readers return float32 and every format's values fit it
    # exactly; float16 would put Sultani's unit-norm text rows up to ~6e-5 off (config dtype)
    dtype = cfg.get("dtype", "float32")
    table = read_manifest(manifest)
    rows = table[table["status"] == "ok"]
    index = index_files(cfg["path"], fmt.folders, fmt.patterns)
    sources = {r.id: files_of(fmt, r.id, index, sel) for r in rows.itertuples()}
    missing = [vid for vid, f in sources.items() if not f]
    want = ", ".join(fmt.patterns)
    if missing and cfg.get("missing", "error") != "skip":
        example = fmt.patterns[0].format(vid=missing[0], k=0 if sel == "mean" else sel)
        raise FeatureImportError(
            f"{len(missing)} of {len(rows)} manifest videos have no {fmt.name} file under {cfg['path']} "
            f"(expected names {want}; first missing: {example}; others: {', '.join(missing[1:6])}"
            f"{' ...' if len(missing) > 6 else ''}). Point features.{name}.path at the folder, or set "
            f"missing: skip to import the videos present"
        )
    found = [r for r in rows.itertuples() if sources[r.id]]
    if not found:
        raise FeatureImportError(f"no {fmt.name} file ({want}) under {cfg['path']} matches any of the {len(rows)} manifest videos")
    if sel not in ("mean", CROPS_ALL):
        log.warning("%s: keeping crop %s only; %s", name, crops, CROP_ORDER_NOTE)
    crop_reduce = "none" if crops is None else (str(crops) if crops in ("mean", CROPS_ALL) else f"crop:{crops}")
    score_crop = cfg.get("score_crop", "mean")
    if keep_all and score_crop != "mean":
        log.warning("%s: methods train on every crop and score crop %s only (score_crop); %s", name, score_crop, CROP_ORDER_NOTE)

    def load(files: dict[int, Path]) -> tuple[np.ndarray, str]:
        return load_video_crops(fmt, files) if keep_all else load_video(fmt, files, sel)
    chash = extractor_hash({k: v for k, v in cfg.items() if k not in NON_VALUE_KEYS})
    weights = f"imported:{fmt.name}"

    first, _ = load(sources[found[0].id])
    dim = int(first.shape[-1])
    if fmt.dim and dim != fmt.dim:
        log.warning("%s: %d-d features, %s files are usually %d-d", name, dim, fmt.name, fmt.dim)
    file_attrs = {"extractor": name, "backbone": fmt.backbone, "config_hash": chash, "weights": weights,
                  "config": as_json(cfg), "layout": fmt.layout, "dim": dim, "source": "import",
                  "source_format": fmt.name, "source_path": str(cfg["path"]), "producer": fmt.producer,
                  "crop_reduce": crop_reduce, **({"score_crop": str(score_crop)} if keep_all else {})}
    stats: dict[str, Any] = {"videos": 0, "missing": len(missing), "tail": {}, "length_mismatch": 0}
    label_policy = read_label_attrs(labels)["label_policy"] if labels else ALL_FRAMES
    log.info("importing %s (%s, layout %s, crops %s) from %s: %d of %d manifest videos have files",
             name, fmt.name, fmt.layout, crop_reduce, cfg["path"], len(found), len(rows))
    with FeatureWriter(out, file_attrs) as writer:
        for vid in missing:
            writer.fail(vid, f"no {fmt.name} file ({want}) under {cfg['path']}")
        if missing:
            log.warning("%d videos have no %s file and are skipped (missing: skip): %s%s", len(missing), fmt.name,
                        ", ".join(missing[:5]), " ..." if len(missing) > 5 else "")
        for r in tqdm(found, desc=f"import {name}", unit="video", disable=not progress):
            files = sources[r.id]
            x, sha = load(files)
            src = ";".join(str(files[k]) for k in sorted(files))
            if x.shape[-1] != dim:
                raise FeatureImportError(f"{src}: {x.shape[-1]}-d features, the first video ({found[0].id}) has {dim}")
            n_rows = x.shape[1] if keep_all else len(x)
            n_frames = int(r.frames)
            attrs = {"extractor": name, "backbone": fmt.backbone, "clip_len": clip_len, "stride": stride,
                     "fps": float(r.fps) or 30.0, "n_frames": n_frames, "config_hash": chash, "weights": weights,
                     "layout": fmt.layout, "source_format": fmt.name, "source_file": src, "source_sha256": sha,
                     "crop_reduce": crop_reduce}
            if keep_all:
                attrs["n_crops"] = int(x.shape[0])
            if fmt.crops == "files":
                attrs["crops_used"] = json.dumps(sorted(files))
                if sel in ("mean", CROPS_ALL) and len(files) < fmt.n_crops:
                    stats["partial_crops"] = stats.get("partial_crops", 0) + 1
            if fmt.layout == "segments32":
                norms = np.linalg.norm(x.astype(np.float64), axis=1)
                off = np.flatnonzero((np.abs(norms - 1) > NORM_TOL) & (norms > 0))
                if len(off):
                    log.warning("video %s: %s rows %s are not unit-norm (norms %s)", r.id, src, off[:5].tolist(),
                                np.round(norms[off[:5]], 4).tolist())
            else:
                attrs["tail"] = tail_for(fmt, r.id, n_rows, n_frames, clip_len, stride, src)
                stats["tail"][attrs["tail"]] = stats["tail"].get(attrs["tail"], 0) + 1
                if label_policy in POLICIES:
                    # XD's GT covers 16·T frames: snippets covering other frames are named, never trimmed
                    stats["length_mismatch"] += warn_length_mismatch(r.id, int(r.label_frames), n_rows, label_policy,
                                                                     clip_len, src) is not None
            writer.add(r.id, x, attrs, dtype=dtype)
            stats["videos"] += 1
    if stats["length_mismatch"]:
        log.warning("%d videos: %s's snippets cover other frames than their labels (label policy %s); each is named above",
                    stats["length_mismatch"], name, label_policy)
    if stats.get("partial_crops"):
        log.warning("%d videos have fewer than %d crop files; their features are the mean of the crops found "
                    "(attr crops_used)", stats["partial_crops"], fmt.n_crops)
    log.info("import %s done: %s", name, stats)
    return stats
