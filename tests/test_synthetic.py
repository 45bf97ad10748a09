"""The synthetic dataset generator: determinism, UCF-Crime layout and formats, annotations
that match the rendered events, decodable videos, and atomic replacement of the root."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import av
import numpy as np
import pytest

from vadflow.data import synthetic
from vadflow.data.synthetic import encode, layout, render, timeline
from vadflow.data.synthetic.events import EVENTS

CLASSES = ["Fighting", "Robbery", "Explosion", "RoadAccidents", "Vandalism", "Protest", "MolotovBomb"]
LINE = re.compile(r"^(\S+\.mp4)  (\S+)  (-?\d+)  (-?\d+)  (-?\d+)  (-?\d+)  $")


def tiny_cfg(**over) -> dict:
    cfg = dict(
        seed=0, n_train_normal=3, n_train_anomalous=3, n_test_normal=2, n_test_anomalous=2,
        duration_s=[2, 4], fps=30, width=64, height=48, classes=CLASSES, strength=1.0,
        distractor_prob=0.5, event_fraction=[0.1, 0.4], two_event_prob=0.3, short_video_prob=0.05,
    )
    cfg.update(over)
    return cfg


def annotation_files(root: Path) -> dict[str, bytes]:
    """Every list/annotation file (everything but videos and the manifest), by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".txt", ".json") and p.name != "manifest.json"
    }


def frame_fields(events: list[dict]) -> list[int]:
    out = [x for e in events for x in (e["start"] + 1, e["end"])]
    return out + [-1] * (4 - len(out))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("syn") / "synthetic"
    synthetic.generate(tiny_cfg(), root, progress=False)
    return root, json.loads((root / "manifest.json").read_text())


def test_same_seed_same_frames_and_annotations_other_seed_differs(dataset, tmp_path):
    root, manifest = dataset
    again = tmp_path / "again"
    synthetic.generate(tiny_cfg(), again, progress=False)
    other = tmp_path / "other"
    synthetic.generate(tiny_cfg(seed=1), other, progress=False)

    digests = [v["sha256"] for v in manifest["videos"]]
    assert [v["sha256"] for v in json.loads((again / "manifest.json").read_text())["videos"]] == digests
    assert annotation_files(again) == annotation_files(root)
    assert (again / "manifest.json").read_bytes() == (root / "manifest.json").read_bytes()

    other_manifest = json.loads((other / "manifest.json").read_text())
    assert not set(digests) & {v["sha256"] for v in other_manifest["videos"]}
    assert annotation_files(other) != annotation_files(root)


def test_layout_names_and_split_lists(dataset):
    root, manifest = dataset
    videos = manifest["videos"]
    assert len({v["id"] for v in videos}) == len(videos) == 10
    for v in videos:
        assert (root / v["relpath"]).is_file()
        assert v["relpath"] == f"Videos/{Path(v['relpath']).parent.name}/{v['id']}.mp4"
    for split, n_anom, n_norm in (("train", 3, 3), ("test", 2, 2)):
        title = "Train" if split == "train" else "Test"
        lines = (root / "Anomaly_Detection_splits" / f"Anomaly_{title}.txt").read_text().splitlines()
        assert lines == [v["relpath"].removeprefix("Videos/") for v in videos if v["split"] == split]
        anom, norm = lines[:n_anom], lines[n_anom:]
        assert len(norm) == n_norm
        assert anom == sorted(anom, key=lambda p: p.split("/")[0])  # class-sorted, as in UCF
        for line in anom:
            assert re.fullmatch(r"(\w+)/\1\d{3}_x264\.mp4", line), line
        pattern = r"Training_Normal_Videos_Anomaly/Normal_Videos\d{3}_x264\.mp4" if split == "train" else r"Testing_Normal_Videos_Anomaly/Normal_Videos_\d{3}_x264\.mp4"
        for line in norm:
            assert re.fullmatch(pattern, line), line


