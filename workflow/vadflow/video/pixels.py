"""The pixel geometry of a frame cache: per-dataset presets (the thesis's crops), the squash
resize and the colour conversion, and decoding one video's frames with them. Shared by the
frame cache job (:mod:`vadflow.features.frames`) and the reader that decodes test videos on
the fly (:mod:`vadflow.stores.frames`), so both give the same pixels.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np


#: the thesis geometry per dataset (docs/methods/svdd_cae.md §2): region = (top, left, h, w) of the
#: native frame, cut before the squash resize to ``size``.
PRESETS: dict[str, dict[str, Any]] = {
    "ucf_crime": {"color": "rgb", "region": None},
    "ped1": {"color": "gray", "region": [14, 8, 144, 204]},
    "ped2": {"color": "gray", "region": [80, 0, 160, 360]},
    "avenue": {"color": "rgb", "region": [60, 0, 300, 640]},
    "subway": {"color": "gray", "region": [64, 8, 280, 488]},
    "shanghaitech": {"color": "rgb", "region": None},
}

#: what an entry resolves to where neither the entry nor its preset says otherwise.
BASE = {"size": [128, 128], "color": "rgb", "region": None, "train_stride": 30, "train_cap": 500, "test_stride": 1,
        "test": "cache", "train_videos": "normal", "seed": 0, "compression": None, "decoder": "auto"}

def resolve(cfg: dict[str, Any]) -> dict[str, Any]:
    """An entry's full settings: its own keys over its preset's over :data:`BASE`."""
    preset = cfg.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"frames.{cfg.get('name', '?')}.preset = {preset!r}: expected one of {', '.join(PRESETS)}")
    # A key left out (or null) takes the preset's value: `region: null` keeps a preset's crop.
    out = {**BASE, **(PRESETS.get(preset) or {}), **{k: v for k, v in cfg.items() if v is not None}}
    size = out["size"]
    out["size"] = [int(size), int(size)] if isinstance(size, int) else [int(v) for v in size]
    return out


def geometry(cfg: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide a frame's pixels (not which frames are sampled)."""
    return {"size": cfg["size"], "color": cfg["color"], "region": cfg["region"]}


def channels(cfg: dict[str, Any]) -> int:
    return 1 if cfg["color"] == "gray" else 3


def to_channels(frame: np.ndarray, color: str) -> np.ndarray:
    """RGB ``[H, W, 3]`` -> ``[H, W, C]`` (ITU-R 601 luma for grey, as PIL's ``convert('L')``)."""
    if color == "gray":
        import cv2

        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[..., None]
    return frame


def clip_spec(cfg: dict[str, Any]):
    from vadflow.video.geometry import ClipSpec

    region = cfg["region"]
    return ClipSpec(clip_len=1, stride=1, resize=tuple(cfg["size"]), crop=None, region=tuple(region) if region else None)


def decode_frames(path: str | Path, info, cfg: dict[str, Any], indices: np.ndarray) -> Iterator[np.ndarray]:
    """The cache's frames ``[H, W, C]`` of ``indices`` (sorted) of one video, decoded now."""
    from vadflow.video.decoder import iter_frames

    for frame in iter_frames(path, clip_spec(cfg), info, cfg.get("decoder", "auto"), indices=indices):
        yield to_channels(frame, cfg["color"])
