"""Cost of the Xception-LSTM pretraining cache: ``tail: spread`` against ``tail: pad``.

UCF-101 pretraining needs 16 frames spread over each video (docs/methods/mil.md §8). ``tail: pad``
runs Xception on every frame and picks the 16 afterwards; ``tail: spread`` decodes and runs
Xception on those 16 only. Both give the same 16 frame features (checked here, to float16
storage precision: the batches differ, so CPU reduction order differs too). Reported: wall
time of each, their ratio, and the frames through the CNN, measured in one run on synthetic
videos (nothing downloaded).

    python benchmarks/spread.py [--videos 6] [--size 299] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from vadflow.features.extract import extract_shard
from vadflow.features.lstm_clip import action_sequences
from vadflow.features.writer import merge

from extract import make_dataset  # benchmarks/extract.py: the seeded synthetic set


def run(root: Path, data: Path, tail: str, size: int) -> tuple[float, Path]:
    cfg = {"name": f"xframes_{tail}", "backbone": "xception", "frames": True, "weights": "random", "seed": 0,
           "preprocess": "keras_squash", "resize": [size, size], "crop": size, "clip_len": 16, "stride": 16, "tail": tail,
           "batch_size": 4, "device": "cpu"}
    out = root / tail
    t = time.perf_counter()
    receipt = out / "shard.json"
    extract_shard(root / "manifest.csv", data, cfg, "0-of-1", receipt, cache_dir=out / "videos", progress=False)
    merge([receipt], out / "frames.h5")
    return time.perf_counter() - t, out / "frames.h5"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--duration", type=float, nargs=2, default=[8.0, 14.0])
    ap.add_argument("--size", type=int, default=299, help="Xception input side (the spec's 299)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data, videos = make_dataset(root, a.videos, a.duration)
        n_frames = sum(info.n_frames for _, _, info in videos)
        t_pad, f_pad = run(root, data, "pad", a.size)
        t_spread, f_spread = run(root, data, "spread", a.size)
        # Every video is a pretraining sequence here (the split does not matter for the check).
        seq = {split: (action_sequences(root / "manifest.csv", f_pad, split), action_sequences(root / "manifest.csv", f_spread, split))
               for split in ("train", "test")}
        diff = max(float(np.abs(p.x.astype(np.float32) - s.x.astype(np.float32)).max()) for p, s in seq.values())
        scale = max(float(np.abs(p.x.astype(np.float32)).max()) for p, _ in seq.values())
        cnn_frames = {}
        for tail, path in (("pad", f_pad), ("spread", f_spread)):
            with h5py.File(path) as f:
                cnn_frames[tail] = sum(f[k].shape[0] * f[k].shape[1] for k in f)
    print(json.dumps({
        "videos": len(videos), "frames": n_frames, "xception_size": a.size,
        "pad": {"seconds": round(t_pad, 2), "cnn_frames": cnn_frames["pad"]},
        "spread": {"seconds": round(t_spread, 2), "cnn_frames": cnn_frames["spread"]},
        "speedup": round(t_pad / t_spread, 2),
        "max_abs_diff_of_the_16_frame_features": diff, "max_abs_feature": scale,
    }, indent=2))


if __name__ == "__main__":
    main()
