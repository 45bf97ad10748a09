"""ADOR: clip encoder over action maps and object relations + ADNet's windowed MS-TCN (docs/methods/ador.md).

The windows, padding masks, training loop and MS-TCN stages are ADNet's (temporal.py,
windows.py, tcn.py); ADOR only changes what a clip is (an I3D map and an object set, encoded
per clip by ador_net.ClipEncoder into z), the loss (BCE-with-logits on every TCN stage) and
inference (each clip encoded once, then windows of ``test_window`` over z, averaged).

``encoder: action`` / ``object`` are Table 5.1's single-encoder ablations. Padded clips of a
window are never encoded: their z is 0 and their mask 0 (§4.5).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from vadflow.methods import windows
from vadflow.methods.ador.net import ENCODERS, ClipEncoder
from vadflow.methods.base import Inputs, MethodError, VideoData
from vadflow.methods.online import ClipPlan
from vadflow.methods.losses import stage_sum_bce
from vadflow.methods.scaler import FeatureScaler
from vadflow.methods.tcn import MultiStageTCN, layers_for_window
from vadflow.methods.temporal import WINDOW_DEFAULTS, TemporalMethod
from vadflow.methods.mapping import clip_to_frames

if TYPE_CHECKING:
    from vadflow.stores.detections import ObjectSets


class ADORNet(nn.Module):
    """Encoder (stage 1) + S TCN stages; ``forward``/``logits`` take a batch dict of the real
    clips of B windows of width W and the mask m [B, W], and return [S, B, W]."""

    width_multiple = 1

    def __init__(self, action_dim: int, object_dim: int, cfg: dict[str, Any], layers: int) -> None:
        super().__init__()
        self.encoder = ClipEncoder(action_dim, object_dim, cfg["encoder"], cfg["d_model"], cfg["heads"], cfg["ffn"],
                                   cfg["half_layers"], cfg["dropout"])
        self.tcn = MultiStageTCN(self.encoder.out_dim, cfg["channels"], cfg["stages"], layers, cfg["kernel"])

    def encode(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(batch.get("maps"), batch.get("feats"), batch.get("boxes"), batch.get("valid"))

    def windows_of(self, batch: dict[str, torch.Tensor], m: torch.Tensor) -> torch.Tensor:
        """z of the real clips scattered into [B, z_dim, W]; padded clips stay 0."""
        b, w = m.shape
        z = self.encode(batch)
        x = z.new_zeros(b * w, z.shape[1])
        x = x.index_copy(0, batch["index"], z)
        return x.view(b, w, -1).transpose(1, 2)

    def logits(self, batch: dict[str, torch.Tensor], m: torch.Tensor) -> torch.Tensor:
        return self.tcn.logits(self.windows_of(batch, m), m)

    def forward(self, batch: dict[str, torch.Tensor], m: torch.Tensor) -> torch.Tensor:
        return self.tcn(self.windows_of(batch, m), m)


class ClipInputs:
    """One video's per-clip inputs, read by clip range: action maps from the (lazy) feature rows,
    objects from the (lazy) detections; the model's scalers applied."""

    def __init__(self, video: VideoData, method: "ADOR") -> None:
        self.video, self.m = video, method
        self.n = len(video.features)
        self.objects = video.extras.get("objects")

    def __len__(self) -> int:
        return self.n

    def rows(self, a: int, b: int) -> dict[str, np.ndarray]:
        return self.m.clip_rows(self.video.features[a:b] if self.m.use_action else None,
                                self.objects[a:b] if self.m.use_objects else None)


