"""Gap 3: any video name without whitespace works in every list format and end to end, a name
with whitespace is an error naming file and line, and no shell ever sees a video name."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import pandas as pd
import pytest

from vadflow.data import action_folder
from vadflow.data.annotations import AnnotationError, read_frame_counts, read_split_list, read_temporal_annotation, read_v2_json
from conftest import ROOT

from .helpers import HOSTILE, METHODS, pwned_files

NAME = "Normal_Videos_q'$(touch${IFS}PWNED)`id`;\"&|<>*?~#%ü_x264"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_list_format_accepts_a_name_without_whitespace(tmp_path):
    rel = f"Testing_Normal_Videos_Anomaly/{NAME}.mp4"
    assert read_split_list(write(tmp_path, "Anomaly_Test.txt", f"{rel}\n")) == [rel]
    sultani = read_temporal_annotation(write(tmp_path, "t.txt", f"{NAME}.mp4  Normal  -1  -1  -1  -1  \n"))
    assert list(sultani) == [NAME]
    with_frames = read_temporal_annotation(write(tmp_path, "w.txt", f"{rel} 530 Normal -1 -1 -1 -1\n"))
    assert with_frames[NAME].n_frames == 530 and with_frames[NAME].relpath == rel
    assert read_frame_counts(write(tmp_path, "c.txt", f"{rel} 1657\n")) == {NAME: 1657}
    assert list(read_v2_json(write(tmp_path, "v2.json", json.dumps({rel: [{"start": 1, "end": 2}]})))) == [NAME]
    assert action_folder.read_list(write(tmp_path, "trainlist01.txt", f"Cls/{NAME}.avi 1\n")) == {NAME}


@pytest.mark.parametrize("reader, text", [
    (read_split_list, "Abuse/Abuse001_x264.mp4\nTesting_Normal_Videos_Anomaly/Normal_Videos_quote'$(touch X)_x264.mp4\n"),
    (read_temporal_annotation, "Abuse028_x264.mp4  Abuse  165  240  -1  -1\nNormal_Videos_quote'$(touch X)_x264.mp4  Normal  -1  -1  -1  -1\n"),
    (read_temporal_annotation, "Abuse/Abuse028_x264.mp4 100 Abuse 1 2 -1 -1\nNormal/Normal_Videos_quote'$(touch X)_x264.mp4 530 Normal -1 -1 -1 -1\n"),
    (read_frame_counts, "Abuse/Abuse001_x264.mp4 10\nNormal/Normal_Videos_quote'$(touch X)_x264.mp4 1657\n"),
    (action_folder.read_list, "Cls/v_a_g01_c01.avi 1\nCls/v_quote'$(touch X).avi 1\n"),
])
def test_a_name_with_whitespace_is_named_with_file_and_line(tmp_path, reader, text):
    path = write(tmp_path, "list.txt", text)
    with pytest.raises(AnnotationError) as err:
        reader(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:2: video name ") and "$(touch X)" in msg and "contains whitespace" in msg


def test_other_malformed_lines_still_say_what_is_expected(tmp_path):
    path = write(tmp_path, "t.txt", "Abuse028_x264.mp4  Abuse  165\n")
    with pytest.raises(AnnotationError, match=rf"{path}:1: expected 'Video.mp4 Class s1 e1 \[s2 e2\]'"):
        read_temporal_annotation(path)


@pytest.mark.e2e
def test_hostile_names_run_end_to_end_and_no_shell_sees_them(reference_run, hostile_root, tmp_path_factory):
    """The dataset folder holds a space, `$(touch ...)` and both quotes; three videos hold command
    substitutions, backticks, quotes, `;`, `&` and a non-ASCII letter. Every method kind runs
    through manifest, extraction, training, scoring and evaluation, and no PWNED file appears."""
    assert " " in hostile_root.name and "$(touch" in hostile_root.name
    results = reference_run / "results" / "ucf"
    man = pd.read_csv(results / "manifest.csv", keep_default_na=False)
    status = dict(zip(man["id"], man["status"]))
    assert all(status[new] == "ok" for new in HOSTILE.values()), status
    test_ids = set(man.loc[man["split"] == "test", "id"])
    hostile_test = set(HOSTILE.values()) & test_ids
    assert len(hostile_test) == 2
    with h5py.File(results / "features" / "i3d.h5") as f:
        assert set(HOSTILE.values()) <= set(f)
    with h5py.File(results / "frames" / "cae.h5") as f:  # svdd_cae's frame cache: normal training and all test videos
        assert set(HOSTILE.values()) <= set(f)
    for method in METHODS:
        with h5py.File(results / method / "scores.h5") as f:  # headline datasets; svdd_cae adds sets/ and logs/
            assert {k for k in f if isinstance(f[k], h5py.Dataset)} == test_ids
        per_video = pd.read_csv(results / method / "per_video.csv", keep_default_na=False)
        assert hostile_test <= set(per_video["id"])
    # A shell would have run `touch` in the job's working directory (the run's folder, under basetemp).
    assert pwned_files(tmp_path_factory.getbasetemp(), ROOT) == [] and not list(Path.home().glob("PWNED*"))
