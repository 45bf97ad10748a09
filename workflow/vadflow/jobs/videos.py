"""Assemble :class:`~vadflow.methods.base.VideoData` for a split from the manifest, the labels and the stores."""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np

from vadflow.data.manifest import read_labels, read_manifest
from vadflow.stores.frames import FrameStore, is_frames_file
from vadflow.stores.features import FeatureStore, FeatureStoreError, crop_mean, frame_index, n_crops
from vadflow.methods.base import VideoData, layout_error

log = logging.getLogger(__name__)


def load_videos(manifest: str | Path, labels: str | Path, features: str | Path, split: str, layouts: tuple[str, ...] = ("clips",),
                method: str = "", kind: str = "", detections: str | Path | None = None, lazy: bool = False,
                extra_features: list[str | Path] | tuple = (), crops: bool = False) -> list[VideoData]:
    """Videos of ``split`` with status ok and features, in manifest order.

    Videos the extractor could not decode are skipped with a warning (they are listed in the
    feature file's ``failed`` attr). A feature layout the method does not accept is an error
    naming the file, so 32-segment features never reach a per-clip method silently.

    ``detections``: a detections file (vadflow.stores.detections); each video's objects, checked to be on
    the same clips as its features, go to ``extras["objects"]`` (a lazy
    :class:`~vadflow.stores.detections.VideoObjects`). ``lazy``: ``features`` is a
    :class:`~vadflow.stores.features.LazyRows` view read by clip ranges, not an array.

    Layout ``sampled_frames`` (one row per sampled frame) puts the rows' frame indices in
    ``extras["frame_index"]``. ``extra_features``: further feature files of the same rows (the
    real-time method's flow stream), each in ``extras["streams"][extractor]``; their frame grid
    must equal the main file's, and a video missing from one of them is skipped.

    ``crops``: a video stored with every crop (``crops: all``) carries them in ``crops``
    (``[C, K, D]``) beside their mean in ``features``; without it, the mean only.
    """
    table = read_manifest(manifest)
    rows = table[(table["split"] == split) & (table["status"] == "ok")]
    lab = read_labels(labels, list(rows["id"]))
    if is_frames_file(features):
        return _frame_videos(rows, lab, features, split, layouts, method, kind)
    out: list[VideoData] = []
    dets = None
    if detections:
        from vadflow.stores.detections import DetectionStore

        dets = DetectionStore(detections)
    store = FeatureStore(features)
    with contextlib.ExitStack() as stack:
        if not lazy:  # lazy views keep the file open for as long as they live
            stack.enter_context(store)
        extras = [stack.enter_context(FeatureStore(p)) for p in extra_features]
        layout = store.attrs.get("layout", "clips")
        if layout not in layouts:
            extractor = str(store.attrs.get("extractor", Path(features).stem))
            raise FeatureStoreError(layout_error(method or "?", kind or "?", extractor, str(layout), tuple(layouts), where=str(features)))
        missing = [vid for vid in rows["id"] if vid not in store]
        if missing:
            log.warning("%d %s videos have no features (%s...) and are skipped", len(missing), split, ", ".join(missing[:3]))
        for r in rows.itertuples():
            if r.id not in store:
                continue
            every = None
            if lazy:
                feats = store.rows(r.id)
                attrs = feats.attrs
            elif crops:
                every, attrs = store.get_crops(r.id)
                feats, every = (crop_mean(every), every) if n_crops(attrs) else (every[0], None)
            else:
                feats, attrs = store.get(r.id)
            if int(attrs["n_frames"]) != int(r.frames):
                raise FeatureStoreError(f"{features}: video {r.id} has n_frames {attrs['n_frames']} but the manifest says {r.frames}; re-extract")
            more: dict = {}
            if str(attrs.get("layout", "clips")) == "sampled_frames":
                more["frame_index"] = frame_index(attrs)
            if extras:
                streams = _extra_streams(extras, r.id, attrs)
                if streams is None:
                    continue
                more["streams"] = streams
            if dets is not None:
                more["objects"] = dets.objects(r.id, int(attrs["clip_len"]), int(attrs["stride"]), len(feats))
            out.append(VideoData(id=r.id, features=feats, n_frames=int(r.frames), clip_len=int(attrs["clip_len"]),
                                 stride=int(attrs["stride"]), anomalous=bool(r.anomalous), cls=r.cls,
                                 frame_labels=lab.get(r.id), layout=str(attrs.get("layout", "clips")), extras=more,
                                 crops=every))
    if not out:
        raise FeatureStoreError(f"{features}: no {split} video has features; check {manifest} statuses")
    return out


