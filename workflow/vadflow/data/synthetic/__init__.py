"""Deterministic synthetic surveillance dataset in the UCF-Crime layout (docs/datasets.md §4).

Fixed cameras (a few street views, shared by normal and anomalous videos) watch walkers
and traffic; anomalous videos contain one or two temporally bounded events of the
configured classes, normal videos sometimes a near-miss distractor. Usage::

    from vadflow.data.synthetic import generate
    info = generate(cfg, "data/synthetic")

Randomness: one ``Generator(PCG64)`` per video from ``SeedSequence(seed).spawn``, in
manifest order, and one more child of the same sequence for the dataset plan (which
class and camera each video gets, which videos carry the pinned edge cases). The sha256 of every video's
raw frames is recorded in ``manifest.json``; the encoded bytes may differ between FFmpeg
builds.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vadflow.data.synthetic import encode, layout, render

__all__ = ["GENERATOR_VERSION", "generate", "plans"]

# Bump whenever the same config would render different frames or annotations.
GENERATOR_VERSION = "1.0"


def generate(cfg: Mapping[str, Any], root: str | Path, progress: bool = True) -> dict[str, Any]:
    """Write the dataset under ``root`` (replacing it only once the new one is complete).

    ``cfg`` is the ``generator`` config section with every key present. Returns a summary:
    counts per split and class, events, total frames and seconds taken.
    """
    t_start = time.perf_counter()
    root = Path(root)
    fps, width, height = int(cfg["fps"]), int(cfg["width"]), int(cfg["height"])
    if width % 2 or height % 2:
        raise ValueError(f"synthetic width and height must be even for yuv420p video, got {width}x{height}")
    n = layout.n_videos(cfg)

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".partial", dir=root.parent))
    try:
        tmp.chmod(0o755)
        videos = []
        for spec, plan in tqdm(plans(cfg), total=n, desc="synthetic videos", unit="video", disable=not progress):
            digest = hashlib.sha256()
            path = tmp / spec.relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            encode.write_mp4(path, _hashed(render.render_frames(plan), digest), fps)
            videos.append(
                {
                    "id": spec.id,
                    "relpath": spec.relpath,
                    "split": spec.split,
                    "class": spec.cls,
                    "camera": spec.camera,
                    "n_frames": plan.n_frames,
                    "fps": fps,
                    "width": width,
                    "height": height,
                    "events": [{"start": ev.start, "end": ev.end} for ev in plan.events],
                    "distractor": plan.distractor,
                    "sha256": digest.hexdigest(),
                }
            )
        layout.write_annotations(tmp, videos, fps)
        manifest = {"generator": "vadflow.data.synthetic", "version": GENERATOR_VERSION, "seed": int(cfg["seed"]), "config": dict(cfg), "videos": videos}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        _replace_dir(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    counts: dict[str, Counter[str]] = {"train": Counter(), "test": Counter(), "val": Counter()}
    for v in videos:
        counts[v["split"]][v["class"]] += 1
    return {
        "root": str(root),
        "seed": int(cfg["seed"]),
        "videos": n,
        "counts": {split: dict(sorted(c.items())) for split, c in counts.items() if c or split != "val"},
        "events": sum(len(v["events"]) for v in videos),
        "total_frames": sum(v["n_frames"] for v in videos),
        "seconds": round(time.perf_counter() - t_start, 2),
    }


def plans(cfg: Mapping[str, Any]) -> Iterator[tuple[layout.VideoSpec, render.VideoPlan]]:
    """Every video's spec and plan in manifest order: exactly what :func:`generate` renders."""
    # Children of a SeedSequence depend on their index only: validation videos take the
    # children after the train/test ones, which stay what they were without validation.
    n = layout.n_videos(cfg, val=False)
    *video_seeds, plan_seed = np.random.SeedSequence(int(cfg["seed"])).spawn(n + 1)
    if layout.n_val(cfg):
        *val_seeds, val_plan_seed = np.random.SeedSequence(int(cfg["seed"])).spawn(n + 1 + layout.n_val(cfg) + 1)[n + 1:]
        video_seeds += val_seeds
        val_rng = np.random.Generator(np.random.PCG64(val_plan_seed))
    else:
        val_rng = None
    specs = layout.plan_dataset(cfg, np.random.Generator(np.random.PCG64(plan_seed)), val_rng)
    for spec, seed in zip(specs, video_seeds):
        yield spec, render.plan_video(np.random.Generator(np.random.PCG64(seed)), spec, cfg)


def _hashed(frames: Iterable[np.ndarray], digest: Any) -> Iterator[np.ndarray]:
    for frame in frames:
        digest.update(frame.tobytes())
        yield frame


def _replace_dir(new: Path, root: Path) -> None:
    """Move ``new`` to ``root``; an existing ``root`` is set aside first and deleted last."""
    if not root.exists():
        os.replace(new, root)
        return
    old = root.with_name(f".{root.name}.{os.getpid()}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(root, old)
    try:
        os.replace(new, root)
    except BaseException:
        os.replace(old, root)
        raise
    shutil.rmtree(old)
