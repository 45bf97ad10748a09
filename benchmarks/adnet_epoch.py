"""One ADNet training epoch on UCF-Crime-shaped random features.

1,900 videos x ~275 clips x 1024-d (the size of UCF-Crime's I3D cache), default settings
(W64-S5-L6, batch 4 windows). Prints the epoch time, windows/s and peak RSS.

    python benchmarks/adnet_epoch.py [--videos 1900] [--clips 275] [--threads 2]
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from vadflow.methods.adnet import ADNet
from vadflow.methods.base import VideoData


def make_videos(n: int, mean_clips: int, dim: int, seed: int = 0) -> list[VideoData]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(np.clip(rng.gamma(2.0, mean_clips / 2.0), 2, 4000))
        lab = np.zeros(k * 16, np.uint8)
        if i % 2:
            s = rng.integers(0, k * 16 // 2)
            lab[s : s + k * 16 // 4] = 1
        out.append(VideoData(f"v{i}", rng.standard_normal((k, dim), dtype=np.float32), k * 16, 16, 16, bool(i % 2), frame_labels=lab))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=1900)
    ap.add_argument("--clips", type=int, default=275)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    videos = make_videos(a.videos, a.clips, a.dim)
    n_clips = sum(len(v.features) for v in videos)
    model = ADNet({"epochs": 1, "device": "auto"})
    t0 = time.perf_counter()
    model.fit(videos)
    dt = time.perf_counter() - t0
    n_windows = sum(max(-(-len(v.features) // 32) - 1, 1) for v in videos)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ADNet W64-S5-L6, 1 epoch: {a.videos} videos, {n_clips} clips, {n_windows} windows, device {next(model.net.parameters()).device}")
    print(f"epoch time {dt:.1f} s  ({n_windows / dt:.0f} windows/s, {n_clips / dt:.0f} clips/s), peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
