"""Frame-level benchmark layouts (UCSD Ped, CUHK Avenue, ShanghaiTech) on tiny fixtures written
here in each published layout, and the decoder reading a frame folder as a video."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import write_mp4
from vadflow.data.avenue import read_label_mat
from vadflow.data.benchmarks import mask_events
from vadflow.data.manifest import build_manifest
from vadflow.data.ucf_crime import DatasetError
from vadflow.data.ucsd import parse_m_file
from vadflow.video.decoder import DecodeError, iter_frames, probe
from vadflow.video.geometry import ClipSpec


def level_image(i: int, h: int = 24, w: int = 36) -> np.ndarray:
    """A grey frame whose level encodes its index (10 per frame), with a bright corner."""
    img = np.full((h, w), 20 + 10 * i, np.uint8)
    img[:4, :4] = 255
    return img


def write_frames(folder: Path, n: int, ext: str = ".tif", start: int = 1, width: int = 3, h: int = 24, w: int = 36) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i + start:0{width}d}{ext}"), level_image(i, h, w))
    return folder


def write_masks(folder: Path, flags: list[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(flags, 1):
        m = np.zeros((24, 36), np.uint8)
        if f:
            m[5:9, 5:9] = 255
        cv2.imwrite(str(folder / f"{i:03d}.bmp"), m)


PED2_M = """TestVideoFile = {};
% ground truth of the frame-level anomaly annotation, 1-based
TestVideoFile{end+1}.gt_frame = [3:5];
TestVideoFile{end+1}.gt_frame = [1:2, 7:8];   % two events
"""


def ucsd_root(tmp_path: Path, with_m: bool = True) -> Path:
    root = tmp_path / "UCSDped2"
    write_frames(root / "Train" / "Train001", 12)
    write_frames(root / "Train" / "Train002", 9)
    write_frames(root / "Test" / "Test001", 10)
    write_frames(root / "Test" / "Test002", 8)
    if with_m:
        (root / "Test" / "UCSDped2.m").write_text(PED2_M)
    write_masks(root / "Test" / "Test001_gt", [0, 0, 1, 1, 1, 0, 0, 0, 0, 0])
    write_masks(root / "Test" / "Test002_gt", [1, 1, 0, 0, 0, 0, 1, 1])
    (root / "Test" / "._Test001").write_bytes(b"mac resource fork")  # hidden files are skipped
    return root


def manifest_of(kind: str, root: Path, **cfg):
    table, labels, facts = build_manifest({"kind": kind, "root": str(root), **cfg}, probe=probe, progress=False)
    return table.set_index("id"), labels, facts


def test_m_file_ranges_by_hand(tmp_path):
    p = tmp_path / "UCSDped1.m"
    p.write_text(PED2_M + "TestVideoFile{end+1}.gt_frame = [60:152];\n%TestVideoFile{end+1}.gt_frame = [1:9];\n")
    assert parse_m_file(p) == {1: [(3, 5)], 2: [(1, 2), (7, 8)], 3: [(60, 152)]}
    p.write_text("TestVideoFile{end+1}.gt_frame = [9:3];\n")
    with pytest.raises(DatasetError, match="UCSDped1.m.*ends before it starts"):
        parse_m_file(p)


def test_mask_events_are_one_based_inclusive():
    assert mask_events(np.array([1, 1, 0, 0, 1, 0, 1])) == [(1, 2), (5, 5), (7, 7)]
    assert mask_events(np.zeros(4)) == []


@pytest.mark.parametrize("with_m", [True, False])
def test_ucsd_manifest_and_labels(tmp_path, with_m):
    root = ucsd_root(tmp_path, with_m)
    table, labels, facts = manifest_of("ucsd", root)
    assert list(table.index) == ["Train001", "Train002", "Test001", "Test002"]
    assert table.loc["Train001", "frames"] == 12 and table.loc["Test002", "frames"] == 8
    assert (table["fps"] == 10.0).all() and (table["status"] == "ok").all()
    assert table.loc["Test001", "path"] == "Test/Test001" and bool(table.loc["Test001", "anomalous"])
    assert labels["Test001"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert labels["Test002"].tolist() == [1, 1, 0, 0, 0, 0, 1, 1]
    assert labels["Train002"].tolist() == [0] * 9
    assert facts["files"] == ([str(root / "Test" / "UCSDped2.m")] if with_m else [])


def test_ucsd_errors_name_the_path(tmp_path):
    root = ucsd_root(tmp_path)
    (root / "Test" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"notes\.txt: unexpected entry"):
        manifest_of("ucsd", root)
    (root / "Test" / "notes.txt").unlink()
    (root / "Test" / "UCSDped2.m").write_text(PED2_M + "TestVideoFile{end+1}.gt_frame = [1:3];\n")
    with pytest.raises(DatasetError, match=r"UCSDped2\.m: lists 3 test videos.*Test003"):
        manifest_of("ucsd", root)
    (root / "Test" / "UCSDped2.m").unlink()
    write_frames(root / "Test" / "Test003", 5)
    with pytest.raises(DatasetError, match=r"no ground truth for .*Test003.*Test003_gt"):
        manifest_of("ucsd", root)
    with pytest.raises(DatasetError, match=r"nowhere.*folder not found"):
        manifest_of("ucsd", tmp_path / "nowhere")


def test_frame_folder_decodes_as_a_video(tmp_path):
    folder = write_frames(tmp_path / "Test001", 12, ext=".tif")
    # natural order: 1..12 without zero padding must not sort "10" before "2"
    for p in folder.iterdir():
        p.rename(p.with_name(f"{int(p.stem)}.tif"))
    info = probe(folder)
    assert (info.n_frames, info.width, info.height, info.backend) == (12, 36, 24, "folder")
    frames = np.stack(list(iter_frames(folder, ClipSpec(1, 1), info)))
    assert frames.shape == (12, 24, 36, 3) and frames[:, 12, 20, 0].tolist() == [20 + 10 * i for i in range(12)]
    # region cut from the native frame, then squash resize, as svdd_cae.md §2 (by hand with OpenCV)
    spec = ClipSpec(1, 1, resize=(8, 8), region=(0, 0, 16, 16))
    got = np.stack(list(iter_frames(folder, spec, info, indices=np.array([0, 5, 11]))))
    want = [cv2.resize(np.repeat(level_image(i)[:16, :16, None], 3, 2), (8, 8), interpolation=cv2.INTER_AREA) for i in (0, 5, 11)]
    assert np.array_equal(got, np.stack(want))
    with pytest.raises(DecodeError, match="does not fit"):
        list(iter_frames(folder, ClipSpec(1, 1, region=(10, 0, 16, 16)), info))
    (folder / "notes.txt").write_text("x")
    with pytest.raises(DecodeError, match=r"notes\.txt: not an image"):
        probe(folder)


def write_label_mat(path: Path, flags: list[int]) -> None:
    from scipy.io import savemat

    cell = np.empty((1, len(flags)), dtype=object)
    for i, f in enumerate(flags):
        m = np.zeros((6, 8))
        m[2, 3] = f
        cell[0, i] = m
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(str(path), {"volLabel": cell})


def video(n: int) -> np.ndarray:
    return np.stack([np.repeat(level_image(i, 32, 48)[..., None], 3, 2) for i in range(n)])


def test_avenue_manifest_and_labels(tmp_path):
    root = tmp_path / "Avenue Dataset"
    write_mp4(root / "training_videos" / "01.avi", video(10), fps=25)
    write_mp4(root / "testing_videos" / "01.avi", video(9), fps=25)
    write_mp4(root / "testing_videos" / "02.avi", video(7), fps=25)
    gt = tmp_path / "ground_truth_demo" / "testing_label_mask"
    write_label_mat(gt / "1_label.mat", [0, 0, 0, 1, 1, 1, 0, 0, 0])
    write_label_mat(gt / "2_label.mat", [0] * 7)
    assert read_label_mat(gt / "1_label.mat").tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0]
    with pytest.raises(DatasetError, match=r"no ground truth for .*01\.avi.*1_label\.mat"):
        manifest_of("avenue", root)
    table, labels, facts = manifest_of("avenue", root, ground_truth=str(tmp_path / "ground_truth_demo"))
    assert list(table.index) == ["train_01", "test_01", "test_02"]
    assert table.loc["test_01", "frames"] == 9 and table.loc["test_01", "fps"] == pytest.approx(25)
    assert labels["test_01"].tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0] and not table.loc["test_02", "anomalous"]
    assert len(facts["files"]) == 2
    write_label_mat(gt / "3_label.mat", [0])
    with pytest.raises(DatasetError, match=r"3_label\.mat: ground truth of test video 3"):
        manifest_of("avenue", root, ground_truth=str(tmp_path / "ground_truth_demo"))


def test_shanghaitech_manifest_and_labels(tmp_path):
    root = tmp_path / "shanghaitech"
    write_mp4(root / "training" / "videos" / "01_001.avi", video(8), fps=24)
    write_frames(root / "testing" / "frames" / "01_0014", 6, ext=".jpg", start=0)
    (root / "testing" / "test_frame_mask").mkdir(parents=True)
    np.save(root / "testing" / "test_frame_mask" / "01_0014.npy", np.array([0, 1, 1, 0, 0, 1]))
    table, labels, _ = manifest_of("shanghaitech", root)
    assert list(table.index) == ["01_001", "01_0014"] and table.loc["01_0014", "fps"] == 24.0
    assert labels["01_0014"].tolist() == [0, 1, 1, 0, 0, 1] and table.loc["01_0014", "frames"] == 6
    np.save(root / "testing" / "test_frame_mask" / "01_0099.npy", np.zeros(3))
    with pytest.raises(DatasetError, match=r"01_0099\.npy: frame mask of a test video that has no folder"):
        manifest_of("shanghaitech", root)
