"""Detection stage (docs/methods/ador.md §3): RoIAlign, the shared post-processing, each backend on a
synthetic frame, the detections store, and the config that scopes and aligns it."""
from __future__ import annotations

import base64
import copy
import json

import numpy as np
import pytest
import torch
import yaml

import vadflow.config as vc
from conftest import ROOT, write_mp4
from vadflow.detection import BACKENDS, get_detector
from vadflow.detection.base import DEFAULTS, Detections, DetectorError, centre_frames, pack, select
from vadflow.detection.roi_align import roi_align
from vadflow.stores.detections import DetectionStore, DetectionStoreError

torch.set_num_threads(1)
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


# ---------------------------------------------------------------------------------- RoIAlign
def roi_align_reference(feat, boxes, bidx, out, scale, sr, aligned):
    """torchvision's roi_align CPU kernel, one sample at a time (float64)."""
    _, c, h, w = feat.shape
    ph, pw = out
    res = torch.zeros(len(boxes), c, ph, pw, dtype=torch.float64)
    off = 0.5 if aligned else 0.0
    for r, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        f = feat[int(bidx[r])].double()
        sx, sy = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sx, y2 * scale - off - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        for i in range(ph):
            for j in range(pw):
                acc = torch.zeros(c, dtype=torch.float64)
                for iy in range(sr):
                    y = sy + i * bh + (iy + 0.5) * bh / sr
                    for ix in range(sr):
                        x = sx + j * bw + (ix + 0.5) * bw / sr
                        if y < -1.0 or y > h or x < -1.0 or x > w:
                            continue
                        y, x = max(y, 0.0), max(x, 0.0)
                        yl, xl = int(y), int(x)
                        if yl >= h - 1:
                            yh = yl = h - 1
                            y = float(yl)
                        else:
                            yh = yl + 1
                        if xl >= w - 1:
                            xh = xl = w - 1
                            x = float(xl)
                        else:
                            xh = xl + 1
                        ly, lx = y - yl, x - xl
                        acc += (1 - ly) * (1 - lx) * f[:, yl, xl] + (1 - ly) * lx * f[:, yl, xh] \
                            + ly * (1 - lx) * f[:, yh, xl] + ly * lx * f[:, yh, xh]
                res[:, :, i, j][r] = acc / (sr * sr)
    return res


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_roi_align_matches_slow_reference(aligned, scale):
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 3, 5, 6, generator=g, dtype=torch.float64)
    # fractional boxes, one partly outside the map, one smaller than a cell, one past the border
    boxes = torch.tensor([[0.3, 0.7, 4.9, 3.2], [-1.5, -0.4, 2.2, 6.8], [3.3, 1.1, 3.6, 1.4],
                          [5.0, 4.0, 7.5, 6.5], [0.0, 0.0, 6.0, 5.0]], dtype=torch.float64) / scale
    bidx = torch.tensor([0, 1, 1, 0, 1])
    got = roi_align(feat, boxes, bidx, (3, 2), scale, 2, aligned)
    want = roi_align_reference(feat, boxes, bidx, (3, 2), scale, 2, aligned)
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


def test_roi_align_of_a_constant_map_is_constant_inside():
    feat = torch.full((1, 2, 4, 4), 3.0)
    out = roi_align(feat, torch.tensor([[0.5, 0.5, 3.5, 3.5]]), torch.tensor([0]), 7, 1.0, 2, True)
    assert torch.allclose(out, torch.full_like(out, 3.0))


# ------------------------------------------------------------------- shared post-processing
def test_select_keeps_above_threshold_top_36_sorted():
    rng = np.random.default_rng(0)
    scores = np.concatenate([np.linspace(0.21, 0.99, 45), [0.2, 0.2, 0.1, 0.05, 0.0]]).astype(np.float32)
    perm = rng.permutation(50)
    det = Detections(rng.random((50, 4)).astype(np.float32), scores[perm], np.arange(50, dtype=np.int32),
                     np.arange(50, dtype=np.float32)[:, None].repeat(3, 1))
    out = select(det, 0.2, 36)
    assert len(out) == 36
    assert np.all(out.scores > 0.2) and np.all(np.diff(out.scores) <= 0)
    np.testing.assert_allclose(out.scores, np.sort(scores[scores > 0.2])[::-1][:36])
    # boxes, labels and features travel with their score
    np.testing.assert_array_equal(out.labels, out.feats[:, 0].astype(np.int32))
    np.testing.assert_array_equal(out.boxes, det.boxes[out.labels])
    assert len(select(Detections(np.zeros((1, 4)), np.array([0.2]), np.zeros(1)), 0.2, 36)) == 0  # 0.2 itself dropped


