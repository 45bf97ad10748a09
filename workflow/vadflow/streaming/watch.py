"""``vadflow watch``: score a live or long video while it plays, with a trained model.pt.

The model carries what built its input features (``origin``, written by the train job):
the extractor configs and weights ids. From them the online extractors are rebuilt
(:mod:`vadflow.features.online`), checked against the recorded weights, and fed the decoded
frames one at a time. Rows (frame, time, score, ...) go to stdout as CSV, or to ``--out``
(.csv or .jsonl); alarm and clear lines and the throughput/latency summary go to stderr.

The output file is written under a temporary sibling name, flushed row by row, and renamed
to its final name when the stream ends, when Ctrl-C (SIGINT) or SIGTERM stops it, or when the
source fails: a complete file appears, never a half-written one under the final name.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from vadflow.streaming.scorers import WINDOW_MODES, Emission
from vadflow.streaming.source import FrameSource, SourceError

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- model -> scorer
def load_model(path: str | Path, origin: dict[str, Any] | None = None):
    """The trained method and the origin of its inputs (from model.pt, else ``origin``)."""
    from vadflow.methods import load_method
    from vadflow.methods.base import MethodError

    model = load_method(path)
    prov = model.origin or origin
    if not prov:
        raise MethodError(f"{path} does not record the extractors of its features (trained before vadflow watch existed); "
                          "pass --config with the config it was trained with, or retrain it")
    return model, prov


def _detector(model: Any, prov: dict[str, Any], spec: Any | None, device: str | None) -> dict[str, Any]:
    """The config of the detector behind the model's objects, checked to run live on the same clips."""
    from vadflow.methods.base import MethodError

    det = prov.get("detections")
    if not det:
        raise MethodError(f"{model.kind} {model.cfg.get('name')!r} reads objects, but its model.pt records no detector")
    cfg = json.loads(det["config"])
    if device:
        cfg["device"] = device
    if spec is not None and (int(cfg.get("clip_len", spec.clip_len)), int(cfg.get("stride", spec.stride))) != (spec.clip_len, spec.stride):
        raise MethodError(f"{model.kind}: detector {cfg.get('name')!r} was run on clips of {cfg.get('clip_len')}/{cfg.get('stride')} "
                          f"frames, the features on {spec.clip_len}/{spec.stride}")
    return cfg


def build_scorer(model_path: str | Path, origin: dict[str, Any] | None = None, windows: str = "causal",
                 scores: str | Path | None = None, device: str | None = None):
    """The online scorer of a model.pt: the method's online plan (:mod:`vadflow.methods.online`)
    run on extractors rebuilt from what the model records (see :mod:`vadflow.streaming.scorers`).

    ``scores`` is accepted for older command lines and ignored: every model now carries the
    constants its scores need."""
    from vadflow.features.online import ClipGrid, OnlineClips, OnlineFrames
    from vadflow.methods.base import MethodError
    from vadflow.methods.online import ClipPlan, FramePlan
    from vadflow.streaming.objects import OnlineBag, OnlineDetector
    from vadflow.streaming.scorers import ClipRows, ClipScorer, FrameScorer, PerClip, Windowed
    from vadflow.video.geometry import ClipSpec

    model, prov = load_model(model_path, origin)
    plan = model.online()
    del scores
    feats = prov["features"]
    if isinstance(plan, FramePlan):
        streams = [OnlineFrames(json.loads(f["config"]), f.get("weights"), device) for f in feats]
        bag = None
        if plan.bag_conf is not None and prov.get("detections"):
            d = prov["detections"]
            bag = OnlineBag(_detector(model, prov, None, device), json.loads(d.get("class_names", "[]")), plan.bag_conf)
        return FrameScorer(model, plan, streams, bag)
    if not isinstance(plan, ClipPlan):
        raise MethodError(f"{model.kind}: online() returned {type(plan).__name__}, not a ClipPlan or FramePlan")
    main = json.loads(feats[0]["config"]) if "config" in feats[0] else {}
    if not main:
        raise MethodError(f"{model_path}: its features {feats[0].get('extractor')!r} were not extracted from videos "
                          f"(source {feats[0].get('source', '?')}); only extracting extractors can run online")
    spec = ClipSpec.from_cfg(main)
    objects = None
    if plan.objects:  # before the extractor is built: a detector that cannot run live fails at once
        objects = OnlineDetector(_detector(model, prov, spec, device))
        # As for the extractors: the RoI backbone's weights must be the ones the training objects were pooled with.
        recorded = prov["detections"].get("weights")
        if recorded and objects.det.weights_sha256 != recorded:
            raise MethodError(f"{model.kind}: detector {objects.det.cfg.get('name')!r} now has weights {objects.det.weights_sha256!r}, "
                              f"the model's training objects were detected with {recorded!r}")
    maps = OnlineClips(main, feats[0].get("weights"), device) if plan.maps else None
    rows = ClipRows(plan.row, maps.spec if maps is not None else spec, maps.grid if maps is not None else ClipGrid(spec), maps, objects)
    logic = PerClip(plan.clip_scores) if plan.clip_scores is not None else Windowed(plan.window, plan.window_scores, windows)
    return ClipScorer(model, rows, logic, plan.mapping)