def trim_objects(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Drop the object slots that are padding in every clip of the batch (at least one slot kept).

    Exact: padded objects are masked as keys everywhere and their own rows never reach [CLS],
    so z does not depend on them; but attention over 36 slots when clips hold a few objects
    (the synthetic detector finds ~3.5) costs several times the work."""
    if "valid" not in batch:
        return batch
    valid = batch["valid"]
    used = np.flatnonzero(valid.any(axis=0))
    k = max(int(used[-1]) + 1 if len(used) else 0, 1)
    if k == valid.shape[1]:
        return batch
    return {**batch, "feats": batch["feats"][:, :k], "boxes": batch["boxes"][:, :k], "valid": valid[:, :k]}


class ChannelScaler(FeatureScaler):
    """z-score along one axis (the action map's channels, axis 1; object features, the last)."""

    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = axis

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.mu is None:
            return x
        shape = [1] * x.ndim
        shape[self.axis] = -1
        return ((x - self.mu.reshape(shape)) / self.sd.reshape(shape)).astype(np.float32)

    def fit_moments(self, total: np.ndarray, total_sq: np.ndarray, count: float) -> None:
        mu = total / max(count, 1.0)
        self.mu = mu.astype(np.float32)
        self.sd = (np.sqrt(np.maximum(total_sq / max(count, 1.0) - mu**2, 0.0)) + 1e-6).astype(np.float32)


class ADOR(TemporalMethod):
    kind = "ador"
    layouts = ("clips",)
    supervision = "frame"
    lazy_features = True
    defaults: ClassVar[dict[str, Any]] = {
        **WINDOW_DEFAULTS,
        "features": "i3d_map",
        "detections": None,
        "encoder": "both",
        "window": 128,
        "test_window": 512,
        "batch_size": 2,
        "epochs": 20,
        "lr": 5e-5,
        "stages": 6,
        "layers": None,
        "channels": 64,
        "kernel": 3,
        "d_model": 512,
        "heads": 8,
        "ffn": 2048,
        "half_layers": 3,
        "dropout": 0.1,
        "encode_batch": 512,
    }
    #: clips read from disk at once while computing standardisation statistics.
    STAT_CHUNK = 256
    detections_key = "detections"

    @classmethod
    def reads(cls, cfg: dict[str, Any]) -> Inputs:
        """``encoder: action`` (the action stream alone) reads no objects."""
        base = super().reads(cfg)
        if {**cls.defaults, **cfg}["encoder"] == "action":
            return Inputs(features=base.features)
        return base

    @classmethod
    def check_inputs(cls, cfg: dict[str, Any], inputs: dict[str, dict[str, Any]]) -> list[str]:
        """The object encoder needs a detector, one that pools object features."""
        encoder = {**cls.defaults, **cfg}["encoder"]
        where = f"methods.{cfg.get('name')}.detections"
        if encoder == "action":
            return []
        det = inputs.get("detections")
        if det is None:
            return [f"{where}: encoder {encoder} needs objects; name a key of `detectors:` or set encoder: action"]
        if (det.get("roi") or {}).get("features") is False:
            return [f"{where} = {det['name']!r}: detectors.{det['name']}.roi.features is false (no object features), which "
                    "ADOR's object encoder needs"]
        return []

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        if self.cfg["encoder"] not in ENCODERS:
            raise MethodError(f"ador: encoder must be one of {ENCODERS}, got {self.cfg['encoder']!r}")
        self.use_action = self.cfg["encoder"] in ("both", "action")
        self.use_objects = self.cfg["encoder"] in ("both", "object")
        self.obj_dim: int | None = None
        self.action_scaler = ChannelScaler(axis=1)
        self.object_scaler = ChannelScaler(axis=-1)

    # -- network ----------------------------------------------------------------------------
    def build(self, in_dim: int) -> nn.Module:
        cfg = self.cfg
        layers = cfg["layers"] or layers_for_window(cfg["window"], cfg["kernel"])
        return ADORNet(in_dim, self.obj_dim or 1, cfg, layers)

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return stage_sum_bce(outputs, labels, mask)

    def _train_outputs(self, x, m: torch.Tensor) -> torch.Tensor:
        return self.net.logits(x, m)

    # -- inputs -----------------------------------------------------------------------------
    def _check(self, video: VideoData) -> None:
        shape = tuple(video.features.shape)  # an array or a lazy view (features/store.py LazyRows)
        if len(shape) != 4 or shape[0] == 0:
            raise MethodError(f"ador: video {video.id!r} has features of shape {list(shape)}; ADOR reads action maps "
                              f"[K, C, H', W'] (an i3d_map extractor), set methods.<name>.features accordingly")
        if self.in_dim is not None and shape[1] != self.in_dim:
            raise MethodError(f"ador: video {video.id!r} has {shape[1]}-channel maps, the model was trained on {self.in_dim}")
        if self.use_objects:
            objs = video.extras.get("objects")
            if objs is None:
                raise MethodError(f"ador (encoder {self.cfg['encoder']}): video {video.id!r} has no detections; set "
                                  f"methods.<name>.detections to a key of `detectors:` (or encoder: action)")
            if len(objs) != shape[0]:
                raise MethodError(f"ador: video {video.id!r} has {shape[0]} feature clips but {len(objs)} detection rows")
            if self.obj_dim is not None and objs.feature_dim != self.obj_dim:
                raise MethodError(f"ador: video {video.id!r} has {objs.feature_dim}-d object features, the model was trained on {self.obj_dim}")

    def _fit_inputs(self, train: list[VideoData]) -> list[ClipInputs]:
        self.in_dim = self.obj_dim = None
        self._check(train[0])
        self.in_dim = int(train[0].features.shape[1])
        if self.use_objects:
            self.obj_dim = int(train[0].extras["objects"].feature_dim)
        for v in train:  # every video against the first one's dimensions
            self._check(v)
        self.action_scaler, self.object_scaler = ChannelScaler(axis=1), ChannelScaler(axis=-1)
        if self.cfg.get("standardize", False):
            self._fit_scalers(train)
        return [ClipInputs(v, self) for v in train]

    def _fit_scalers(self, train: list[VideoData]) -> None:
        """Per-channel moments of the training maps and of the valid objects' features, read in chunks."""
        acc = {"a": [0.0, 0.0, 0.0], "o": [0.0, 0.0, 0.0]}
        for v in train:
            for a in range(0, len(v.features), self.STAT_CHUNK):
                b = min(a + self.STAT_CHUNK, len(v.features))
                if self.use_action:
                    x = np.asarray(v.features[a:b], np.float64).transpose(1, 0, 2, 3).reshape(self.in_dim, -1)
                    acc["a"] = [acc["a"][0] + x.sum(1), acc["a"][1] + (x * x).sum(1), acc["a"][2] + x.shape[1]]
                if self.use_objects:
                    objs = v.extras["objects"][a:b]
                    f = objs.feats[objs.valid].astype(np.float64)
                    acc["o"] = [acc["o"][0] + f.sum(0), acc["o"][1] + (f * f).sum(0), acc["o"][2] + len(f)]
        if self.use_action:
            self.action_scaler.fit_moments(*acc["a"])
        if self.use_objects and acc["o"][2] > 0:
            self.object_scaler.fit_moments(*acc["o"])

    def _cut(self, seq: ClipInputs, start: int, width: int) -> dict[str, np.ndarray]:
        # Only the real clips of the window: padded clips are not encoded (their z stays 0).
        return seq.rows(start, min(start + width, len(seq)))

    def _stack(self, x: list[dict[str, np.ndarray]], width: int, device: torch.device) -> dict[str, torch.Tensor]:
        counts = [len(next(iter(w.values()))) for w in x]
        joined = trim_objects({k: np.concatenate([w[k] for w in x]) for k in x[0]})
        out = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in joined.items()}
        index = np.concatenate([b * width + np.arange(n) for b, n in enumerate(counts)])
        out["index"] = torch.from_numpy(index).to(device)
        return out

    def _width(self, net: nn.Module) -> int:
        w = int(self.cfg["window"])
        if w < 2 or w % 2:
            raise MethodError(f"ador: window must be a positive even number (training windows, stride window/2), got {w}")
        return w

    # -- inference --------------------------------------------------------------------------
    def clip_rows(self, maps: np.ndarray | None, objs: ObjectSets | None) -> dict[str, np.ndarray]:
        """The encoder's inputs of a run of clips, scalers applied: action maps [N, C, H', W']
        and/or their objects (as the detections file holds them). Shared by scoring and
        ``vadflow watch``, which encodes each clip as it completes."""
        out: dict[str, np.ndarray] = {}
        if self.use_action:
            out["maps"] = self.action_scaler(np.asarray(maps, np.float32))
        if self.use_objects:
            out["feats"] = self.object_scaler(objs.feats) * objs.valid[..., None]
            out["boxes"] = objs.pixel_boxes()
            out["valid"] = objs.valid
        return out

    def encode_rows(self, rows: dict[str, np.ndarray]) -> np.ndarray:
        """z ``[N, z_dim]`` of :meth:`clip_rows` (inference mode)."""
        device = next(self.net.parameters()).device
        batch = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in trim_objects(rows).items()}
        self.net.eval()
        with torch.inference_mode():
            return self.net.encode(batch).float().cpu().numpy()

    def encode_video(self, video: VideoData) -> np.ndarray:
        """z of every clip, ``[K, z_dim]``, encoded ``encode_batch`` clips at a time."""
        self._check(video)
        seq = ClipInputs(video, self)
        step = int(self.cfg["encode_batch"])
        return np.concatenate([self.encode_rows(seq.rows(a, min(a + step, len(seq)))) for a in range(0, len(seq), step)])

    def test_width(self) -> int:
        """Width of the scoring windows over z (``test_window``, else ``window``)."""
        width = int(self.cfg.get("test_window") or self.cfg["window"])
        if width % 2:
            raise MethodError(f"ador: test_window must be even (stride test_window/2), got {width}")
        return width

    def window_scores(self, xs: np.ndarray, ms: np.ndarray) -> np.ndarray:
        """Last TCN stage's scores of windows of z ``[B, W, z_dim]`` with masks ``[B, W]`` -> ``[B, W]``."""
        device = next(self.net.parameters()).device
        self.net.eval()
        with torch.inference_mode():
            return self.net.tcn(torch.from_numpy(np.ascontiguousarray(xs.transpose(0, 2, 1))).to(device),
                                torch.from_numpy(np.ascontiguousarray(ms)).to(device))[-1].cpu().numpy()

    def score(self, video: VideoData) -> np.ndarray:
        if self.net is None:
            raise MethodError("ador: score() called before fit() or load()")
        z = self.encode_video(video)
        n = len(z)
        width = self.test_width()
        last = self.window_scores(windows.split(z, width), windows.split(np.ones(n, np.float32), width))
        clip_scores = windows.merge(last, n, width)
        return clip_to_frames(clip_scores, video.n_frames, video.clip_len, video.stride, self.cfg.get("mapping", "average"))

    def online(self) -> ClipPlan:
        """Each clip encoded to z as it completes (its action map and/or its centre frame's
        objects), then windows of ``test_window`` over z as :meth:`score` runs them."""
        if self.net is None:
            raise MethodError("ador: online() called before fit() or load()")

        def row(maps: np.ndarray | None, objects: ObjectSets | None = None) -> np.ndarray:
            return self.encode_rows(self.clip_rows(None if maps is None else maps[None], objects))[0]

        return ClipPlan(row=row, window=self.test_width(), window_scores=lambda xs, ms: self.window_scores(np.stack(xs), np.stack(ms)),
                        maps=self.use_action, objects=self.use_objects, mapping=self.cfg.get("mapping", "average"))

    # -- state ------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        out = super().state()
        out["obj_dim"] = int(self.obj_dim or 0)
        for name, sc in (("action", self.action_scaler), ("object", self.object_scaler)):
            out.update({f"{name}_{k}": v for k, v in sc.state().items()})
        return out

    def load_state(self, state: dict[str, Any]) -> None:
        self.obj_dim = int(state["obj_dim"]) or None
        for name, sc in (("action", self.action_scaler), ("object", self.object_scaler)):
            sc.load_state({k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(f"{name}_")})
        super().load_state(state)