def test_pack_pads_and_masks_and_an_empty_clip_is_all_masked():
    d = Detections(np.array([[10, 20, 50, 60]], np.float32), np.array([0.9], np.float32), np.array([3], np.int32),
                   np.ones((1, 4), np.float32))
    out = pack([d, Detections.empty(4)], 36, 4, (100, 200))
    assert out["boxes"].shape == (2, 36, 4) and out["feats"].shape == (2, 36, 4)
    np.testing.assert_allclose(out["boxes"][0, 0], [0.05, 0.2, 0.25, 0.6])
    assert out["valid"][0].tolist() == [True] + [False] * 35
    assert not out["valid"][1].any() and (out["labels"][1] == -1).all()
    for k in ("boxes", "scores", "feats"):
        assert np.all(out[k][0, 1:] == 0) and np.all(out[k][1] == 0) and np.isfinite(out[k]).all()


def test_centre_frames_follow_the_clip_grid():
    np.testing.assert_array_equal(centre_frames(3, 48, 16, 16), [8, 24, 40])
    np.testing.assert_array_equal(centre_frames(3, 41, 16, 16), [8, 24, 40])
    np.testing.assert_array_equal(centre_frames(1, 5, 16, 16), [4])  # one padded clip of a short video
    np.testing.assert_array_equal(centre_frames(2, 40, 16, 8), [8, 16])


# ---------------------------------------------------------------------------------- backends
def moving_square(n: int = 40, h: int = 96, w: int = 128):
    """A textured background and a textured 16x16 square moving right 2 px a frame."""
    rng = np.random.default_rng(0)
    bg = rng.integers(40, 110, (h, w, 3)).astype(np.uint8)
    tex = rng.integers(180, 255, (16, 16, 3)).astype(np.uint8)
    frames, truth = [], []
    for t in range(n):
        f = bg.copy()
        x = 10 + 2 * t
        f[40:56, x : x + 16] = tex
        frames.append(f)
        truth.append((x, 40, x + 16, 56))
    return frames, truth


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_background_finds_a_moving_square():
    frames, truth = moving_square()
    det = get_detector({"backend": "background", "name": "bg"})
    centres = np.array([24, 39])
    out = det.detect_video("v", enumerate(frames), centres)
    for c, d in zip(centres, out):
        assert len(d) == 1, d.boxes
        assert iou(d.boxes[0], truth[c]) > 0.7
        assert d.scores[0] > 0.2 and d.labels[0] == -1
        assert d.feats.shape == (1, 2048) and np.isfinite(d.feats).all()


def test_background_static_video_has_no_objects():
    frames, _ = moving_square(20)
    det = get_detector({"backend": "background", "name": "bg"})
    out = det.detect_video("v", enumerate([frames[0]] * 20), np.array([8, 19]))
    assert [len(d) for d in out] == [0, 0]
    assert out[0].feats.shape == (0, 2048)


def test_none_backend_gives_empty_object_sets():
    det = get_detector({"backend": "none", "name": "no", "feature_dim": 16})
    out = det.detect_video("v", iter(()), np.array([8, 24]))
    assert [len(d) for d in out] == [0, 0] and out[0].feats.shape == (0, 16) and not det.needs_frames
    packed = pack(out, 36, 16, det.frame_size("v"))
    assert not packed["valid"].any() and packed["feats"].shape == (2, 36, 16)


def _has_hog() -> bool:
    import cv2

    return hasattr(cv2, "HOGDescriptor")