# ----------------------------------------------------------------------------- output
class RowWriter:
    """Rows to stdout (CSV) or to ``path`` (.csv or .jsonl, chosen by ``fmt`` or the suffix)."""

    def __init__(self, path: str | Path | None, columns: list[str], fmt: str | None = None):
        self.columns = columns
        self.path = Path(path) if path else None
        self.fmt = fmt or ("jsonl" if self.path and self.path.suffix in (".jsonl", ".json") else "csv")
        if self.fmt not in ("csv", "jsonl"):
            raise ValueError(f"--format must be csv or jsonl, got {self.fmt!r}")
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            self.f: TextIO = open(self.tmp, "w", newline="")
        else:
            self.f = sys.stdout
        self.csv = csv.writer(self.f) if self.fmt == "csv" else None
        if self.csv is not None:
            self.csv.writerow(columns)
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        if self.csv is not None:
            self.csv.writerow([_fmt(row[c]) for c in self.columns])
        else:
            self.f.write(json.dumps({c: row[c] for c in self.columns}) + "\n")
        self.rows += 1

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:
        self.f.flush()
        if self.path is not None:
            self.f.close()
            os.replace(self.tmp, self.path)


def _fmt(v: Any) -> Any:
    return f"{v:.9g}" if isinstance(v, float) else v


# ----------------------------------------------------------------------------- the loop
class _Stop:
    """SIGINT/SIGTERM set a flag the loop checks; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._old: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()

    def __enter__(self) -> "_Stop":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def watch(model: str | Path, source: str, out: str | Path | None = None, fmt: str | None = None, threshold: float = 0.5,
          fps: float | None = None, timeout: float = 10.0, pace: bool = False, windows: str = "causal",
          scores: str | Path | None = None, device: str | None = None, origin: dict[str, Any] | None = None,
          stats: str | Path | None = None, max_frames: int | None = None) -> dict[str, Any]:
    """Score ``source`` frame by frame; returns the run summary (also logged, and written to ``stats``)."""
    if windows not in WINDOW_MODES:
        raise ValueError(f"--windows must be one of {WINDOW_MODES}, got {windows!r}")
    scorer = build_scorer(model, origin, windows, scores, device)
    columns = ["frame", "time_s", "score", *scorer.columns, "alarm", "latency_ms"]
    src = FrameSource(source, fps=fps, timeout=timeout, pace=pace)
    writer = RowWriter(out, columns, fmt)
    arrived: dict[int, float] = {}
    latencies: list[float] = []
    state = {"alarm": False, "alarms": 0, "first": None}
    n = 0
    ended = "end of stream"
    error: BaseException | None = None
    t0 = time.perf_counter()
    live = pace or not Path(str(source)).is_file()

    def emit(items: list[Emission]) -> None:
        now = time.perf_counter()
        for e in items:
            for i, value in enumerate(e.scores):
                j = e.start + i
                row = {"frame": j, "time_s": round(j / src.fps, 3), "score": float(value)}
                for name, arr in e.extra.items():
                    row[name] = float(arr[i])
                lat = (now - arrived.pop(j, now)) * 1000.0
                latencies.append(lat)
                if state["first"] is None:
                    state["first"] = now - t0
                level = row[scorer.alarm_column]
                # SAS alarms are strict (s > 0.5, docs/methods/realtime.md §7); score alarms follow the evaluation's score >= threshold.
                on = level > threshold if scorer.alarm_column == "sas" else level >= threshold
                if on != state["alarm"]:
                    state["alarm"] = on
                    state["alarms"] += on
                    print(f"{'ALARM' if on else 'CLEAR'} frame {j} t={row['time_s']:.2f}s {scorer.alarm_column}={level:.4f}",
                          file=sys.stderr, flush=True)
                row["alarm"] = int(on)
                row["latency_ms"] = round(lat, 2)
                writer.write(row)
        writer.flush()

    with _Stop() as stop:
        try:
            for fr in src.frames(stop.event):
                # Latency runs from capture for a live or paced source; an unpaced file is read
                # ahead as fast as it decodes, so its frames "arrive" when the scorer takes them.
                arrived[fr.index] = fr.arrived if live else time.perf_counter()
                n = fr.index + 1
                emit(scorer.push(fr.index, fr.image))
                if stop.event.is_set() or (max_frames and n >= max_frames):
                    break
            if stop.event.is_set():
                ended = "interrupted"
        except SourceError as exc:
            ended, error = "source error", exc
        except KeyboardInterrupt:
            ended = "interrupted"
        try:
            emit(scorer.finish())  # what the frames seen so far complete (padded clips, last windows)
        finally:
            writer.close()
    wall = time.perf_counter() - t0
    lat = np.asarray(latencies) if latencies else np.zeros(1)
    proc_fps = n / wall if wall > 0 else math.nan
    summary = {
        "source": str(source), "frames": n, "rows": writer.rows, "seconds": round(wall, 3), "fps": round(proc_fps, 2),
        "source_fps": src.fps, "source_fps_known": src.fps_known, "realtime_ratio": round(proc_fps / src.fps, 3),
        "latency_ms": {"mean": round(float(lat.mean()), 2), "p50": round(float(np.percentile(lat, 50)), 2),
                       "p95": round(float(np.percentile(lat, 95)), 2), "max": round(float(lat.max()), 2)},
        "first_score_s": None if state["first"] is None else round(state["first"], 3),
        "alarms": state["alarms"], "ended": ended, "kind": scorer.model.kind, "windows": windows,
    }
    print(f"watch {summary['kind']}: {n} frames in {wall:.2f} s = {proc_fps:.1f} frames/s, {summary['realtime_ratio']:.2f}x the "
          f"source's {src.fps:g} fps{'' if src.fps_known else ' (assumed)'}; latency mean {summary['latency_ms']['mean']:.1f} ms, "
          f"p95 {summary['latency_ms']['p95']:.1f} ms; {state['alarms']} alarm(s); {ended}"
          + (f"; output {out}" if out else ""), file=sys.stderr, flush=True)
    if stats:
        from vadflow.io import atomic_path

        with atomic_path(stats) as tmp:
            tmp.write_text(json.dumps(summary, indent=1))
    if error is not None:
        raise error
    return summary
