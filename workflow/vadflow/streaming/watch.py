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

from vadflow.streaming.scorers import WINDOW_MODES, ClipScorer, Emission, PerClip, RealtimeScorer, Windowed
from vadflow.streaming.source import FrameSource, SourceError

log = logging.getLogger(__name__)

CLIP_KINDS = ("adnet", "edtcn", "ador", "mlp", "mil", "lof")


# ----------------------------------------------------------------------------- model -> scorer
def load_model(path: str | Path, origin: dict[str, Any] | None = None):
    """The trained method and the origin of its inputs (from model.pt, else ``origin``)."""
    import torch

    from vadflow.methods import get_method
    from vadflow.methods.base import MethodError

    path = Path(path)
    if not path.is_file():
        raise MethodError(f"model file {path} does not exist (train it first: snakemake {path})")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if "folds" in blob:
        raise MethodError(f"{path}: a train_split: test_folds model is {len(blob['folds'])} cross-fitted models, one per fold of "
                          "test videos; there is no single model to watch a new stream with")
    model = get_method(blob["kind"]).load(path)
    prov = blob.get("origin") or origin
    if not prov:
        raise MethodError(f"{path} does not record the extractors of its features (trained before vadflow watch existed); "
                          "pass --config with the config it was trained with, or retrain it")
    return model, prov


def _scores_attrs(model_path: Path, scores: str | Path | None) -> dict[str, Any]:
    import h5py

    path = Path(scores) if scores else model_path.parent / "scores.h5"
    if not path.is_file():
        return {}
    with h5py.File(path, "r") as f:
        return dict(f.attrs)


def build_scorer(model_path: str | Path, origin: dict[str, Any] | None = None, windows: str = "causal",
                 scores: str | Path | None = None, device: str | None = None):
    """The online scorer of a model.pt (see :mod:`vadflow.streaming.scorers`)."""
    import torch

    from vadflow.features.online import OnlineClips, OnlineFrames
    from vadflow.methods.base import MethodError

    model, prov = load_model(model_path, origin)
    kind = model.kind
    feats = prov["features"]
    main = json.loads(feats[0]["config"]) if "config" in feats[0] else {}
    if kind == "realtime":
        rgb = OnlineFrames(main, feats[0].get("weights"), device)
        flow = OnlineFrames(json.loads(feats[1]["config"]), feats[1].get("weights"), device) if model.cfg.get("flow_features") else None
        bag = None
        if model.cfg.get("detections") and prov.get("detections"):
            from vadflow.streaming.objects import OnlineBag

            d = prov["detections"]
            bag = OnlineBag(json.loads(d["config"]), json.loads(d.get("class_names", "[]")), model.cfg["bag_conf"])
        return RealtimeScorer(model, rgb, flow, bag)
    if kind not in CLIP_KINDS:
        raise MethodError(f"vadflow watch does not support kind {kind!r} (supported: realtime, {', '.join(CLIP_KINDS)})")
    if not main:
        raise MethodError(f"{model_path}: its features {feats[0].get('extractor')!r} were not extracted from videos "
                          f"(source {feats[0].get('source', '?')}); only extracting extractors can run online")
    if kind == "ador":
        from vadflow.streaming.ador import ador_scorer

        return ador_scorer(model, prov, windows, device)
    ext = OnlineClips(main, feats[0].get("weights"), device)
    if kind in ("adnet", "edtcn"):
        logic: Any = Windowed(model, windows)
    elif kind == "mlp":
        def mlp(x: np.ndarray) -> np.ndarray:
            xt = torch.from_numpy(np.ascontiguousarray(model.scaler(x).astype(np.float32).T[None]))
            model.net.eval()
            with torch.inference_mode():
                return model.net(xt, torch.ones(1, len(x)))[-1][0].numpy()

        logic = PerClip(mlp)
    elif kind == "mil":
        from vadflow.methods import segments32 as seg

        # One clip is a bag of 32 copies of itself under either segment rule.
        logic = PerClip(lambda x: model._segment_scores(seg.make_bag(model.scaler(x), model.cfg["segments"]))[:1])
    else:  # lof
        attrs = _scores_attrs(Path(model_path), scores)
        if model.cfg.get("normalize") == "minmax" and "minmax_lo" not in attrs:
            log.warning("lof: no min-max constants found (scores.h5 attrs minmax_lo/hi); scores are raw LOF values, not on [0, 1]")
        lo, hi = float(attrs.get("minmax_lo", 0.0)), float(attrs.get("minmax_hi", 1.0))
        span = hi - lo if hi > lo else 1.0
        norm = model.cfg.get("normalize") == "minmax" and "minmax_lo" in attrs
        logic = PerClip(lambda x: (model.snippet_scores(x) - lo) / span if norm else model.snippet_scores(x))
    return ClipScorer(model, ext, logic)


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
                # SAS alarms are strict (s > 0.5, spec §7); score alarms follow the evaluation's score >= threshold.
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
