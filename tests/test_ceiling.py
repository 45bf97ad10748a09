"""benchmarks/ceiling.py's clip labels and clip-to-frame mapping, by hand."""
from __future__ import annotations

import importlib.util

import h5py
import numpy as np

from conftest import ROOT

spec = importlib.util.spec_from_file_location("ceiling", ROOT / "benchmarks" / "ceiling.py")
ceiling = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ceiling)


def test_clip_labels_are_the_majority_of_their_frames_and_frames_take_their_cell(tmp_path):
    y = np.zeros(40, np.uint8)
    y[5:14] = 1   # 9 of clip 0's 16 frames: anomalous
    y[16:24] = 1  # 8 of clip 1's 16: not a majority
    with h5py.File(tmp_path / "f.h5", "w") as f, h5py.File(tmp_path / "l.h5", "w") as lab:
        d = f.create_dataset("v", data=np.arange(6, dtype=np.float32).reshape(2, 3))
        d.attrs["stride"], d.attrs["clip_len"] = 16, 16
        lab["v"] = y
        x, cl, frames, stride = ceiling.clips(f, lab, "v")
    assert x.shape == (2, 3) and cl.tolist() == [1, 0] and stride == 16 and frames.tolist() == y.tolist()
    # frames 32..39 lie past the last whole clip: they take the last clip's score (mapping: cell)
    assert ceiling.frame_scores(np.array([0.9, 0.2]), 40, 16).tolist() == [0.9] * 16 + [0.2] * 24
