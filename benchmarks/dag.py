"""Time `snakemake -n` on a UCF-Crime-sized dataset with every method enabled (target: <= 10 s).

The dataset is import-style (`videos: false`): UCF-Crime's list and annotation files for
``--videos`` videos (default 2,000; UCF-Crime has 1,900) and every extractor imported from an
(empty) feature folder, so no video or feature file is needed; a dry run never reads them.
Every method of config/config.yaml runs; mil_xlstm reads the imported I3D features, since its
Xception-LSTM extractor needs frame features from videos. The time is the whole command, Python
start-up and imports included, as a user waits for it.

    python benchmarks/dag.py            # 3 repeats of each
    python benchmarks/dag.py --quick    # 1 repeat
    python benchmarks/dag.py --profile  # cProfile of one dry run, top 25 by cumulative time
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["Abuse", "Arrest", "Arson", "Assault", "Burglary", "Explosion", "Fighting", "RoadAccidents", "Robbery",
           "Shooting", "Shoplifting", "Stealing", "Vandalism"]


def write_dataset(root: Path, n_videos: int) -> None:
    """UCF-Crime's list files for ``n_videos`` videos: 85 % train (half anomalous), 15 % test."""
    root.mkdir(parents=True)
    n_test = max(2, n_videos * 15 // 100)
    train, test, frames_test, frames_train = [], [], [], []
    for i in range(n_videos - n_test):
        if i % 2:
            cls = CLASSES[i % len(CLASSES)]
            name = f"{cls}{i:04d}_x264.mp4"
            train.append(f"{cls}/{name}")
        else:
            name = f"Normal_Videos{i:04d}_x264.mp4"
            train.append(f"Training_Normal_Videos_Anomaly/{name}")
            cls = "Normal"
        frames_train.append(f"{name} {cls} 3000")
    for i in range(n_test):
        if i % 2:
            cls = CLASSES[i % len(CLASSES)]
            name = f"{cls}{9000 + i:04d}_x264.mp4"
            test.append(f"{name}  {cls}  100  400  -1  -1")
            frames_test.append(f"{name}  {cls}  100  400  -1  -1  3000")
        else:
            name = f"Normal_Videos_{9000 + i:04d}_x264.mp4"
            test.append(f"{name}  Normal  -1  -1  -1  -1")
            frames_test.append(f"{name}  Normal  -1  -1  -1  -1  3000")
    (root / "Anomaly_Train.txt").write_text("\n".join(train) + "\n")
    (root / "Temporal_Anomaly_Annotation_for_Testing_Videos.txt").write_text("\n".join(test) + "\n")
    (root / "Test_Annotation_with_frames.txt").write_text("\n".join(frames_test) + "\n")
    (root / "Train_Annotation_with_frames.txt").write_text("\n".join(frames_train) + "\n")


def write_workdir(d: Path, n_videos: int) -> str:
    """A working directory holding the default config plus an overlay for the import dataset;
    returns the dry run's target."""
    write_dataset(d / "data/bench", n_videos)
    (d / "features").mkdir()
    (d / "config").mkdir()
    shutil.copy(ROOT / "config/config.yaml", d / "config/config.yaml")
    base = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    imports = {}
    for name, sec in base["features"].items():
        if sec.get("source", "extract") == "extract" and not sec.get("frames"):
            imports[name] = {"source": "import", "format": "crop_npy", "path": "features"}
    overlay = {
        "dataset": "bench",
        "datasets": {"bench": {"kind": "ucf_crime", "root": "data/bench", "videos": False,
                               "overrides": {"features": imports, "methods": {"mil_xlstm": {"features": "i3d"}}}}},
    }
    (d / "bench.yaml").write_text(yaml.safe_dump(overlay))
    return "results/bench/summary.csv"


def dry_run(d: Path, target: str, extra: tuple[str, ...] = ()) -> tuple[float, str]:
    cmd = [sys.executable, *extra, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(d), "--cores", "8",
           target, "--configfile", "bench.yaml", "-n", "--quiet", "rules"]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=d, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"dry run failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return dt, res.stdout + res.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one repeat")
    ap.add_argument("--profile", action="store_true", help="cProfile one dry run instead of timing")
    a = ap.parse_args()
    repeat = 1 if a.quick else a.repeat
    with tempfile.TemporaryDirectory(prefix="vadflow-dag-") as tmp:
        d = Path(tmp)
        target = write_workdir(d, a.videos)
        if a.profile:
            prof = d / "dag.prof"
            dry_run(d, target, ("-m", "cProfile", "-o", str(prof)))
            import pstats

            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(25)
            return
        times, out = zip(*(dry_run(d, target) for _ in range(repeat)))
        jobs = out[0].split("total")[-1].split()[0] if "total" in out[0] else "?"
        print(f"snakemake -n, {a.videos} videos (import), every method: {statistics.median(times):.2f} s "
              f"(median of {repeat}; min {min(times):.2f} s), {jobs} jobs; target <= 10 s")


if __name__ == "__main__":
    main()
