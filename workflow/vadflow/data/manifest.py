"""The data stage: one manifest row per video, and frame labels in ``labels.h5``."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from tqdm import tqdm

from vadflow.data import annotations as ann
from vadflow.data import xd_violence as xd
from vadflow.data.benchmarks import DEFAULT_FPS as BENCHMARK_FPS
from vadflow.data.benchmarks import KINDS as BENCHMARK_KINDS
from vadflow.data.benchmarks import load_entries as load_benchmark
from vadflow.data.ucf_crime import DatasetError, VideoEntry, load_entries
from vadflow.io import atomic_path, h5_in_memory
from vadflow.frame_folders import DecodeError

log = logging.getLogger(__name__)

COLUMNS = ["id", "path", "split", "cls", "anomalous", "frames", "fps", "width", "height", "status", "error",
           "classes", "label_frames"]
#: columns a manifest written before they existed lacks, and how to fill them: every class of a
#: video (``|``-joined, xd_violence.join_classes; one class elsewhere) and the frames its labels
#: cover (XD-Violence's GT rule covers fewer than the decoded frames; everywhere else all of them).
DERIVED = {"classes": "cls", "label_frames": "frames"}
#: labels.h5 attr naming the rule that gave the labels' length (docs/datasets_xd_violence.md §4).
LABEL_POLICY_ATTR = "label_policy"
#: the policy of datasets whose labels cover every frame of the manifest's ``frames``.
ALL_FRAMES = "all_frames"
#: default frame rate of XD-Violence with ``videos: false`` (unconfirmed; only false alarms per hour use it).
XD_FPS = 24.0


@dataclass(frozen=True)
class VideoInfo:
    """What the manifest records of one video: a probe's facts (any object with these fields,
    such as :class:`vadflow.video.decoder.VideoInfo`), or the annotation files' frame count."""

    n_frames: int
    fps: float
    width: int
    height: int
    backend: str


def _probe_all(root: Path, entries: list[VideoEntry], strict: bool, progress: bool, probe: Callable[[Path], Any],
               errors: tuple[type[BaseException], ...]) -> list[VideoInfo | Exception]:
    def one(e: VideoEntry) -> VideoInfo | Exception:
        try:
            return probe(root / e.relpath)
        except errors as exc:
            return exc

    # Probing is I/O and C-library bound (decord/FFmpeg release the GIL), so threads overlap it.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(tqdm(pool.map(one, entries), total=len(entries), desc="probe videos", unit="video", disable=not progress))
    if strict:
        bad = [(e, r) for e, r in zip(entries, results) if isinstance(r, Exception)]
        if bad:
            raise DecodeError(f"strict: {len(bad)} videos cannot be decoded; first: {bad[0][1]}")
    return results


class NoFrameCount(DatasetError):
    """``videos: false`` and no annotation file gives this video's frame count."""


def _annotated_infos(entries: list[VideoEntry], fps: float, strict: bool) -> list[VideoInfo | Exception]:
    """Video facts without a video (``videos: false``): frame counts from the annotation files.

    UCF-Crime's frame counts are in ``*_Annotation_with_frames.txt`` (or the ``Class/Video N ...``
    form of the test annotation); fps is the dataset's ``fps`` (30 for UCF-Crime, docs/datasets.md
    §1.3); width and height are unknown (0).
    """
    out: list[VideoInfo | Exception] = []
    for e in entries:
        if e.n_frames_hint:
            out.append(VideoInfo(int(e.n_frames_hint), fps, 0, 0, "annotation"))
        else:
            out.append(NoFrameCount(f"video {e.id}: videos: false, and no *_Annotation_with_frames.txt line gives its frame count"))
    bad = [r for r in out if isinstance(r, Exception)]
    if bad:
        log.warning("%d of %d videos have no frame count (status no_frames, skipped); first: %s", len(bad), len(out), bad[0])
        if strict:
            raise DatasetError(f"strict: {len(bad)} videos have no frame count; first: {bad[0]}")
    return out