@pytest.mark.skipif(not _has_hog(), reason="this OpenCV has no HOGDescriptor (OpenCV 5 moved it to opencv-contrib)")
def test_hog_person_runs_and_returns_the_documented_layout():
    frames, _ = moving_square(2, 160, 128)
    det = get_detector({"backend": "hog_person", "name": "hog"})
    assert det.class_names == ["person"] and det.feature_dim == 2048
    out = det.detect_selected(np.stack(frames))
    for d in out:
        k = len(d)
        assert d.boxes.shape == (k, 4) and d.scores.shape == (k,) and d.labels.shape == (k,) and d.feats.shape == (k, 2048)
        assert np.all(d.labels == 0) and np.all((d.scores > 0.2) & (d.scores <= 1))


def test_hog_person_without_hog_in_opencv_says_what_to_install(monkeypatch):
    import cv2

    monkeypatch.delattr(cv2, "HOGDescriptor", raising=False)
    with pytest.raises(DetectorError, match=r"(?s)person-only.*opencv-contrib.*background"):
        get_detector({"backend": "hog_person", "name": "people"})


def test_onnx_missing_file_names_the_option_and_the_alternatives(tmp_path):
    with pytest.raises(DetectorError) as err:
        get_detector({"backend": "onnx", "name": "yolo", "onnx": {"model": str(tmp_path / "yolov8n.onnx")}})
    msg = str(err.value)
    assert "detectors.yolo.onnx.model" in msg and "yolov8n.onnx" in msg
    for alt in ("hog_person", "background", "precomputed", "none"):
        assert alt in msg
    with pytest.raises(DetectorError, match="detectors.yolo.onnx.model = None"):
        get_detector({"backend": "onnx", "name": "yolo"})


def test_decode_yolo_maps_letterboxed_boxes_back_and_runs_classwise_nms():
    from vadflow.detection.onnx_dnn import decode_yolo

    # A 100x200 frame letterboxed into 64x64: ratio 0.32, content 32 px high, top pad 16.
    ratio, pad = 0.32, (0.0, 16.0)
    boxes = [(16, 32, 8, 8), (16.5, 32, 8, 8), (16, 32, 8, 8), (48, 40, 6, 4)]  # cx, cy, w, h in input pixels
    cls = [(0.9, 0.0), (0.8, 0.0), (0.0, 0.7), (0.01, 0.02)]  # 2nd duplicates the 1st (same class); 3rd is class 1
    v8 = np.array([[*b, *c] for b, c in zip(boxes, cls)], np.float32).T[None]  # [1, 4 + 2, N]
    out = decode_yolo(v8, "yolov8", ratio, pad, (100, 200), 0.05, 0.45)
    np.testing.assert_allclose(out.scores, [0.9, 0.7], rtol=1e-6)
    np.testing.assert_array_equal(out.labels, [0, 1])
    np.testing.assert_allclose(out.boxes[0], [(16 - 4) / ratio, (32 - 4 - 16) / ratio, (16 + 4) / ratio, (32 + 4 - 16) / ratio], rtol=1e-5)
    # yolov5: objectness x class score
    v5 = np.array([[*b, 0.5, *c] for b, c in zip(boxes, cls)], np.float32)[None]
    out5 = decode_yolo(v5, "yolov5", ratio, pad, (100, 200), 0.05, 0.45)
    np.testing.assert_allclose(out5.scores, [0.45, 0.35], rtol=1e-6)


def test_onnx_backend_runs_an_exported_model(tmp_path):
    """A tiny stand-in for a YOLOv8 export: fixed candidates in the [1, 4 + C, N] layout."""
    pytest.importorskip("onnx", reason="exporting a model needs the onnx package (in the test extras, not a vadflow dependency)")

    class FakeYolo(torch.nn.Module):
        def forward(self, images):
            rows = torch.tensor([[32.0, 32.0, 16.0, 16.0, 0.9, 0.0], [20.0, 40.0, 8.0, 8.0, 0.0, 0.6]]).T[None]
            return rows + 0.0 * images.mean()

    path = tmp_path / "fake.onnx"
    x = torch.zeros(1, 3, 64, 64)
    try:
        torch.onnx.export(FakeYolo(), x, str(path), input_names=["images"], output_names=["output0"], dynamo=False)
    except Exception:  # noqa: BLE001 - newer torch: the dynamo exporter only
        torch.onnx.export(FakeYolo(), x, str(path), input_names=["images"], output_names=["output0"], dynamo=True)
    det = get_detector({"backend": "onnx", "name": "y", "onnx": {"model": str(path), "input_size": 64}})
    out = det.detect_selected(np.zeros((1, 32, 64, 3), np.uint8))[0]  # letterboxed: ratio 1, top pad 16
    np.testing.assert_allclose(out.scores, [0.9, 0.6], rtol=1e-5)
    np.testing.assert_array_equal(out.labels, [0, 1])
    np.testing.assert_allclose(out.boxes, [[24, 8, 40, 24], [16, 20, 24, 28]], atol=1e-4)
    assert out.feats.shape == (2, 2048) and len(det.weights_sha256) > 64


