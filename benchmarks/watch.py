"""Throughput of `vadflow watch` per trained model: frames/s, the ratio to the video's own frame
rate, and latency, on one test video of a workflow run (the models must exist).

    python benchmarks/watch.py --workdir /tmp/wd --methods realtime adnet adnet_i3d
    python benchmarks/watch.py --workdir /tmp/wd --methods realtime --quick      # the first 90 frames

Each method runs `vadflow watch --stats` in a subprocess on the longest test video (or --video), the file
read as fast as it decodes (no --pace): the ratio says how many times real time the scoring keeps up.
Timings depend on the machine and on whatever else it runs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def longest_test_video(workdir: Path, dataset: str) -> Path:
    man = pd.read_csv(workdir / "results" / dataset / "manifest.csv")
    row = man[(man["split"] == "test") & (man["status"] == "ok")].sort_values("frames").iloc[-1]
    root = workdir / "data" / dataset if (workdir / "data" / dataset).is_dir() else workdir
    return root / row["path"]


def run(workdir: Path, dataset: str, method: str, video: Path, max_frames: int | None, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.json"
        cmd = [sys.executable, "-m", "vadflow.cli", "watch", "--model", str(workdir / "results" / dataset / method / "model.pt"),
               str(video), "--out", str(Path(tmp) / "rows.csv"), "--stats", str(stats), "--threads", str(threads)]
        if max_frames:
            cmd += ["--max-frames", str(max_frames)]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow") + os.pathsep + os.environ.get("PYTHONPATH", "")}
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode != 0:
            raise SystemExit(f"{method}: vadflow watch failed:\n{res.stderr[-3000:]}")
        s = json.loads(stats.read_text())
    return {"method": method, "kind": s["kind"], "frames": s["frames"], "fps": s["fps"], "source_fps": s["source_fps"],
            "x_realtime": s["realtime_ratio"], "latency_mean_ms": s["latency_ms"]["mean"], "latency_p95_ms": s["latency_ms"]["p95"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, required=True, help="a workflow run holding results/<dataset>/<method>/model.pt")
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--methods", nargs="+", required=True)
    ap.add_argument("--video", type=Path, default=None, help="default: the dataset's longest test video")
    ap.add_argument("--quick", action="store_true", help="only the first 90 frames")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    video = a.video or longest_test_video(a.workdir, a.dataset)
    rows = [run(a.workdir, a.dataset, m, video, 90 if a.quick else None, a.threads) for m in a.methods]
    print(f"video {video}")
    with pd.option_context("display.width", 200):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