def test_validation_split_leaves_train_and_test_as_they_were(dataset, tmp_path):
    """n_val_* adds labelled validation videos after the test ones; train and test videos,
    ids and files are byte for byte those of the dataset without them, and the manifest
    stage reads the new split with its frame labels."""
    from vadflow.data.manifest import build_manifest
    from vadflow.video.decoder import probe

    root, manifest = dataset
    with_val = tmp_path / "with_val"
    synthetic.generate(tiny_cfg(n_val_normal=2, n_val_anomalous=3), with_val, progress=False)
    videos = json.loads((with_val / "manifest.json").read_text())["videos"]
    assert videos[: len(manifest["videos"])] == manifest["videos"]
    val = videos[len(manifest["videos"]):]
    assert [v["split"] for v in val] == ["val"] * 5 and sum(v["class"] == "Normal" for v in val) == 2
    assert all(v["events"] for v in val if v["class"] != "Normal")
    assert not {v["id"] for v in val} & {v["id"] for v in manifest["videos"]}
    files = annotation_files(with_val)
    for rel, data in annotation_files(root).items():
        if not rel.endswith("val.json"):
            assert files[rel] == data, rel
    assert (with_val / "Anomaly_Detection_splits/Anomaly_Val.txt").read_text().splitlines() == [
        v["relpath"].removeprefix("Videos/") for v in val]
    assert not (root / "Anomaly_Detection_splits/Anomaly_Val.txt").exists()

    table, labels, _ = build_manifest({"kind": "synthetic", "root": str(with_val)}, probe=probe, progress=False)
    assert list(table["split"]) == [v["split"] for v in videos]
    for v in val:
        expect = np.zeros(v["n_frames"], np.uint8)
        for ev in v["events"]:
            expect[ev["start"]:ev["end"]] = 1
        np.testing.assert_array_equal(labels[v["id"]], expect)


def test_temporal_annotations_are_one_based_inclusive(dataset):
    root, manifest = dataset
    for split, stem in (("train", "Training"), ("test", "Testing")):
        text = (root / f"Temporal_Anomaly_Annotation_for_{stem}_Videos.txt").read_text()
        videos = [v for v in manifest["videos"] if v["split"] == split]
        lines = text.splitlines()
        assert text.endswith("  \n") and len(lines) == len(videos)
        for line, v in zip(lines, videos):
            m = LINE.match(line)
            assert m, repr(line)
            assert m.group(1) == f"{v['id']}.mp4" and m.group(2) == v["class"]
            fields = [int(x) for x in m.groups()[2:]]
            assert fields == frame_fields(v["events"])
            if v["class"] == "Normal":
                assert line == f"{v['id']}.mp4  Normal  -1  -1  -1  -1  "
            else:
                assert 1 <= len(v["events"]) <= 2
                for s, e in zip(fields[::2], fields[1::2]):
                    if s != -1:
                        assert 1 <= s <= e <= v["n_frames"]
    # The pinned edge cases: a test video with two events, events touching both ends.
    test_anom = [v for v in manifest["videos"] if v["split"] == "test" and v["class"] != "Normal"]
    assert any(len(v["events"]) == 2 for v in test_anom)
    assert any(v["events"][0]["start"] == 0 for v in test_anom)
    assert any(v["events"][-1]["end"] == v["n_frames"] for v in test_anom)


def test_with_frames_and_v2_json(dataset):
    root, manifest = dataset
    fps = 30
    by_split = {s: [v for v in manifest["videos"] if v["split"] == s] for s in ("train", "test")}
    listed = lambda v: v["relpath"].removeprefix("Videos/")  # noqa: E731
    test_lines = (root / "Test_Annotation_with_frames.txt").read_text().splitlines()
    assert test_lines == [" ".join(map(str, (listed(v), v["n_frames"], v["class"], *frame_fields(v["events"])))) for v in by_split["test"]]
    train_lines = (root / "Train_Annotation_with_frames.txt").read_text().splitlines()
    assert train_lines == [f"{listed(v)} {v['n_frames']}" for v in by_split["train"]]
    for split, vids in by_split.items():
        data = json.loads((root / "Annotations" / "TemporalAnnotations" / "abnormal" / f"{split}.json").read_text())
        anomalous = [v for v in vids if v["class"] != "Normal"]
        assert list(data) == [listed(v) for v in anomalous]
        for v in anomalous:
            for sec, ev in zip(data[listed(v)], v["events"], strict=True):
                # Integer seconds that just cover the exact frames.
                assert sec["start"] * fps <= ev["start"] < (sec["start"] + 1) * fps
                assert (sec["end"] - 1) * fps < ev["end"] <= sec["end"] * fps