def build_manifest(dataset_cfg: dict, probe: Callable[[Path], Any] | None = None,
                   probe_errors: tuple[type[BaseException], ...] = (DecodeError,),
                   progress: bool = True) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict]:
    """Read the dataset, probe every video, build frame labels.

    ``probe(path)`` returns a video's facts (``n_frames``, ``fps``, ``width``, ``height``,
    ``backend``) or raises one of ``probe_errors``; the manifest job passes the decoder's
    (:func:`vadflow.video.decoder.probe`): the dataset adapters never decode.

    Returns the manifest table, ``{video_id: uint8 labels}`` for every video with temporal
    annotations (normal videos: all zeros), and a dict of facts for the log. With
    ``videos: false`` nothing is probed: frame counts come from the annotation files, for
    datasets used only through imported features (``features.<name>.source: import``).
    """
    root = Path(dataset_cfg["root"])
    videos = bool(dataset_cfg.get("videos", True))
    policy = label_policy(dataset_cfg)
    if dataset_cfg.get("kind") == "xd_violence":  # lists, annotations, classes from names (data/xd_violence.py)
        entries, files = xd.load_entries(root, videos, dataset_cfg.get("train_list"), dataset_cfg.get("test_list"),
                                         dataset_cfg.get("annotation"))
    elif dataset_cfg.get("kind") == "action_folder":  # <root>/<Class>/<video>: no labels (data/action_folder.py)
        from vadflow.data.action_folder import load_entries as load_action_entries

        entries, files = load_action_entries(root, dataset_cfg.get("train_list"))
    elif dataset_cfg.get("kind") in BENCHMARK_KINDS:  # UCSD, Avenue, ShanghaiTech (data/benchmarks.py)
        entries, files = load_benchmark(dataset_cfg["kind"], root, dataset_cfg)
    else:
        entries, files = load_entries(
            root,
            version=dataset_cfg.get("version", "v1"),
            v2_annotations=dataset_cfg.get("v2_annotations"),
            test_annotation=dataset_cfg.get("test_annotation"),
            videos=videos,
        )
    if videos:
        if probe is None:
            raise ValueError("build_manifest: videos: true needs a probe (vadflow.video.decoder.probe)")
        infos = _probe_all(root, entries, bool(dataset_cfg.get("strict", False)), progress, probe, probe_errors)
    else:
        default_fps = XD_FPS if dataset_cfg.get("kind") == "xd_violence" else 30
        infos = _annotated_infos(entries, float(dataset_cfg.get("fps") or default_fps), bool(dataset_cfg.get("strict", False)))
    min_frames = int(dataset_cfg.get("min_frames", 8))
    rows, labels = [], {}
    for e, info in zip(entries, infos):
        row = {"id": e.id, "path": e.relpath, "split": e.split, "cls": e.cls, "anomalous": e.anomalous,
               "frames": 0, "fps": 0.0, "width": 0, "height": 0, "status": "ok", "error": "",
               "classes": xd.join_classes(e.classes) if isinstance(e, xd.XDVideoEntry) else e.cls, "label_frames": 0}
        if isinstance(info, NoFrameCount):
            row.update(status="no_frames", error=str(info))
            rows.append(row)
            continue
        if isinstance(info, Exception):
            row.update(status="corrupt", error=str(info))
            log.warning("corrupt video skipped: %s", info)
            rows.append(row)
            continue
        fps = info.fps
        if not fps and dataset_cfg.get("kind") in BENCHMARK_KINDS:  # a frame folder has no rate: the dataset's
            fps = float(dataset_cfg.get("fps") or BENCHMARK_FPS[dataset_cfg["kind"]])
            info = VideoInfo(info.n_frames, fps, info.width, info.height, info.backend)
        row.update(frames=info.n_frames, fps=round(info.fps, 4), width=info.width, height=info.height,
                   label_frames=info.n_frames if policy == ALL_FRAMES else xd.gt_length(info.n_frames, policy))
        if info.n_frames < min_frames:
            row.update(status="too_short", error=f"{info.n_frames} frames < min_frames {min_frames}")
        elif row["label_frames"] == 0:
            row.update(status="too_short", error=f"{info.n_frames} frames hold no complete snippet under label policy {policy}")
        if e.n_frames_hint and e.n_frames_hint != info.n_frames:
            log.warning("video %s: annotation file says %d frames, decoded %d; using the decoded count", e.id, e.n_frames_hint, info.n_frames)
        if info.fps and abs(info.fps - 30) > 0.5 and dataset_cfg.get("kind") in ("synthetic", "ucf_crime"):
            log.warning("video %s: %.3f fps (annotations are frame indices; not resampled)", e.id, info.fps)
        if e.frame_events is not None and policy != ALL_FRAMES:
            labels[e.id] = xd.frame_labels(e.frame_events, info.n_frames, policy, e.id)
        elif e.frame_events is not None:
            labels[e.id] = ann.frame_labels(ann.frame_events(e.frame_events, info.n_frames, e.id), info.n_frames)
        elif e.second_events is not None:
            ev = ann.second_events(e.second_events, info.fps or 30.0, info.n_frames, e.id, bool(dataset_cfg.get("v2_end_inclusive")))
            labels[e.id] = ann.frame_labels(ev, info.n_frames)
        rows.append(row)
    vatic_used = _vatic_labels(dataset_cfg, rows, labels)
    table = pd.DataFrame(rows, columns=COLUMNS)
    facts = {"root": str(root), "files": [str(p) for p in files.used()] + vatic_used, "n_videos": len(table),
             "status": table["status"].value_counts().to_dict(),
             "per_class": table.groupby(["split", "cls"]).size().to_dict(), LABEL_POLICY_ATTR: policy}
    return table, labels, facts