def _b64(a) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def test_precomputed_butd_tsv_plain_npz_and_missing_frame(tmp_path):
    rng = np.random.default_rng(1)
    feats = rng.random((3, 8)).astype(np.float32)
    boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 30], [1, 2, 3, 4]], np.float32)
    tsv = tmp_path / "butd.tsv"
    lines = [f"vidA_x264/{f}\t200\t100\t3\t{_b64(boxes)}\t{_b64(feats)}" for f in (8, 24)]
    # LXMERT's 10 columns, with scores and classes; the 0.1-score box is dropped by the 0.2 rule
    conf, ids = np.array([0.9, 0.1, 0.5], np.float32), np.array([7, 8, 9], np.int64)
    lines.append(f"vidB_x264_8\t100\t200\t{_b64(ids)}\t{_b64(conf)}\t{_b64(ids)}\t{_b64(conf)}\t3\t{_b64(boxes)}\t{_b64(feats)}")
    tsv.write_text("\n".join(lines) + "\n")
    det = get_detector({"backend": "precomputed", "name": "bu", "precomputed": {"format": "butd_tsv", "path": str(tsv)}})
    assert det.feature_dim == 8 and not det.needs_frames
    a = det.detect_video("vidA_x264", iter(()), np.array([8, 24]))
    assert det.frame_size("vidA_x264") == (100, 200)
    np.testing.assert_array_equal(a[1].scores, [1.0, 1.0, 1.0])  # the original TSV has no scores
    np.testing.assert_allclose(a[0].feats, feats)
    b = det.detect_video("vidB_x264", iter(()), np.array([8]))[0]
    np.testing.assert_array_equal(b.labels, [7, 9])
    np.testing.assert_allclose(b.scores, [0.9, 0.5])
    with pytest.raises(DetectorError, match=r"vidA_x264 .*centre frame 40"):
        det.detect_video("vidA_x264", iter(()), np.array([8, 24, 40]))
    near = get_detector({"backend": "precomputed", "name": "bu", "precomputed": {"format": "butd_tsv", "path": str(tsv), "max_offset": 16}})
    assert len(near.detect_video("vidA_x264", iter(()), np.array([40]))[0]) == 3

    plain = tmp_path / "plain"
    plain.mkdir()
    np.savez(plain / "v1.npz", frames=np.array([8, 24]), boxes=np.zeros((2, 2, 4), np.float32) + [0, 0, 4, 4],
             scores=np.array([[0.5, 0.9], [0.3, 0.0]], np.float32), feats=np.ones((2, 2, 5), np.float32),
             valid=np.array([[True, True], [True, False]]), frame_size=np.array([60, 80]))
    det = get_detector({"backend": "precomputed", "name": "p", "precomputed": {"format": "npz", "path": str(plain)}})
    out = det.detect_video("v1", iter(()), np.array([8, 24]))
    np.testing.assert_allclose(out[0].scores, [0.9, 0.5])
    assert len(out[1]) == 1 and det.frame_size("v1") == (60, 80) and det.feature_dim == 5


