"""Xception-LSTM clip extractor (seed document 001, docs/methods/mil.md §8).

A frozen 2-D frame CNN (Xception, or any frame backbone) gives one 2048-d vector per frame; a
1-layer LSTM reads a clip's 16 frame vectors and its last hidden state h_16 is the clip
descriptor ``[d]``, d in {512, 768, 1024}. The LSTM is pretrained as an action classifier
(Dense h1 -> Dense h2 -> Dense n_classes, softmax, categorical cross-entropy, Adam with Keras
decay) and the head is discarded afterwards.

Because the CNN is frozen and nothing is augmented, the per-frame features are computed once
(extractor ``frames: true``, cache ``[n_clips, clip_len, 2048]``) and every later step works on
that cache, exactly (§8 "caching makes pretraining exact and cheap"):

* :func:`pretrain` trains the LSTM + head on sequences ``[N, 16, 2048]`` cut from the cache of the
  pretraining dataset (:func:`event_sequences` or :func:`action_sequences`);
* :func:`derive_features` runs the pretrained LSTM over every clip of a dataset's cache and
  writes the usual ``[n_clips, d]`` clip-feature file (no video is decoded again).

Keras defaults reproduced (Keras 2 ``LSTM``/``Dense``): kernels glorot-uniform, recurrent kernel
orthogonal, biases zero except the forget gate's 1 (``unit_forget_bias``), tanh cell activation
and sigmoid gates (torch's LSTM; the gate order i, f, g, o is Keras's i, f, c, o). All of it is
drawn from a private generator seeded by the extractor ``seed``, never from the global RNG.
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Iterable

import h5py
import numpy as np
import torch
from torch import nn

from vadflow.data.annotations import clip_anomalous_frames, event_clip_classes
from vadflow.device import runtime_info
from vadflow.io import UnsafeFileError, load_torch, save_torch, sha256_file
from vadflow.video.geometry import spread_indices

log = logging.getLogger(__name__)

#: the ``.pt`` artifact's format tag (checked on load).
FORMAT = "vadflow-lstm-clip/1"

#: filled-in values for keys an lstm extractor leaves out (mirror the JSON schema).
DEFAULTS: dict[str, Any] = {"hidden": 1024, "standardize": False, "seed": 0, "device": "auto", "dtype": "float16"}
PRETRAIN_DEFAULTS: dict[str, Any] = {
    "head": None,  # [h1, h2]; null: [d/2, d/8]
    "dataset": None,  # null: the dataset itself (event labels); else a key of `datasets`
    "snippet_threshold": 3,
    "epochs": 100,
    "lr": 1e-5,
    "decay": 1e-6,
    "batch_size": 16,  # mil.md A10
    "eval_every": 20,
    "frames": 16,
}

#: frame-CNN settings a sequence cache must share with the one the LSTM was pretrained on.
FRAME_CNN_KEYS = ("backbone", "weights", "seed", "preprocess", "resize", "crop")


class PretrainError(ValueError):
    """The pretraining set or a pretrained LSTM does not fit what it is used for; says why."""


def lstm_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """An lstm extractor's section with the defaults filled in (schema defaults, for direct calls)."""
    out = {**DEFAULTS, **cfg}
    out["pretrain"] = {**PRETRAIN_DEFAULTS, **(cfg.get("pretrain") or {})}
    out["hidden"] = int(out["hidden"])
    out["pretrain"]["head"] = head_sizes(out["hidden"], out["pretrain"].get("head"))
    return out


