"""Gap 5: a .pt file whose pickle would run code is refused with a clear message and the code
never runs; a saved state with missing or unexpected keys is refused, listing them."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vadflow.features.checkpoints import CheckpointError, read_state_dict
from vadflow.features.lstm_clip import PretrainError, load_model as load_lstm
from vadflow.methods import get_method, load_method
from vadflow.methods.base import MethodError, VideoData
from vadflow.methods.folds import FoldModels
from vadflow.methods.lof.heads import load_head


class Payload:
    """Unpickling this calls ``open(marker, "w")``: it creates a file, as any code could."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def evil_file(tmp_path: Path, name: str, blob_of, legacy: bool = False) -> tuple[Path, Path]:
    marker = tmp_path / f"PWNED_{name}"
    path = tmp_path / f"{name}.pt"
    torch.save(blob_of(Payload(marker)), path, _use_new_zipfile_serialization=not legacy)
    return path, marker


def test_the_payload_is_live(tmp_path):
    """Without weights_only the file does run its code: the refusals below are not vacuous."""
    path, marker = evil_file(tmp_path, "live", lambda p: {"state": p})
    torch.load(path, weights_only=False)
    assert marker.exists()


MODEL_BLOB = lambda p: {"kind": "adnet", "cfg": {"kind": "adnet"}, "state": {"net": p}}  # noqa: E731


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
@pytest.mark.parametrize("loader, blob_of, error, what", [
    (lambda p: get_method("adnet").load(p), MODEL_BLOB, MethodError, "model file"),
    (lambda p: FoldModels.load_folds(get_method("adnet"), p), lambda p: {"kind": "adnet", "cfg": {}, "folds": [p]}, MethodError, "model file"),
    (load_method, MODEL_BLOB, MethodError, "model file"),
    (load_head, lambda p: {"cfg": {}, "head": p}, MethodError, "projection head file"),
    (load_lstm, lambda p: {"format": "x", "encoder": p}, PretrainError, "pretrained LSTM file"),
])
def test_every_loader_refuses_code_and_runs_none(tmp_path, loader, blob_of, error, what, legacy):
    path, marker = evil_file(tmp_path, "evil", blob_of, legacy)
    with pytest.raises(error) as err:
        loader(path)
    msg = str(err.value)
    assert msg.startswith(f"refusing to load {what} {path}: it references the Python object ")
    assert "weights_only=True" in msg and "could run code" in msg and "rerun" in msg
    assert not marker.exists()


def test_backbone_weights_refuse_code_and_run_none(tmp_path):
    path, marker = evil_file(tmp_path, "weights", lambda p: {"conv1.weight": torch.zeros(1), "x": p})
    with pytest.raises(CheckpointError, match="vadflow weights convert --trust"):
        read_state_dict(path)
    assert not marker.exists()


def test_a_plain_pickle_is_refused_too(tmp_path):
    marker = tmp_path / "PWNED_plain"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"kind": "adnet", "cfg": {}, "state": Payload(marker)}, protocol=2))
    with pytest.raises(MethodError, match=f"refusing to load model file {path}"):
        get_method("adnet").load(path)
    assert not marker.exists()


def test_score_job_refuses_in_one_line(tmp_path):
    """Through the CLI a refusal is a user error: one line, exit status 1, no traceback."""
    path, marker = evil_file(tmp_path, "model", MODEL_BLOB)
    res = subprocess.run([sys.executable, "-m", "vadflow.cli", "score", "--cfg", '{"kind": "adnet", "name": "adnet"}',
                          "--model", str(path), "--manifest", "m.csv", "--labels", "l.h5", "--features", "f.h5",
                          "--out", str(tmp_path / "scores.h5"), "-q"], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    (line,) = [ln for ln in res.stderr.splitlines() if "ERROR" in ln]
    assert f"MethodError: refusing to load model file {path}" in line
    assert not marker.exists() and not (tmp_path / "scores.h5").exists()


def trained_adnet(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    videos = [VideoData(f"v{i}", rng.normal(size=(8, 6)).astype(np.float32), 128, 16, 16, bool(i % 2),
                        frame_labels=np.full(128, i % 2, dtype=np.uint8)) for i in range(4)]
    model = get_method("adnet")({"kind": "adnet", "window": 8, "layers": 2, "stages": 1, "channels": 4, "epochs": 1, "device": "cpu"})
    model.fit(videos)
    path = tmp_path / "model.pt"
    model.save(path)
    return path


def test_state_with_missing_or_unexpected_keys_is_refused_listing_them(tmp_path):
    path = trained_adnet(tmp_path)
    blob = torch.load(path, weights_only=True)
    net = blob["state"]["net"]
    dropped = "stages.0.conv_out.weight"
    net.pop(dropped)
    net["stages.0.extra.weight"] = torch.zeros(1)
    torch.save(blob, path)
    with pytest.raises(MethodError) as err:
        get_method("adnet").load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path} does not fit a model of kind adnet:")
    assert f'Missing key(s) in state_dict: "{dropped}"' in msg and 'Unexpected key(s) in state_dict: "stages.0.extra.weight"' in msg


def test_a_model_of_another_kind_is_refused(tmp_path):
    path = trained_adnet(tmp_path)
    with pytest.raises(MethodError, match=rf"{path} holds a model of kind 'adnet', not 'edtcn'"):
        get_method("edtcn").load(path)


def test_model_metadata_records_versions_and_threads(tmp_path):
    meta = torch.load(trained_adnet(tmp_path), weights_only=True)["meta"]
    assert meta["torch"] == str(torch.__version__) and meta["numpy"] == np.__version__
    assert meta["threads"] == torch.get_num_threads() and meta["interop_threads"] >= 1
