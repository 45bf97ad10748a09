"""Cost of a model scored per sampled frame (the ``resources`` output; docs/methods/realtime.md §10):
parameters, FLOPs (``torch.utils.flop_counter``) and frames/s per stage at batch 1 (decode, each
stream's input and backbone, detector, head, SAS) and end to end through the same online
pipeline as ``vadflow watch``, with peak memory and the device.

Timings are wall-clock on whatever machine runs the job (and whatever else it runs): compare
them within one run, not across machines.
"""
from __future__ import annotations

import json
import platform
import resource
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from vadflow.detection import describe
from vadflow.io import atomic_path


def _rate(fn: Callable[[int], Any], n: int) -> dict[str, float]:
    """Calls ``fn(i)`` for i < n (after one warm-up call): frames/s and ms per frame."""
    fn(0)
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    dt = max(time.perf_counter() - t0, 1e-9)
    return {"fps": round(n / dt, 2), "ms_per_frame": round(1000.0 * dt / n, 3)}


def _params(module: torch.nn.Module | None) -> int:
    return 0 if module is None else int(sum(p.numel() for p in module.parameters()))


def _flops(fn: Callable[[], Any]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        fn()
    return int(counter.get_total_flops())


def _first_test_video(manifest: str | Path, root: str | Path) -> tuple[str, Path]:
    from vadflow.data.manifest import read_manifest

    table = read_manifest(manifest)
    rows = table[(table["split"] == "test") & (table["status"] == "ok")]
    if rows.empty:
        raise RuntimeError(f"{manifest}: no test video to time")
    r = rows.iloc[0]
    return str(r["id"]), Path(root) / str(r["path"])


def _decode(path: Path, n: int) -> tuple[list[np.ndarray], dict[str, float]]:
    import av

    frames = []
    t0 = time.perf_counter()
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= n:
                break
    dt = max(time.perf_counter() - t0, 1e-9)
    return frames, {"fps": round(len(frames) / dt, 2), "ms_per_frame": round(1000.0 * dt / len(frames), 3)}


def measure(model_path: str | Path, manifest: str | Path, root: str | Path, out: str | Path, n_frames: int = 60) -> dict[str, Any]:
    from vadflow.streaming.watch import build_scorer, load_model

    from vadflow.streaming.scorers import FrameScorer

    scorer = build_scorer(model_path)
    if not isinstance(scorer, FrameScorer):
        raise TypeError(f"{model_path}: the resources output measures methods scored per sampled frame (a FramePlan); "
                        f"kind {scorer.model.kind} scores clips")
    model = scorer.model
    vid, path = _first_test_video(manifest, root)
    frames, decode = _decode(path, n_frames)
    n = len(frames)
    rgb, flow = scorer.streams[0], (scorer.streams[1] if len(scorer.streams) > 1 else None)
    rgb_imgs = [rgb.input.image(f, None) for f in frames]
    stages: dict[str, Any] = {"decode": decode}
    stages["rgb_input"] = _rate(lambda i: rgb.input.image(frames[i], None), n)
    stages["rgb_backbone"] = _rate(lambda i: rgb.features(rgb_imgs[i][None]), n)
    parts = [rgb.features(rgb_imgs[0][None])[0]]
    flops = {"rgb_backbone": _flops(lambda: rgb.features(rgb_imgs[0][None]))}
    params = {"rgb_backbone": _params(rgb.model)}
    if flow is not None:
        prev = [frames[max(0, i - 1)] for i in range(n)]
        flow_imgs = [flow.input.image(frames[i], prev[i] if i else None) for i in range(n)]
        stages["flow_image"] = _rate(lambda i: flow.input.image(frames[i], prev[i] if i else None), n)
        stages["flow_backbone"] = _rate(lambda i: flow.features(flow_imgs[i][None]), n)
        parts.append(flow.features(flow_imgs[0][None])[0])
        flops["flow_backbone"] = _flops(lambda: flow.features(flow_imgs[0][None]))
        params["flow_backbone"] = _params(flow.model)
    bag_note = ""
    if scorer.bag is not None:
        bag = scorer.bag
        stages["detector"] = _rate(lambda i: bag.push(frames[i], True), n)
        parts.append(bag.push(frames[0], True))
        backend = bag.det.backend
        if backend in ("hog_person", "background") or bag.n_classes < 80:
            what = describe(backend) if backend in ("hog_person", "background") else f"{backend} ({max(1, bag.n_classes)} classes)"
            bag_note = f"reduced bag: {what}, {max(1, bag.n_classes)}-d instead of the paper's 80 COCO classes"
    stages["head"] = _rate(lambda i: scorer.plan.score(parts), n)
    flops["head"] = _flops(lambda: scorer.plan.score(parts))
    params["head"] = _params(getattr(model, "net", None))
    acc = scorer.sas
    stages["sas"] = _rate(lambda i: acc.update(0.5), n)
    # End to end: a fresh scorer over the decoded frames, frame by frame (decode excluded, timed above).
    fresh = build_scorer(model_path)
    t0 = time.perf_counter()
    for j, f in enumerate(frames):
        fresh.push(j, f)
    dt = max(time.perf_counter() - t0, 1e-9)
    stages["end_to_end_after_decode"] = {"fps": round(n / dt, 2), "ms_per_frame": round(1000.0 * dt / n, 3)}
    per_frame_ms = 1000.0 / decode["fps"] + stages["end_to_end_after_decode"]["ms_per_frame"]
    stages["end_to_end"] = {"fps": round(1000.0 / per_frame_ms, 2), "ms_per_frame": round(per_frame_ms, 3)}
    _, prov = load_model(model_path)
    weights = {f.get("extractor", "?"): f.get("weights", "?") for f in prov["features"]}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB
    device = rgb.device
    doc = {
        "method": model.cfg.get("name", ""),
        "video": vid, "frames_timed": n, "frame_size": list(frames[0].shape[:2]),
        "input_size": list(rgb_imgs[0].shape[:2]),
        "streams": 2 if flow is not None else 1, "bag": model.cfg.get("detections"), "bag_note": bag_note,
        "params": {**params, "total": int(sum(params.values()))},
        "flops_per_frame": {**flops, "total": int(sum(flops.values()))},
        "stages": stages,
        "test_stride": scorer.stride,
        "peak_memory_mb": round(peak, 1),
        "cuda_peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.type == "cuda" else None,
        "device": str(device) if device.type != "cpu" else f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "weights": weights,
        "note": ("random-init backbones: no pretraining, not comparable with the paper" if any(w == "random-init" for w in weights.values())
                 else ""),
    }
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    return doc