def head_sizes(hidden: int, head: Iterable[int] | None = None) -> list[int]:
    """Pretraining head widths [h1, h2]: the given pair, else d/2 and d/8 (§8: 1024 -> 512 -> 128;
    A9: 768 -> 384 -> 96, 512 -> 256 -> 64)."""
    if head is not None:
        h = [int(v) for v in head]
        if len(h) != 2 or min(h) < 1:
            raise PretrainError(f"lstm head must be two positive widths [h1, h2], got {list(head)}")
        return h
    return [max(1, hidden // 2), max(1, hidden // 8)]


# ----------------------------------------------------------------------------- modules


class LSTMClipEncoder(nn.Module):
    """``[B, T, D]`` frame features -> last hidden state ``[B, d]`` (values in (-1, 1)).

    ``in_mean``/``in_std`` (buffers, identity unless the extractor sets ``standardize: true``)
    z-score each input dimension with the pretraining set's statistics before the LSTM.
    """

    def __init__(self, in_dim: int = 2048, hidden: int = 1024) -> None:
        super().__init__()
        self.in_dim, self.hidden = int(in_dim), int(hidden)
        self.lstm = nn.LSTM(self.in_dim, self.hidden, num_layers=1, batch_first=True)
        self.register_buffer("in_mean", torch.zeros(self.in_dim))
        self.register_buffer("in_std", torch.ones(self.in_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.in_dim:
            raise ValueError(f"expected frame sequences [B, T, {self.in_dim}], got {list(x.shape)}")
        _, (h, _) = self.lstm((x - self.in_mean) / self.in_std)
        return h[-1]


class LSTMClassifier(nn.Module):
    """Pretraining model: encoder, then Dense h1 ReLU -> Dense h2 ReLU -> Dense n_classes (logits;
    the softmax is inside the cross-entropy)."""

    def __init__(self, in_dim: int, hidden: int, head: Iterable[int], n_classes: int) -> None:
        super().__init__()
        h1, h2 = head_sizes(hidden, head)
        self.encoder = LSTMClipEncoder(in_dim, hidden)
        self.head = nn.Sequential(nn.Linear(hidden, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class FrameLSTM(nn.Module):
    """The whole extractor on pixels, ``[B, T, 3, H, W] -> [B, d]``: a frame CNN (``frame_features``
    ``[N, 3, H, W] -> [N, D]``, e.g. a :class:`~vadflow.features.backbones.frames.FrameModel`)
    run once per frame, then the LSTM. The pipeline runs the two halves as separate jobs on the
    frame cache; this module states (and tests) what they compute together."""

    def __init__(self, frame_cnn: nn.Module, encoder: LSTMClipEncoder) -> None:
        super().__init__()
        self.frame_cnn, self.encoder = frame_cnn, encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"expected clips [B, T, 3, H, W], got {list(x.shape)}")
        b, t = x.shape[:2]
        fn = getattr(self.frame_cnn, "frame_features", self.frame_cnn)
        return self.encoder(fn(x.flatten(0, 1)).reshape(b, t, -1))


def _glorot_uniform_(w: torch.Tensor, fan_in: int, fan_out: int, gen: torch.Generator) -> None:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    w.copy_((torch.rand(w.shape, generator=gen, dtype=torch.float64) * 2 - 1).mul_(limit).to(w.dtype))


def keras_init_(model: nn.Module, seed: int) -> nn.Module:
    """Keras 2 defaults from ``seed`` alone (the global torch RNG is untouched).

    ``nn.LSTM``: Keras ``kernel [D, 4d]`` glorot-uniform (torch ``weight_ih`` is its transpose),
    ``recurrent_kernel [d, 4d]`` orthogonal (Keras: the ``V`` of an SVD of a standard-normal
    ``[d, 4d]``, orthonormal rows), one bias ``[4d]`` of zeros with the forget slice ``[d:2d]`` = 1,
    stored in ``bias_ih`` (``bias_hh`` = 0; torch adds the two). ``nn.Linear``: glorot-uniform
    kernel, zero bias. Modules are visited in ``model.modules()`` order.
    """
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LSTM):
                if m.num_layers != 1 or m.bidirectional or m.proj_size:
                    raise TypeError("keras_init_ handles a 1-layer unidirectional LSTM only")
                d, din = m.hidden_size, m.input_size
                _glorot_uniform_(m.weight_ih_l0, din, 4 * d, gen)
                a = torch.randn(d, 4 * d, generator=gen, dtype=torch.float64)
                _, _, vh = torch.linalg.svd(a, full_matrices=False)  # [d, 4d], orthonormal rows
                m.weight_hh_l0.copy_(vh.T.to(m.weight_hh_l0.dtype))
                m.bias_ih_l0.zero_()
                m.bias_ih_l0[d : 2 * d] = 1.0
                m.bias_hh_l0.zero_()
            elif isinstance(m, nn.Linear):
                _glorot_uniform_(m.weight, m.in_features, m.out_features, gen)
                if m.bias is not None:
                    m.bias.zero_()
    return model


def forget_bias(lstm: nn.LSTM) -> torch.Tensor:
    """The effective forget-gate bias ``bias_ih + bias_hh`` over ``[d:2d]``."""
    d = lstm.hidden_size
    return (lstm.bias_ih_l0 + lstm.bias_hh_l0)[d : 2 * d].detach()


# ----------------------------------------------------------------------------- pretraining sets


class Sequences:
    """A pretraining set: ``x [N, T, D]`` (float16, converted per batch), class names ``y [N]``."""

    def __init__(self, x: np.ndarray, y: list[str], videos: list[str]):
        self.x, self.y, self.videos = x, list(y), list(videos)

    def __len__(self) -> int:
        return len(self.y)


def _rows(manifest: str | Path, split: str):
    from vadflow.data.manifest import read_manifest

    table = read_manifest(manifest)
    return table[(table["split"] == split) & (table["status"] == "ok")]


def event_sequences(manifest: str | Path, labels: str | Path, frames: str | Path, split: str = "train",
                    snippet_threshold: int = 3) -> Sequences:
    """Clip sequences of an anomaly dataset's ``split`` videos, classed from the frame labels.

    Rule (the same as the LOF heads' ``events`` labelled set): a clip with no anomalous frame is
    ``Normal`` (every clip of a normal video, and the clips outside the events of an anomalous
    one); a clip with more than ``snippet_threshold`` anomalous frames takes its video's class;
    clips with 1..threshold anomalous frames straddle an event boundary and are left out.
    An anomalous video without frame labels is an error (UCF-Crime's training videos have none:
    pretrain on an ``action_folder`` dataset instead).
    """
    from vadflow.data.manifest import read_labels

    rows = _rows(manifest, split)
    lab = read_labels(labels, list(rows["id"]))
    xs, ys, vids, unannotated = [], [], [], []
    with h5py.File(frames, "r") as f:
        for r in rows.itertuples():
            if r.id not in f:
                continue
            if r.anomalous and r.id not in lab:
                unannotated.append(r.id)
                continue
            ds = f[r.id]
            feats = ds[()]
            if feats.ndim != 3:
                raise PretrainError(f"{frames}: video {r.id} is {feats.shape}; expected frame sequences [n_clips, clip_len, D] (an extractor with frames: true)")
            if not r.anomalous:
                keep, classes = np.ones(len(feats), bool), ["Normal"] * len(feats)
            else:
                counts = clip_anomalous_frames(lab[r.id], len(feats), int(ds.attrs["clip_len"]), int(ds.attrs["stride"]))
                keep, classes = event_clip_classes(counts, str(r.cls), snippet_threshold)
            xs.append(feats[keep].astype(np.float16))
            ys += classes
            vids += [r.id] * int(keep.sum())
    if unannotated:
        raise PretrainError(
            f"pretraining labels `events` need temporal annotations of the anomalous {split} videos; {len(unannotated)} have none "
            f"({', '.join(unannotated[:3])}...). Set features.<lstm extractor>.pretrain.dataset to an action_folder dataset (e.g. UCF-101)"
        )
    if not xs:
        raise PretrainError(f"{frames}: no {split} video of {manifest} has frame sequences")
    return Sequences(np.concatenate(xs), ys, vids)


def action_sequences(manifest: str | Path, frames: str | Path, split: str = "train", n: int = 16) -> Sequences:
    """One sequence per ``split`` video of an action dataset: ``n`` frames equispaced over the
    whole video, ``rnd(linspace(0, T-1, n))`` (§8, A10); class = the manifest's ``cls`` (folder).

    The cheap cache is ``tail: spread``: the extractor ran the frame CNN on exactly these n
    frames, one ``[1, n, D]`` clip per video (the spec's "[16, 2048] per UCF-101 video").
    A consecutive-clip cache also works: with ``stride == clip_len``, frame t is
    ``cache[t // clip_len, t % clip_len]``, so any frame index is available exactly. T is then
    the decoded frame count when the cache covers the whole video (``tail: pad``), else the
    frames its complete clips cover (``tail: drop`` leaves out at most clip_len - 1 frames).
    """
    rows = _rows(manifest, split)
    xs, ys, vids = [], [], []
    short = 0
    with h5py.File(frames, "r") as f:
        for r in rows.itertuples():
            if r.id not in f:
                continue
            ds = f[r.id]
            clip_len, stride = int(ds.attrs["clip_len"]), int(ds.attrs["stride"])
            if ds.ndim != 3:
                raise PretrainError(f"{frames}: video {r.id} is {ds.shape}; expected frame sequences [n_clips, clip_len, D] (an extractor with frames: true)")
            if ds.attrs.get("tail") == "spread":
                if clip_len != n or ds.shape[0] != 1:
                    raise PretrainError(f"{frames}: video {r.id} is {ds.shape} spread over {clip_len} frames; the LSTM pretrains on {n}-frame sequences")
                seq = ds[0]
            else:
                if stride != clip_len:
                    raise PretrainError(f"{frames}: spread sampling needs consecutive clips (stride == clip_len), got stride {stride}, clip_len {clip_len}")
                per_frame = ds[()].reshape(-1, ds.shape[-1])
                t = min(int(r.frames), len(per_frame))
                short += t < int(r.frames)
                seq = per_frame[spread_indices(t, n)]
            xs.append(seq.astype(np.float16)[None])
            ys.append(str(r.cls))
            vids.append(r.id)
    if short:
        log.info("%d %s videos: spread over the frames of their complete clips only (tail: drop); tail: pad covers every frame", short, split)
    if not xs:
        raise PretrainError(f"{frames}: no {split} video of {manifest} has frame sequences")
    return Sequences(np.concatenate(xs), ys, vids)


# ----------------------------------------------------------------------------- training


def input_stats(x: np.ndarray, floor: float = 1e-3, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std (floored at ``floor``) over every frame of ``x [N, T, D]``."""
    flat = x.reshape(-1, x.shape[-1])
    s = np.zeros(flat.shape[1], np.float64)
    ss = np.zeros(flat.shape[1], np.float64)
    for a in range(0, len(flat), chunk):
        part = flat[a : a + chunk].astype(np.float64)
        s += part.sum(0)
        ss += (part * part).sum(0)
    mean = s / len(flat)
    std = np.sqrt(np.maximum(ss / len(flat) - mean * mean, 0.0))
    return mean.astype(np.float32), np.maximum(std, floor).astype(np.float32)


def _topk(logits: torch.Tensor, y: torch.Tensor, k: int) -> float:
    k = min(k, logits.shape[1])
    return float((logits.topk(k, dim=1).indices == y[:, None]).any(1).float().sum())


def _evaluate(model: LSTMClassifier, x: np.ndarray, y: np.ndarray, device: torch.device, batch: int = 256) -> dict[str, float]:
    model.eval()
    loss = top1 = top5 = 0.0
    with torch.inference_mode():
        for a in range(0, len(y), batch):
            xb = torch.from_numpy(x[a : a + batch].astype(np.float32)).to(device)
            yb = torch.from_numpy(y[a : a + batch]).to(device)
            logits = model(xb)
            loss += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
            top1 += _topk(logits, yb, 1)
            top5 += _topk(logits, yb, 5)
    n = max(1, len(y))
    return {"loss": loss / n, "top1": top1 / n, "top5": top5 / n}


def pretrain(train: Sequences, cfg: dict[str, Any], val: Sequences | None = None) -> tuple[LSTMClassifier, list[str], list[dict[str, Any]]]:
    """Train LSTM + head with categorical cross-entropy; return (model, classes, history).

    Adam (beta 0.9/0.999, eps 1e-7 as Keras) at ``lr_t = lr / (1 + decay * step)`` (Keras'
    ``decay``, step = batches seen), ``batch_size`` sequences per step, a seeded reshuffle every
    epoch (Keras ``shuffle=True``). The model after the last epoch is kept: with the default 100
    epochs that is the spec's epoch-100 checkpoint, chosen without looking at any test data.
    Loss, Top-1 and Top-5 are logged every ``eval_every`` epochs, on the training set and on
    ``val`` when given (UCF-101: the split-1 test list).
    """
    from vadflow.device import resolve_device

    cfg = lstm_config(cfg)
    pt = cfg["pretrain"]
    classes = sorted(set(train.y))
    if len(classes) < 2:
        raise PretrainError(f"pretraining needs at least two classes, got {classes}")
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] for c in train.y], dtype=np.int64)
    x = train.x
    if val is not None:
        keep = [i for i, c in enumerate(val.y) if c in index]
        if len(keep) < len(val):
            log.warning("%d validation sequences have classes absent from training; left out", len(val) - len(keep))
        val_x, val_y = val.x[keep], np.array([index[val.y[i]] for i in keep], dtype=np.int64)
    device = resolve_device(cfg["device"])
    model = keras_init_(LSTMClassifier(x.shape[2], cfg["hidden"], pt["head"], len(classes)), cfg["seed"])
    if cfg["standardize"]:  # not in the spec: for features with a large shared offset (random-init CNNs)
        mean, std = input_stats(x)
        model.encoder.in_mean.copy_(torch.from_numpy(mean))
        model.encoder.in_std.copy_(torch.from_numpy(std))
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=float(pt["lr"]), betas=(0.9, 0.999), eps=1e-7)
    decay = float(pt["decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 / (1.0 + decay * step))
    rng = np.random.default_rng(int(cfg["seed"]))
    epochs, bs, every = int(pt["epochs"]), int(pt["batch_size"]), max(1, int(pt["eval_every"]))
    history: list[dict[str, Any]] = []
    counts = {c: train.y.count(c) for c in classes}
    log.info("pretraining LSTM d=%d head %s on %d sequences %s of %d classes %s, %d epochs, device %s",
             cfg["hidden"], pt["head"], len(y), list(x.shape[1:]), len(classes), counts, epochs, device)
    t0 = time.time()
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(len(y))
        total = 0.0
        for a in range(0, len(order), bs):
            idx = np.sort(order[a : a + bs])
            xb = torch.from_numpy(x[idx].astype(np.float32)).to(device)
            yb = torch.from_numpy(y[idx]).to(device)
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if epoch % every == 0 or epoch in (1, epochs):
            row: dict[str, Any] = {"epoch": epoch, "lr": float(opt.param_groups[0]["lr"]), "train_loss": total / len(y)}
            row.update({f"train_{k}": v for k, v in _evaluate(model, x, y, device).items() if k != "loss"})
            if val is not None and len(val_y):
                row.update({f"val_{k}": v for k, v in _evaluate(model, val_x, val_y, device).items()})
            history.append(row)
            log.info("epoch %d/%d: %s (%.1f s)", epoch, epochs,
                     ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch"), time.time() - t0)
    model.eval()
    return model, classes, history


def save_model(path: str | Path, model: LSTMClassifier, classes: list[str], history: list[dict[str, Any]],
               cfg: dict[str, Any], frames_attrs: dict[str, Any], n_train: int) -> None:
    """The pretraining artifact: encoder + head state, classes, history, the frame-CNN it fits."""
    enc = model.encoder
    state = {
        "format": FORMAT,
        "in_dim": enc.in_dim,
        "hidden": enc.hidden,
        "head_sizes": list(lstm_config(cfg)["pretrain"]["head"]),
        "classes": list(classes),
        "encoder": {k: v.detach().cpu() for k, v in enc.state_dict().items()},
        "head": {k: v.detach().cpu() for k, v in model.head.state_dict().items()},
        "history": history,
        "config": json.dumps(cfg, sort_keys=True),
        "frame_cnn": json.dumps(frame_cnn(frames_attrs), sort_keys=True),
        "n_train": int(n_train),
        "meta": runtime_info(),
    }
    save_torch(state, path)


def load_model(path: str | Path) -> tuple[LSTMClipEncoder, dict[str, Any]]:
    """The encoder (eval mode, CPU) and the artifact's metadata."""
    try:
        state = load_torch(path, what="pretrained LSTM file", remedy="Delete it and rerun its pretrain_lstm job")
    except (UnsafeFileError, FileNotFoundError) as exc:
        raise PretrainError(str(exc)) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise PretrainError(f"{path} is not a pretrained LSTM file ({FORMAT}); rerun its pretrain_lstm job")
    enc = LSTMClipEncoder(int(state["in_dim"]), int(state["hidden"]))
    try:
        enc.load_state_dict(state["encoder"])
    except (KeyError, RuntimeError) as exc:
        raise PretrainError(f"{path} does not fit its LSTM ({type(exc).__name__}: {exc}); rerun its pretrain_lstm job") from None
    return enc.eval(), state


def frame_cnn(attrs: dict[str, Any]) -> dict[str, Any]:
    """The frame-CNN settings of a frame-sequence file (file attrs ``config``/``weights``)."""
    cfg = json.loads(attrs.get("config", "{}") or "{}")
    out = {k: cfg.get(k) for k in FRAME_CNN_KEYS}
    out["weights"] = str(attrs.get("weights", out["weights"]))
    if out["weights"] != "random-init":
        out.pop("seed")
    return out


def check_frames_file(path: str | Path) -> dict[str, Any]:
    with h5py.File(path, "r") as f:
        attrs = dict(f.attrs)
    if attrs.get("layout") != "clip_frames":
        raise PretrainError(f"{path}: layout {attrs.get('layout')!r}; the LSTM reads frame sequences (an extractor with frames: true, layout clip_frames)")
    return attrs


def run_pretrain(manifest: str | Path, labels: str | Path, frames: str | Path, cfg: dict[str, Any], out: str | Path, kind: str) -> None:
    """The ``pretrain_lstm`` job: sequences of the pretraining dataset (``kind`` ``action_folder``:
    one spread sequence per video, train split to train, test split logged as validation; any
    other kind: ``events`` clips of the training videos, no validation), then :func:`pretrain`."""
    cfg = lstm_config(cfg)
    pt = cfg["pretrain"]
    attrs = check_frames_file(frames)
    if kind == "action_folder":
        train = action_sequences(manifest, frames, "train", int(pt["frames"]))
        try:
            val = action_sequences(manifest, frames, "test", int(pt["frames"]))
        except PretrainError:
            val = None
    else:
        train = event_sequences(manifest, labels, frames, "train", int(pt["snippet_threshold"]))
        val = None
    model, classes, history = pretrain(train, cfg, val)
    save_model(out, model, classes, history, cfg, attrs, len(train))


# ----------------------------------------------------------------------------- clip features


def derive_features(frames: str | Path, model_path: str | Path, cfg: dict[str, Any], out: str | Path,
                    chunk: int = 512, progress: bool = True) -> dict[str, int]:
    """``features/{extractor}.h5`` of an lstm extractor: every clip of the frame-sequence cache
    through the pretrained LSTM, ``[n_clips, d]`` per video, in chunks of ``chunk`` clips.

    Per-video attrs: clip_len, stride, tail, fps, n_frames of the frame cache, the extractor's
    name and config hash, ``weights`` = sha256 of the ``.pt``, layout ``clips``.
    """
    from tqdm import tqdm

    from vadflow.io import as_json, extractor_hash
    from vadflow.device import resolve_device
    from vadflow.features.writer import FeatureWriter

    cfg = lstm_config(cfg)
    attrs = check_frames_file(frames)
    enc, state = load_model(model_path)
    want, have = json.loads(state["frame_cnn"]), frame_cnn(attrs)
    if want != have:
        raise PretrainError(f"{model_path} was pretrained on frames of {want}, but {frames} holds frames of {have}; "
                            "the pretraining dataset's frame extractor must use the same frame CNN and preprocessing")
    if enc.hidden != cfg["hidden"]:
        raise PretrainError(f"{model_path} has hidden size {enc.hidden}, the config says {cfg['hidden']}; rerun pretrain_lstm")
    device = resolve_device(cfg["device"])
    enc = enc.to(device)
    name = cfg.get("name", "lstm")
    chash = extractor_hash(cfg)
    weights = sha256_file(model_path)
    file_attrs = {"extractor": name, "backbone": f"{attrs.get('backbone')}+lstm", "config_hash": chash, "weights": weights,
                  "config": as_json(cfg), "layout": "clips", "dim": enc.hidden, "frames_extractor": str(attrs.get("extractor")),
                  "frames_config_hash": str(attrs.get("config_hash")), "frames_weights": str(attrs.get("weights"))}
    n = 0
    with h5py.File(frames, "r") as src, FeatureWriter(out, file_attrs) as w:
        for vid, why in json.loads(src.attrs.get("failed", "{}")).items():
            w.fail(vid, why)
        for vid in tqdm(list(src.keys()), desc=f"{name} lstm", unit="video", disable=not progress):
            ds = src[vid]
            x = ds[()]
            outs = []
            with torch.inference_mode():
                for a in range(0, len(x), chunk):
                    outs.append(enc(torch.from_numpy(x[a : a + chunk].astype(np.float32)).to(device)).float().cpu().numpy())
            va = {k: ds.attrs[k] for k in ("clip_len", "stride", "tail", "fps", "n_frames") if k in ds.attrs}
            va.update(extractor=name, config_hash=chash, weights=weights, layout="clips",
                      frames_config_hash=str(ds.attrs.get("config_hash")))
            w.add(vid, np.concatenate(outs), va, dtype=cfg.get("dtype", "float16"))
            n += 1
    log.info("wrote %s: %d videos, d=%d, LSTM %s", out, n, enc.hidden, weights[:12])
    return {"videos": n}
