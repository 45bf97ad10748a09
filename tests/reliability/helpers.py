"""Helpers of the reliability tests: a UCF-Crime-layout copy of a tiny synthetic dataset whose
folder and video names are shell-hostile, a tiny config with every method kind, Snakemake runs."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

#: the dataset folder: a space, a command substitution, both quote kinds.
ROOT_NAME = "ucf $(touch PWNED_ROOT) 'q' \"d\""
#: synthetic id -> hostile id (no whitespace: UCF-Crime's list formats are whitespace separated).
#: Each would create a PWNED* file if a shell ever saw it unquoted or badly quoted.
HOSTILE = {
    "Normal_Videos_006_x264": "Normal_Videos_q'$(touch${IFS}PWNED_A)_x264",
    "Explosion002_x264": 'Explosion002_`touch${IFS}PWNED_B`;"x_x264',
    "Normal_Videos001_x264": "Normal_Videos001_$(touch${IFS}PWNED_C)&ü_x264",
}

GENERATOR = {"seed": 3, "n_train_normal": 3, "n_train_anomalous": 3, "n_test_normal": 3, "n_test_anomalous": 3,
             "duration_s": [2, 3], "fps": 30, "width": 64, "height": 48, "classes": ["Explosion", "Fighting"],
             "strength": 1.0, "distractor_prob": 0.5, "event_fraction": [0.2, 0.5], "two_event_prob": 0.3,
             "short_video_prob": 0.0}

#: every method kind, tiny; the same settings in every run that is compared.
METHODS = {
    "adnet": {"kind": "adnet", "features": "i3d", "window": 8, "stages": 2, "layers": 3, "channels": 16, "epochs": 3},
    "mlp": {"kind": "mlp", "features": "i3d", "window": 8, "hidden": [32, 8], "epochs": 3},
    "edtcn": {"kind": "edtcn", "features": "i3d", "window": 8, "enc_channels": [16], "kernel": 3, "epochs": 3},
    "mil": {"kind": "mil", "features": "i3d", "iterations": 30, "batch_anomalous": 3, "batch_normal": 3, "hidden": [32, 8]},
    "lof": {"kind": "lof", "features": "i3d", "embedding_dim": 16, "n_neighbors": 3, "protocol": "thesis", "thesis_seeds": [0, 1]},
    "svdd_cae": {"kind": "svdd_cae", "frames": "cae", "channels": [4, 8, 8, 8], "bottleneck_kernel": 3,
                 "ae": {"epochs": 2, "batch_size": 32}, "svdd": {"epochs": 1, "batch_size": 32}},
}


def tiny_config(root: Path) -> dict:
    return {
        "dataset": "ucf",
        "datasets": {"ucf": {"kind": "ucf_crime", "root": str(root), "version": "v1"}},
        "features": {"i3d": {"backbone": "i3d", "weights": "random", "clip_len": 16, "stride": 16,
                             "resize": 64, "crop": 64, "shards": 2}},
        "frames": {"cae": {"size": 64, "color": "gray", "train_stride": 4, "test_stride": 2}},  # svdd_cae's pixels
        "methods": METHODS,
        "evaluation": {"plot_videos": 2},
    }


def write_config(workdir: Path, cfg: dict) -> None:
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))


def snakemake(workdir: Path, *args: str, check: bool = True, env: dict | None = None,
              timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{res.stdout[-4000:]}\n{res.stderr[-6000:]}")
    return res


def rename_videos(root: Path, names: dict[str, str]) -> None:
    """Rename video files and every mention in the list, annotation and JSON files."""
    for old, new in names.items():
        (path,) = root.rglob(f"{old}.mp4")
        path.rename(path.with_name(f"{new}.mp4"))
    for txt in root.rglob("*.txt"):
        text = txt.read_text(encoding="utf-8")
        for old, new in names.items():
            text = text.replace(f"{old}.mp4", f"{new}.mp4")
        txt.write_text(text, encoding="utf-8")
    for js in root.rglob("*.json"):
        if js.name == "manifest.json":
            js.unlink()  # the generator's own record; the UCF-Crime reader does not read it
            continue
        doc = json.loads(js.read_text(encoding="utf-8"))
        renamed = {}
        for key, value in doc.items():
            for old, new in names.items():
                key = key.replace(f"{old}.mp4", f"{new}.mp4")
            renamed[key] = value
        js.write_text(json.dumps(renamed), encoding="utf-8")


def pwned_files(*dirs: Path) -> list[Path]:
    """Files a hostile name would have created (searched recursively)."""
    return sorted(p for d in dirs if d.is_dir() for p in d.rglob("PWNED*"))


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def env_with(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