def test_butd_npz_per_image_files(tmp_path):
    d = tmp_path / "npz" / "vidC"
    d.mkdir(parents=True)
    for f in (8, 24):
        np.savez(d / f"{f:06d}.npz", x=np.full((2, 6), f, np.float32), bbox=np.array([[0, 0, 5, 5], [1, 1, 9, 9]], np.float32),
                 num_bbox=2, image_h=50, image_w=70)
    det = get_detector({"backend": "precomputed", "name": "n", "precomputed": {"format": "butd_npz", "path": str(tmp_path / "npz")}})
    out = det.detect_video("vidC", iter(()), np.array([8, 24]))
    assert det.frame_size("vidC") == (50, 70)
    np.testing.assert_allclose(out[1].feats, 24.0)


# --------------------------------------------------------------------- run + store (end to end)
@pytest.fixture()
def tiny_dataset(tmp_path):
    frames, _ = moving_square(40)
    write_mp4(tmp_path / "data" / "Videos" / "a.mp4", np.stack(frames))
    write_mp4(tmp_path / "data" / "Videos" / "b.mp4", np.stack(frames[:10]))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("id,path,split,cls,anomalous,frames,fps,width,height,status,error\n"
                        "a,Videos/a.mp4,train,Normal,False,40,30.0,128,96,ok,\n"
                        "b,Videos/b.mp4,test,Normal,False,10,30.0,128,96,ok,\n")
    return tmp_path, manifest


def test_detect_dataset_writes_aligned_rows_and_the_store_checks_them(tiny_dataset):
    from vadflow.detection.run import detect_dataset

    root, manifest = tiny_dataset
    cfg = {"name": "bg", "backend": "background", "features": "i3d_map", "clip_len": 16, "stride": 16, "tail": "drop",
           "resize": [48, 64], "max_objects": 4}
    stats = detect_dataset(manifest, root / "data", cfg, root / "det.h5", progress=False)
    assert stats["videos"] == 2 and stats["clips"] == 3
    with DetectionStore(root / "det.h5") as store:
        assert store.attrs["backend"] == "background" and store.attrs["max_objects"] == 4
        objs = store.objects("a", clip_len=16, stride=16, n_clips=2)
        assert len(objs) == 2 and objs.frame_hw == (48, 64) and objs.feature_dim == 2048
        sets = objs[0:2]
        assert sets.valid.shape == (2, 4) and sets.feats.dtype == np.float32
        assert sets.valid[1].sum() == 1  # the square, on frame 24
        box = sets.pixel_boxes()[1][sets.valid[1]][0]
        # frame 24 holds the square at x 58..74, y 40..56: (29, 20, 37, 28) at half size; after mpeg4 and
        # the downscale its texture is blurred, and MOG2 keeps the leading edge of a flat region
        assert iou(box, (29, 20, 37, 28)) > 0.3
        np.testing.assert_array_equal(store._group("a")["centres"][()], [8, 24])
        np.testing.assert_array_equal(store._group("b")["centres"][()], [8])  # 10 frames: one padded clip
        with pytest.raises(DetectionStoreError, match="stride = 16"):
            store.objects("a", clip_len=16, stride=8)
        with pytest.raises(DetectionStoreError, match="2 clips"):
            store.objects("a", 16, 16, n_clips=3)
        with pytest.raises(DetectionStoreError, match="no detections for video zz"):
            store.objects("zz")
        counts = store.class_counts("a", 2)
        assert counts.shape == (2, 2) and counts.sum() == 0  # background blobs have no class


def test_class_counts_bag_of_objects(tmp_path):
    from vadflow.detection.writer import DetectionWriter

    arrays = {"boxes": np.zeros((2, 3, 4), np.float32), "scores": np.array([[0.9, 0.5, 0], [0.4, 0, 0]], np.float32),
              "labels": np.array([[1, 1, -1], [0, -1, -1]], np.int32), "feats": np.zeros((2, 3, 2), np.float32),
              "valid": np.array([[True, True, False], [True, False, False]])}
    with DetectionWriter(tmp_path / "d.h5", {"class_names": json.dumps(["person", "car"])}) as w:
        w.add("v", arrays, np.array([8, 24]), {"frame_height": 1, "frame_width": 1, "clip_len": 16, "stride": 16})
    with DetectionStore(tmp_path / "d.h5") as store:
        np.testing.assert_array_equal(store.class_counts("v", 2), [[0, 2], [1, 0]])
        np.testing.assert_allclose(store.class_counts("v", 2, weighted=True), [[0, 1.4], [0.4, 0]])
        assert store.class_names == ["person", "car"]


