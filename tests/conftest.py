from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VADFLOW_SHARED", ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "ucf_crime"


def write_mp4(path: Path, frames: np.ndarray, fps: int = 30) -> Path:
    """Encode ``[N, H, W, 3]`` uint8 RGB frames as an mpeg4 mp4 (the synthetic generator's codec)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "2"}
        for f in frames:
            for pkt in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    return path


def ramp_frames(n: int, h: int = 48, w: int = 64) -> np.ndarray:
    """Frames whose grey level encodes the frame index (step 5), to check clip order after decoding."""
    levels = (np.arange(n) * 5 % 250 + 2).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (n, h, w, 3)).copy()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"UCF-Crime fixtures not found at {FIXTURES}; clone with ../shared beside the repo or set VADFLOW_SHARED")
    return FIXTURES


# The end-to-end runs of the ADOR and SVDD-CAE modules, built once per session: their own tests
# and the rerun matrix of test_workflow.py (one row per config section) both read them.
@pytest.fixture(scope="session")
def ador_workdir(tmp_path_factory) -> Path:
    import test_ador_workflow as m
    from test_workflow import snakemake, write_config

    wd = tmp_path_factory.mktemp("ador_wf")
    write_config(wd, m.TINY)
    snakemake(wd, *m.TARGETS)
    return wd


@pytest.fixture(scope="session")
def svdd_workdir(tmp_path_factory) -> Path:
    import test_workflow_svdd as m
    from test_workflow import snakemake, write_config

    wd = tmp_path_factory.mktemp("svdd_wf")
    write_config(wd, m.CFG)
    m.write_ped2(wd / "ped2data" / "UCSDped2")
    snakemake(wd, *m.TARGETS)
    return wd