def test_videos_decode_to_manifest_frames(dataset):
    root, manifest = dataset
    for v in manifest["videos"]:
        with av.open(str(root / v["relpath"])) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert len(frames) == v["n_frames"], v["id"]
        assert frames[0].shape == (v["height"], v["width"], 3)
    # The encoding is faithful enough for small events to survive: compare with the raw frames.
    spec, plan = next(synthetic.plans(tiny_cfg()))
    raw = np.stack(list(render.render_frames(plan))).astype(np.float32)
    with av.open(str(root / spec.relpath)) as c:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(np.float32)
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs((raw - decoded) @ luma).mean() < 4.0


def test_decord_reads_the_same_frame_count(dataset):
    decord = pytest.importorskip("decord")
    root, manifest = dataset
    v = manifest["videos"][0]
    assert len(decord.VideoReader(str(root / v["relpath"]))) == v["n_frames"]


def test_annotation_matches_rendered_explosion(tmp_path):
    cfg = tiny_cfg(classes=["Explosion"], n_train_anomalous=1, n_train_normal=1, n_test_anomalous=1, n_test_normal=1, duration_s=[3, 3])
    root = tmp_path / "syn"
    synthetic.generate(cfg, root, progress=False)
    manifest = json.loads((root / "manifest.json").read_text())
    lines = {}
    for stem in ("Training", "Testing"):
        for line in (root / f"Temporal_Anomaly_Annotation_for_{stem}_Videos.txt").read_text().splitlines():
            m = LINE.match(line)
            lines[m.group(1)] = [int(x) for x in m.groups()[2:]]
    checked = 0
    for (spec, plan), v in zip(synthetic.plans(cfg), manifest["videos"], strict=True):
        if not spec.anomalous:
            continue
        fields = lines[f"{v['id']}.mp4"]
        ranges = [(s - 1, e) for s, e in zip(fields[::2], fields[1::2]) if s != -1]
        assert ranges == [(e["start"], e["end"]) for e in v["events"]]  # 1-based inclusive == 0-based half-open

        with_event = np.stack(list(render.render_frames(plan))).astype(np.float32)
        assert hashlib.sha256(with_event.astype(np.uint8).tobytes()).hexdigest() == v["sha256"]
        without = np.stack(list(render.render_frames(plan, include_events=False))).astype(np.float32)
        diff = np.abs(with_event - without).mean(axis=(1, 2, 3))
        near = np.zeros(len(diff), bool)  # within the longest ramp half (0.5 s) of an event
        for s0, e0 in ranges:
            inside = diff[s0:e0]
            assert inside.min() > 1.0  # every annotated frame shows the event
            # The annotation sits at the ramp midpoints: its first and last frames already
            # show a good part of the event (a late or early render would not).
            assert diff[s0] > 0.1 * inside.max() and diff[e0 - 1] > 0.1 * inside.max()
            near[max(0, s0 - 15) : e0 + 15] = True
        assert np.all(diff[~near] < 0.05)  # and nothing is drawn away from the events
        checked += 1
    assert checked == 2