# ---------------------------------------------------------------------------------- config
@pytest.fixture()
def cfg():
    from snakemake.utils import validate

    c = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    validate(c, SCHEMA)
    return c


def test_detector_params_scope_and_clip_grid(cfg):
    p = vc.detector_params(cfg, "synthetic", "background")
    assert (p["clip_len"], p["stride"], p["tail"], p["name"]) == (16, 16, "drop", "background")
    assert "hog" not in p and p["roi"]["weights"] == "random"  # only this backend's sub-sections
    over = copy.deepcopy(cfg)
    over["datasets"]["synthetic"]["overrides"]["detectors"] = {"background": {"resize": 64}}
    over["features"]["i3d_map"]["stride"] = 8
    p2 = vc.detector_params(over, "synthetic", "background")
    assert p2["resize"] == 64 and p2["stride"] == 8
    assert vc.detector_params(over, "ucf_crime", "background")["resize"] is None
    assert vc.method_detections(cfg, "synthetic", "ador") == ["results/synthetic/detections/background.h5"]
    assert vc.method_detections(cfg, "synthetic", "ador_action") == []
    over["methods"]["ador_action"]["detections"] = "background"  # named, but the action encoder reads no objects
    assert vc.method_detections(over, "synthetic", "ador_action") == []
    assert vc.method_detections(cfg, "synthetic", "adnet") == []


def test_detector_cross_checks(cfg):
    vc.check(cfg)
    bad = copy.deepcopy(cfg)
    bad["methods"]["ador"]["detections"] = "yolo"
    with pytest.raises(vc.ConfigError, match=r"methods.ador.detections = 'yolo'"):
        vc.check(bad)
    bad = copy.deepcopy(cfg)
    bad["methods"]["ador"]["detections"] = None
    with pytest.raises(vc.ConfigError, match="encoder both needs objects"):
        vc.check(bad)
    bad = copy.deepcopy(cfg)
    bad["features"]["i3d"]["stride"] = 8
    bad["detectors"]["background"]["features"] = "i3d"
    with pytest.raises(vc.ConfigError, match="set detectors.background.features to 'i3d_map'"):
        vc.check(bad)
    bad = copy.deepcopy(cfg)
    bad["detectors"]["background"]["features"] = "x3d"
    with pytest.raises(vc.ConfigError, match="detectors.background.features = 'x3d'"):
        vc.check(bad)
    bad = copy.deepcopy(cfg)
    bad["datasets"]["synthetic"]["overrides"]["detectors"] = {"yolo": {}}
    with pytest.raises(vc.ConfigError, match="overrides.detectors.yolo"):
        vc.check(bad)


def test_schema_defaults_match_detector_defaults(cfg):
    """Defaults live in the schema; the package keeps a copy so it runs without Snakemake."""
    from snakemake.utils import validate

    from vadflow.detection import background, hog, onnx_dnn, precomputed

    cfg["detectors"] = {b: {"backend": b, "features": "i3d_map"} for b in BACKENDS}
    cfg["detectors"]["precomputed"]["precomputed"] = {"path": "x"}
    validate(cfg, SCHEMA)
    d = cfg["detectors"]
    assert {k: d["background"][k] for k in DEFAULTS} == DEFAULTS
    assert d["background"]["background"] == background.DEFAULTS
    assert d["hog_person"]["hog"] == hog.DEFAULTS
    assert d["onnx"]["onnx"] == onnx_dnn.DEFAULTS
    assert d["precomputed"]["precomputed"] == {**precomputed.DEFAULTS, "path": "x"}
    assert "roi" not in d["precomputed"] and "roi" not in d["none"]


def test_default_clip_grid_is_every_backbones_default():
    from vadflow.config.sections import DEFAULT_CLIP
    from vadflow.features.backbones import BACKBONES

    for bb in BACKBONES.values():
        assert (bb.defaults["clip_len"], bb.defaults["stride"]) == (DEFAULT_CLIP["clip_len"], DEFAULT_CLIP["stride"]), bb.name