def label_policy(dataset_cfg: dict) -> str:
    """The rule that sets how many frames a video's labels cover: XD-Violence's
    (``label_policy: auto`` picks xd_violence.label_policy(videos)), else every frame."""
    if dataset_cfg.get("kind") != "xd_violence":
        return ALL_FRAMES
    chosen = dataset_cfg.get("label_policy") or "auto"
    return xd.label_policy(bool(dataset_cfg.get("videos", True))) if chosen == "auto" else str(chosen)


def _vatic_labels(dataset_cfg: dict, rows: list[dict], labels: dict[str, np.ndarray]) -> list[str]:
    """``ucfcrime2local.path`` set: the frame labels of every anomalous video with a vatic file
    become its hard mask (docs/methods/realtime.md §5), replacing the temporal annotation where both
    exist; returns the files used."""
    u2l = dataset_cfg.get("ucfcrime2local") or {}
    if not u2l.get("path"):
        return []
    from vadflow.data.vatic import find_vatic, hard_mask, vatic_files

    files = vatic_files(u2l["path"])
    used, replaced = [], 0
    for row in rows:
        path = find_vatic(files, row["id"])
        if path is None or row["status"] != "ok":
            continue
        if not row["anomalous"]:
            log.warning("video %s is normal but has a vatic file %s; ignored", row["id"], path)
            continue
        replaced += row["id"] in labels
        labels[row["id"]] = hard_mask(path, int(row["frames"]), u2l.get("index_base", 0))
        used.append(str(path))
    log.info("UCFCrime2Local: hard-anomaly frame labels of %d videos from vatic files in %s (%d replaced a temporal annotation); "
             "%d vatic files match no video", len(used), u2l["path"], replaced, len(files) - len(used))
    return used


def write_manifest(table: pd.DataFrame, labels: dict[str, np.ndarray], manifest_path: str | Path, labels_path: str | Path, attrs: dict | None = None) -> None:
    with atomic_path(manifest_path) as tmp:
        table.to_csv(tmp, index=False)
    # One byte per frame, gzipped: small enough to build in memory (see h5_in_memory).
    with h5_in_memory(labels_path) as f:
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
        for vid, lab in labels.items():
            f.create_dataset(vid, data=lab, compression="gzip")


def read_manifest(path: str | Path) -> pd.DataFrame:
    df = pd.read_csv(path, keep_default_na=False, dtype={"id": str, "path": str, "error": str, "classes": str})
    missing = [c for c in COLUMNS if c not in df.columns and c not in DERIVED]
    if missing:
        raise DatasetError(f"{path}: manifest lacks columns {missing}; rebuild it (delete the file and rerun)")
    df["anomalous"] = df["anomalous"].astype(str).str.lower().isin(["true", "1"])
    for col, source in DERIVED.items():  # an older manifest, or a table written without them
        if col not in df.columns:
            df[col] = df[source]
        else:
            empty = df[col].astype(str).isin(["", "nan"])
            df[col] = df[col].where(~empty, df[source])
    df["label_frames"] = df["label_frames"].astype(int)
    return df


def read_label_attrs(path: str | Path) -> dict[str, str]:
    """What a labels.h5 says of its labels: ``label_policy`` (:data:`ALL_FRAMES` in a file written
    before it existed) and the dataset ``kind`` ("" when unknown)."""
    import h5py

    with h5py.File(path, "r") as f:
        return {"label_policy": str(f.attrs.get(LABEL_POLICY_ATTR, ALL_FRAMES)), "kind": str(f.attrs.get("kind", ""))}


def read_labels(path: str | Path, ids: list[str] | None = None) -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as f:
        keys = list(f.keys()) if ids is None else [i for i in ids if i in f]
        return {k: f[k][()] for k in keys}