def _extra_streams(extras: list[FeatureStore], vid: str, attrs: dict) -> dict | None:
    """``{extractor: [K, D]}`` of one video from the extra feature files, on the main file's rows."""
    streams = {}
    for store in extras:
        if vid not in store:
            log.warning("video %s has no features in %s and is skipped", vid, store.path)
            return None
        feats, a = store.get(vid)
        for key in ("n_frames", "frame_steps", "clip_len", "stride"):
            if str(a.get(key)) != str(attrs.get(key)):
                raise FeatureStoreError(f"{store.path}: video {vid} has {key} = {a.get(key)!r}, but the method's main features have "
                                        f"{attrs.get(key)!r}; the streams of one method must sample the same frames")
        streams[str(a.get("extractor", store.path.stem))] = feats
    return streams


def _frame_videos(rows, lab: dict, path: str | Path, split: str, layouts: tuple[str, ...], method: str, kind: str) -> list[VideoData]:
    """Videos of a frame cache: ``frames`` is each one's lazy :class:`FrameSource`, ``features``
    empty. The store stays open for the sources' lifetime (the process's)."""
    store = FrameStore(path)
    if "frames" not in layouts:
        store.close()
        raise FeatureStoreError(layout_error(method or "?", kind or "?", store.name, "frames", tuple(layouts), where=str(path)))
    out = []
    skipped = [vid for vid in rows["id"] if vid not in store]
    failed = [vid for vid in skipped if vid in store.failed]
    if failed:
        log.warning("%d %s videos could not be decoded into %s (%s...) and are skipped", len(failed), split, path, ", ".join(failed[:3]))
    for r in rows.itertuples():
        if r.id not in store:
            continue  # e.g. anomalous training videos, which the frame cache leaves out by default
        src = store.source(r.id)
        if src.n_frames != int(r.frames):
            raise FeatureStoreError(f"{path}: video {r.id} has n_frames {src.n_frames} but the manifest says {r.frames}; rebuild the frame cache")
        out.append(VideoData(id=r.id, features=np.zeros((len(src), 0), np.float32), n_frames=int(r.frames), clip_len=1,
                             stride=int(src.index[1] - src.index[0]) if len(src) > 1 else 1, anomalous=bool(r.anomalous),
                             cls=r.cls, frame_labels=lab.get(r.id), layout="frames", frames=src))
    if not out:
        raise FeatureStoreError(f"{path}: no {split} video has frames; check the frames job's log")
    return out


def method_videos(cls: type, cfg: dict, manifest: str | Path, labels: str | Path, features: list[str | Path],
                  detections: str | Path | None, split: str) -> list[VideoData]:
    """The videos of ``split`` as method kind ``cls`` reads them: its main features (or frame
    cache) first in ``features``, the further streams after it, its detections; every crop of
    ``crops: all`` features in ``VideoData.crops`` (jobs/crops.py hands them to the kind)."""
    return load_videos(manifest, labels, features[0], split=split, layouts=cls.layouts, method=cfg.get("name", ""),
                       kind=cfg["kind"], detections=detections, lazy=cls.lazy_features, extra_features=list(features[1:]),
                       crops=not cls.lazy_features)


def has_split(manifest: str | Path, split: str) -> bool:
    """Whether the manifest lists an ``ok`` video of ``split``."""
    table = read_manifest(manifest)
    return bool(((table["split"] == split) & (table["status"] == "ok")).any())