def test_strength_scales_event_amplitude():
    def event_energy(cls: str, strength: float) -> float:
        rng = np.random.Generator(np.random.PCG64(11))
        spec = layout.VideoSpec(id="x", list_path=f"{cls}/x.mp4", split="test", cls=cls)
        plan = render.plan_video(rng, spec, tiny_cfg(duration_s=[3, 3], short_video_prob=0.0, strength=strength))
        a = np.stack(list(render.render_frames(plan))).astype(np.float32)
        b = np.stack(list(render.render_frames(plan, include_events=False))).astype(np.float32)
        return float(np.abs(a - b).mean())

    for cls in ("Explosion", "MolotovBomb"):
        full = event_energy(cls, 1.0)
        assert event_energy(cls, 0.3) < 0.6 * full
        assert event_energy(cls, 0.0) < 0.1 * full  # only the movers stay (the thrower, the bottle)


@pytest.mark.parametrize("cls", sorted(EVENTS))
def test_every_class_is_visible_during_its_event(cls):
    rng = np.random.Generator(np.random.PCG64(7))
    spec = layout.VideoSpec(id="x", list_path=f"{cls}/x.mp4", split="test", cls=cls)
    plan = render.plan_video(rng, spec, tiny_cfg(duration_s=[4, 4], short_video_prob=0.0, two_event_prob=0.0))
    assert len(plan.events) == 1 and plan.event_layers
    ev = plan.events[0]
    with_event = np.stack(list(render.render_frames(plan))).astype(np.float32)
    without = np.stack(list(render.render_frames(plan, include_events=False))).astype(np.float32)
    diff = np.abs(with_event - without)[ev.start : ev.end]
    # Some pixels change noticeably during the event (not just the noise, which is shared).
    assert (diff.max(axis=3) > 20).sum() > 5 * (ev.end - ev.start), cls


def test_event_placement_respects_fraction_and_limits():
    rng = np.random.Generator(np.random.PCG64(3))
    for _ in range(300):
        n = int(rng.integers(17, 600))
        events = timeline.place_events(rng, "Fighting", n, 30, (0.1, 0.4), 0.5)
        assert 1 <= len(events) <= 2
        covered = sum(e.end - e.start for e in events)
        assert covered <= 0.4 * n + 1 or covered <= max(2, min(n // 8, 15)) * len(events)
        assert covered >= min(0.1 * n - 1, max(2, min(n // 8, 15)))
        for e in events:
            assert 0 <= e.start < e.end <= n
            a = e.envelope(np.arange(n))
            assert np.all(a[e.start : e.end] >= 0.5) and np.all(np.delete(a, np.arange(e.start, e.end)) < 0.5)
        if len(events) == 2:
            assert events[0].end < events[1].start


def test_lengths_and_class_distribution():
    cfg = tiny_cfg(n_train_anomalous=7, n_train_normal=6, n_test_anomalous=4, n_test_normal=3, duration_s=[1.5, 3])
    specs = layout.plan_dataset(cfg, np.random.Generator(np.random.PCG64(0)))
    assert {s.cls for s in specs if s.split == "train" and s.anomalous} == set(CLASSES)
    assert len({s.cls for s in specs if s.split == "test" and s.anomalous}) == 4
    lengths = [plan.n_frames for _, plan in synthetic.plans(cfg)]
    assert len(lengths) == 20
    assert any(8 <= n < 16 for n in lengths)  # one video shorter than a clip
    assert sum(n % 16 != 0 for n in lengths) > len(lengths) // 2


def test_failed_run_leaves_old_root_untouched(tmp_path, monkeypatch):
    cfg = tiny_cfg(n_train_anomalous=1, n_train_normal=1, n_test_anomalous=1, n_test_normal=1, duration_s=[1, 1.5])
    root = tmp_path / "synthetic"
    synthetic.generate(cfg, root, progress=False)
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    real = encode.write_mp4
    calls = []

    def fail_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(encode, "write_mp4", fail_on_second)
    with pytest.raises(RuntimeError, match="disk full"):
        synthetic.generate(tiny_cfg(**{**cfg, "seed": 5}), root, progress=False)
    assert {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]

    # A successful run replaces the old root and leaves nothing beside it.
    monkeypatch.setattr(encode, "write_mp4", real)
    synthetic.generate(tiny_cfg(**{**cfg, "seed": 5}), root, progress=False)
    assert json.loads((root / "manifest.json").read_text())["seed"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]
