"""``kind: avenue``: CUHK Avenue, as published.

    <root>/training_videos/01.avi ... 16.avi         normal training videos
    <root>/testing_videos/01.avi ... 21.avi          test videos
    <root>/.../testing_label_mask/1_label.mat ...    ground truth (ground_truth_demo.zip), found anywhere
                                                     under the root, or under datasets.<name>.ground_truth

``N_label.mat`` holds ``volLabel``, a 1 x n_frames cell of per-frame pixel masks; a frame is
anomalous when its mask has any nonzero pixel. Video ids are ``train_01`` and ``test_01``
(the file stems repeat across the two folders).
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from vadflow.data.benchmarks import BenchmarkFiles, listing, make_test_entry, make_train_entry, mask_events, require_dir
from vadflow.data.ucf_crime import DatasetError, VideoEntry

log = logging.getLogger(__name__)

LAYOUT_HELP = """An avenue dataset is the 'Avenue Dataset' folder of CUHK Avenue:
  <root>/training_videos/01.avi ...   <root>/testing_videos/01.avi ...
  ground truth N_label.mat (volLabel) from ground_truth_demo.zip, anywhere under the root
  or in the folder datasets.<name>.ground_truth points to."""

VIDEO_EXTS = (".avi", ".mp4")


def read_label_mat(path: str | Path) -> np.ndarray:
    """``N_label.mat`` -> per-frame 0/1 flags (any nonzero pixel in the frame's mask)."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 - scipy raises several types for a damaged file
        raise DatasetError(f"{path}: cannot read MATLAB file ({exc})") from None
    if "volLabel" not in mat:
        keys = [k for k in mat if not k.startswith("__")]
        raise DatasetError(f"{path}: no variable volLabel (found {keys}); expected Avenue's testing_label_mask files")
    vol = mat["volLabel"]
    if vol.dtype == object:  # the published cell array, 1 x n (or n x 1)
        return np.array([bool(np.any(np.asarray(m))) for m in vol.reshape(-1)], dtype=np.uint8)
    if vol.ndim == 3:  # a numeric H x W x n volume
        return np.any(vol.reshape(-1, vol.shape[-1]), axis=0).astype(np.uint8)
    raise DatasetError(f"{path}: volLabel has shape {vol.shape} and dtype {vol.dtype}; expected a cell of masks or an HxWxN array")


def _videos(folder: Path) -> dict[int, Path]:
    out: dict[int, Path] = {}
    for p in listing(folder):
        if not (p.is_file() and p.suffix.lower() in VIDEO_EXTS and p.stem.isdigit()):
            raise DatasetError(f"{p}: unexpected entry in {folder} (expected NN.avi videos only).\n{LAYOUT_HELP}")
        out[int(p.stem)] = p
    if not out:
        raise DatasetError(f"{folder}: no NN.avi videos.\n{LAYOUT_HELP}")
    return out


def ground_truth_files(root: Path, cfg: dict) -> list[Path]:
    gt_root = Path(cfg["ground_truth"]) if cfg.get("ground_truth") else root
    return [p for p in gt_root.rglob("*_label.mat") if not any(part.startswith(".") for part in p.relative_to(gt_root).parts)]


def load_entries(root: str | Path, cfg: dict) -> tuple[list[VideoEntry], BenchmarkFiles]:
    root = Path(root)
    require_dir(root, LAYOUT_HELP)
    train = _videos(require_dir(root / "training_videos", LAYOUT_HELP))
    test = _videos(require_dir(root / "testing_videos", LAYOUT_HELP))
    gt_root = Path(cfg["ground_truth"]) if cfg.get("ground_truth") else root
    require_dir(gt_root, LAYOUT_HELP)
    labels: dict[int, Path] = {}
    for p in sorted(gt_root.rglob("*_label.mat")):
        if any(part.startswith(".") for part in p.relative_to(gt_root).parts):
            continue
        m = re.fullmatch(r"(\d+)_label\.mat", p.name)
        if not m:
            raise DatasetError(f"{p}: unexpected ground-truth file name (expected N_label.mat)")
        k = int(m.group(1))
        if k in labels:
            raise DatasetError(f"two ground-truth files for test video {k}: {labels[k]} and {p}")
        if k not in test:
            raise DatasetError(f"{p}: ground truth of test video {k}, but {root / 'testing_videos'} has no {k:02d}.avi")
        labels[k] = p
    missing = sorted(set(test) - set(labels))
    if missing:
        raise DatasetError(f"no ground truth for {test[missing[0]]} ({len(missing)} test videos): expected "
                           f"{missing[0]}_label.mat under {gt_root}.\n{LAYOUT_HELP}")
    files = BenchmarkFiles(root=root, ground_truth=[labels[k] for k in sorted(labels)])
    entries = [make_train_entry(f"train_{p.stem}", p.relative_to(root).as_posix()) for _, p in sorted(train.items())]
    for k, p in sorted(test.items()):
        flags = read_label_mat(labels[k])
        entries.append(make_test_entry(f"test_{p.stem}", p.relative_to(root).as_posix(), mask_events(flags), labels[k].name, len(flags)))
    log.info("avenue %s: %d train, %d test videos", root, len(train), len(test))
    return entries, files
