"""Projection heads for LOF (docs/methods/lof.md §3-§4): one linear layer from backbone features to d.

A head is ``Linear(D -> d, bias)`` with no activation and no normalisation; LOF sees its raw
output. Heads come in three flavours:

* ``random`` (the spec's default and best): ``nn.Linear``'s default init, U(-1/sqrt(D), 1/sqrt(D))
  for weight and bias, drawn from a private generator seeded with the method seed, never trained;
* ``none``: the identity (LOF on the raw D-dimensional features);
* a *trained* head (config section ``heads.<name>``, artifact ``results/{dataset}/heads/{name}.pt``),
  tuned on cached features with one of the modes ``ce``, ``supcon`` or ``simclr`` (alias ``selfsup``).

Training works on the cached clip features: the backbone is frozen (§4 permits this), so a
"view" cannot be a re-rendered clip. What replaces the pixel augmentations:

* ``ce`` / ``supcon``: each view is the clip's feature plus Gaussian noise of ``noise``
  per-dimension standard deviations (inputs are z-scored while training, and the z-scoring is
  folded back into the Linear afterwards, so the artifact is one Linear on raw features);
* ``simclr``: the views of a video are ``views`` (default 4) different snippets of the same
  normal training video drawn at random times (the spec's "four 16-frame snippets at different
  times", exactly), each with the same feature noise standing in for blur/rotation/flip.

Contrastive loss: Formula 9 with L2 normalisation inside the loss only (:func:`supcon_loss`).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from vadflow.data.annotations import clip_anomalous_frames, event_clip_classes
from vadflow.methods.base import MethodError, VideoData

log = logging.getLogger(__name__)

#: ``head:`` values of a LOF method that are not names of ``heads:`` entries.
BUILTIN_HEADS = ("random", "none")
MODES = ("ce", "supcon", "simclr", "selfsup")

#: filled-in values for keys a ``heads.<name>`` section leaves out (mirrors the JSON schema).
HEAD_DEFAULTS: dict[str, Any] = {
    "embedding_dim": 256,
    "epochs": 20,
    "lr": 1e-3,
    "batch_size": None,  # ce/supcon: 32 clips; simclr: 16 videos
    "views": None,  # supcon: 2; ce: 1; simclr: 4
    "temperature": 0.07,
    "noise": 0.1,
    "seed": 0,
    "device": "auto",
    "labelled": {"source": "events", "dataset": None, "path": None, "snippet_threshold": 3},
}


class ProjectionHead:
    """``x [N, D] -> x @ W.T + b`` (or the identity when ``weight`` is None), in float32."""

    def __init__(self, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None, meta: dict[str, Any] | None = None):
        self.weight = None if weight is None else weight.detach().to(torch.float32).cpu()
        self.bias = None if bias is None else bias.detach().to(torch.float32).cpu()
        self.meta = dict(meta or {})

    @property
    def identity(self) -> bool:
        return self.weight is None

    @property
    def in_dim(self) -> int | None:
        return None if self.weight is None else int(self.weight.shape[1])

    @property
    def out_dim(self) -> int | None:
        return None if self.weight is None else int(self.weight.shape[0])

    @classmethod
    def random(cls, in_dim: int, dim: int, seed: int) -> "ProjectionHead":
        """nn.Linear's default init (kaiming_uniform with a=sqrt(5) = U(-1/sqrt(D), 1/sqrt(D)), same
        bound for the bias), from a private generator so the global torch RNG is untouched."""
        if dim < 1:
            raise MethodError(f"projection head: embedding_dim must be >= 1, got {dim}")
        g = torch.Generator().manual_seed(int(seed))
        bound = 1.0 / math.sqrt(in_dim)
        w = (torch.rand(dim, in_dim, generator=g, dtype=torch.float64) * 2 - 1) * bound
        b = (torch.rand(dim, generator=g, dtype=torch.float64) * 2 - 1) * bound
        return cls(w, b, {"mode": "random", "seed": int(seed)})

    @classmethod
    def none(cls) -> "ProjectionHead":
        return cls(None, None, {"mode": "none"})

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.weight is None:
            return x
        if x.shape[-1] != self.in_dim:
            raise MethodError(f"projection head expects {self.in_dim}-d features, got {x.shape[-1]}-d (was the head trained on another extractor?)")
        with torch.no_grad():
            return (torch.from_numpy(x) @ self.weight.T + self.bias).numpy()

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {"meta": dict(self.meta)}
        if self.weight is not None:
            out.update(weight=self.weight.clone(), bias=self.bias.clone())
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "ProjectionHead":
        return cls(state.get("weight"), state.get("bias"), state.get("meta", {}))


def make_head(spec: str, in_dim: int, embedding_dim: int | None, seed: int) -> ProjectionHead:
    """A built-in head: ``random`` (``embedding_dim`` null or 0 means no head) or ``none``."""
    if spec == "none" or not embedding_dim:
        return ProjectionHead.none()
    if spec == "random":
        return ProjectionHead.random(in_dim, int(embedding_dim), seed)
    raise MethodError(f"head {spec!r} is not built in ({', '.join(BUILTIN_HEADS)}); a trained head is loaded from its file")


# ----------------------------------------------------------------------------- losses


def supcon_loss(z: torch.Tensor, labels: torch.Tensor, temperature: float = 0.07, reduction: str = "mean") -> torch.Tensor:
    """Formula 9 (Khosla et al.) over a multi-view batch.

    ``z`` [N, d] head outputs (L2-normalised here, inside the loss only), ``labels`` [N]:
    items with equal labels are positives of each other (for SimCLR, labels = video ids).
    L_i = -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p/t) / sum_{j != i} exp(z_i.z_j/t) );
    anchors without positives are skipped; ``mean`` over the remaining anchors or ``sum``.
    """
    if z.ndim != 2 or labels.shape[0] != z.shape[0]:
        raise ValueError(f"supcon_loss: z must be [N, d] with N labels, got {tuple(z.shape)} and {tuple(labels.shape)}")
    z = nn.functional.normalize(z, dim=1)
    n = z.shape[0]
    logits = z @ z.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~self_mask
    n_pos = pos.sum(1)
    anchors = n_pos > 0
    if not bool(anchors.any()):
        return z.sum() * 0.0
    per_anchor = -(log_prob.masked_fill(~pos, 0.0).sum(1)[anchors]) / n_pos[anchors]
    if reduction == "mean":
        return per_anchor.mean()
    if reduction == "sum":
        return per_anchor.sum()
    raise ValueError(f"unknown reduction {reduction!r} (mean or sum)")


# ----------------------------------------------------------------------------- labelled sets


def event_clips(videos: list[VideoData], snippet_threshold: int = 3) -> tuple[np.ndarray, list[str]]:
    """Per-clip classes from frame annotations: the default labelled set for ``ce``/``supcon``.

    A clip of a normal video, or a clip with no anomalous frame, is ``Normal``; a clip with more
    than ``snippet_threshold`` anomalous frames (the thesis's > 3 of 16 rule) takes its video's
    class; clips with 1..threshold anomalous frames straddle an event boundary and are left out.
    Returns ``(features [N, D], class names [N])``.
    """
    xs: list[np.ndarray] = []
    ys: list[str] = []
    unannotated = []
    for v in videos:
        if v.anomalous and v.frame_labels is None:
            unannotated.append(v.id)
            continue
        n = v.features.shape[0]
        if not v.anomalous:
            xs.append(v.features)
            ys += ["Normal"] * n
            continue
        keep, classes = event_clip_classes(clip_anomalous_frames(v.frame_labels, n, v.clip_len, v.stride), v.cls,
                                           snippet_threshold)
        xs.append(v.features[keep])
        ys += classes
    if unannotated:
        raise MethodError(
            f"labelled set `events` needs temporal annotations of the anomalous training videos; {len(unannotated)} have none "
            f"({', '.join(unannotated[:3])}...). Use a labelled action dataset: `labelled: {{source: dataset, dataset: ucf101}}` "
            "with an action_folder dataset (UCF-101), or `{{source: file, path: ...}}`; or a `random`/`simclr` head"
        )
    if not xs:
        raise MethodError("labelled set `events`: no training video")
    return np.concatenate(xs).astype(np.float32), ys


def _labelled_clips(path: Path, class_of: Callable[[str, Any], str | None], in_dim: int | None) -> tuple[np.ndarray, list[str]]:
    """Every clip of each dataset in the HDF5 file at ``path`` whose ``class_of(key, ds)`` is not
    None, classed as its video."""
    import h5py

    xs, ys = [], []
    with h5py.File(path, "r") as f:
        for key in f:
            ds = f[key]
            cls = class_of(key, ds)
            if cls is None:
                continue
            feats = ds[()].astype(np.float32)
            if feats.ndim != 2 or (in_dim is not None and feats.shape[1] != in_dim):
                raise MethodError(f"{path}: dataset {key} is {feats.shape}, expected [K, {in_dim}] features of the head's extractor")
            xs.append(feats)
            ys += [cls] * feats.shape[0]
    if not xs:
        raise MethodError(f"{path}: no labelled videos")
    return np.concatenate(xs), ys


def file_clips(path: str | Path, in_dim: int | None = None) -> tuple[np.ndarray, list[str]]:
    """A user-supplied labelled set: an HDF5 file with one dataset ``[K, D]`` per video (e.g. the
    features of UCF101 videos, extracted with the same extractor) whose attr ``cls`` names its
    class. Every clip of a video takes the video's class."""
    path = Path(path)
    if not path.is_file():
        raise MethodError(
            f"labelled set file {path} does not exist. ce/supcon heads need a labelled action dataset: extract its clip "
            "features with the same extractor into an HDF5 file, one dataset per video with attr `cls`"
        )

    def attr_class(key: str, ds: Any) -> str:
        if "cls" not in ds.attrs:
            raise MethodError(f"{path}: dataset {key} has no `cls` attr (its class name)")
        cls = ds.attrs["cls"]
        return cls.decode() if isinstance(cls, bytes) else str(cls)

    return _labelled_clips(path, attr_class, in_dim)


def dataset_clips(manifest: str | Path, features: str | Path, in_dim: int | None = None,
                  split: str = "train") -> tuple[np.ndarray, list[str]] | None:
    """A labelled dataset of the workflow (``labelled.source: dataset``, e.g. an ``action_folder``
    UCF-101): every clip of each ``split`` video takes the video's manifest class (its folder).
    None when the split has no video (an action folder without a list file has no test split)."""
    from vadflow.data.manifest import read_manifest

    table = read_manifest(manifest)
    rows = table[(table["split"] == split) & (table["status"] == "ok")]
    if rows.empty:
        return None
    classes = dict(zip(rows["id"], rows["cls"].astype(str)))
    return _labelled_clips(Path(features), lambda key, ds: classes.get(key), in_dim)


def silhouette(x: np.ndarray, labels: list[str] | np.ndarray, max_n: int = 5000, seed: int = 0) -> float | None:
    """Mean silhouette (Euclidean; = ``sklearn.metrics.silhouette_score``), on a seeded subsample of
    at most ``max_n`` points; None with fewer than two classes."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if len(set(labels.tolist())) < 2 or len(labels) < 3:
        return None
    if len(labels) > max_n:
        # O(n^2) distances: beyond max_n points a seeded subsample estimates the mean (logged).
        log.info("silhouette on a seeded subsample of %d of %d points", max_n, len(labels))
        idx = np.sort(np.random.default_rng(seed).choice(len(labels), max_n, replace=False))
        x, labels = x[idx], labels[idx]
        if len(set(labels.tolist())) < 2:
            return None
    return float(silhouette_score(x, labels, metric="euclidean"))


# ----------------------------------------------------------------------------- training


def head_config(cfg: dict[str, Any]) -> dict[str, Any]:
    out = {**HEAD_DEFAULTS, **cfg}
    out["labelled"] = {**HEAD_DEFAULTS["labelled"], **(cfg.get("labelled") or {})}
    mode = out.get("mode")
    if mode not in MODES:
        raise MethodError(f"heads.{out.get('name', '?')}.mode = {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "selfsup":
        out["mode"] = mode = "simclr"
    if out["batch_size"] is None:
        out["batch_size"] = 16 if mode == "simclr" else 32
    if out["views"] is None:
        out["views"] = {"ce": 1, "supcon": 2, "simclr": 4}[mode]
    return out


def _noisy(x: torch.Tensor, noise: float, g: torch.Generator) -> torch.Tensor:
    """Feature-level view: Gaussian noise of ``noise`` stds (inputs are z-scored while training)."""
    if noise <= 0:
        return x
    return x + torch.randn(x.shape, generator=g, dtype=x.dtype) * noise


def simclr_views(videos: list[torch.Tensor], views: int, noise: float, rng: np.random.Generator,
                 g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A ``simclr`` batch: ``views`` snippets of each video at different times (distinct when the
    video has enough) plus feature noise; the ids (the video's position) are SupCon's labels."""
    xs, ids = [], []
    for j, f in enumerate(videos):
        t = rng.choice(len(f), size=views, replace=len(f) < views)
        xs.append(_noisy(f[torch.from_numpy(t)], noise, g))
        ids += [j] * views
    return torch.cat(xs), torch.tensor(ids)


def _train_epoch(opt: torch.optim.Optimizer, losses: Iterator[torch.Tensor]) -> float:
    """One optimiser step per batch loss (drawn lazily, so each batch is built after the last
    step); returns the epoch's mean batch loss."""
    total, steps = 0.0, 0
    for loss in losses:
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
        steps += 1
    return total / max(steps, 1)


def _folded(lin: nn.Linear, mu: torch.Tensor, sd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights of ``x -> lin((x - mu) / sd)`` as one Linear on raw features: W/sd, b - (W/sd) mu."""
    w = lin.weight.detach().cpu().to(torch.float64) / sd.to(torch.float64)[None, :]
    b = lin.bias.detach().cpu().to(torch.float64) - w @ mu.to(torch.float64)
    return w, b


def train_head(cfg: dict[str, Any], train: list[VideoData], labelled: tuple[np.ndarray, list[str]] | None = None,
               validation: tuple[np.ndarray, list[str]] | None = None) -> ProjectionHead:
    """Train a head of ``cfg['mode']`` on cached features; returns it with history and silhouettes in ``meta``.

    ``train``: the dataset's training videos (simclr uses the normal ones; ``events`` labels come
    from them). ``labelled``: an explicit ``(features, classes)`` set for ce/supcon, else ``events``.
    ``validation``: held-out labelled clips whose silhouette before and after training is the
    thesis's head-quality metric (Table 3.1: UCF101 validation).
    """
    from vadflow.device import resolve_device

    # Trained on z-scored inputs (random-init and post-ReLU features are mostly a shared offset,
    # which leaves a contrastive loss almost no gradient) and folded back afterwards, so the
    # artifact is still the spec's single Linear(D -> d) applied to raw features.
    cfg = head_config(cfg)
    mode, seed = cfg["mode"], int(cfg["seed"])
    dev = resolve_device(cfg["device"])
    in_dim = int(train[0].features.shape[1]) if train else int(labelled[0].shape[1])
    dim = int(cfg["embedding_dim"])
    init = ProjectionHead.random(in_dim, dim, seed)
    lin = nn.Linear(in_dim, dim).to(dev)
    with torch.no_grad():
        lin.weight.copy_(init.weight)
        lin.bias.copy_(init.bias)
    g = torch.Generator().manual_seed(seed + 1)
    rng = np.random.default_rng(seed)
    meta: dict[str, Any] = {"mode": mode, "seed": seed, "embedding_dim": dim, "in_dim": in_dim}

    if mode in ("ce", "supcon"):
        if labelled is None:
            labelled = event_clips(train, int(cfg["labelled"]["snippet_threshold"]))
        x_np, names = labelled
        classes = sorted(set(names))
        if len(classes) < 2:
            raise MethodError(f"head {cfg.get('name')}: the labelled set has only class {classes}; {mode} needs two or more")
        y_np = np.array([classes.index(c) for c in names])
        x = torch.from_numpy(np.ascontiguousarray(x_np, dtype=np.float32))
        y = torch.from_numpy(y_np)
        mu, sd = x.mean(0), x.std(0) + 1e-6
        x = (x - mu) / sd
        clf = None
        if mode == "ce":
            # The (discarded) classifier is initialised from the head's seed as well: from the
            # global RNG, ce heads differed from run to run.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + 2)
                clf = nn.Linear(dim, len(classes))
            clf = clf.to(dev)
        params = list(lin.parameters()) + (list(clf.parameters()) if clf is not None else [])
        opt = torch.optim.Adam(params, lr=float(cfg["lr"]))
        meta.update(classes=classes, n_labelled=int(len(y_np)), class_counts={c: int((y_np == i).sum()) for i, c in enumerate(classes)})
        meta["silhouette_init"] = silhouette(init(x_np), names, seed=seed)
        bs, views = int(cfg["batch_size"]), int(cfg["views"])

        def labelled_losses() -> Iterator[torch.Tensor]:
            perm = torch.from_numpy(rng.permutation(len(y)))
            for i in range(0, len(perm), bs):
                idx = perm[i:i + bs]
                xb = torch.cat([_noisy(x[idx], float(cfg["noise"]), g) for _ in range(views)]).to(dev)
                yb = y[idx].repeat(views).to(dev)
                z = lin(xb)
                if clf is not None:
                    yield nn.functional.cross_entropy(clf(z), yb)
                else:
                    yield supcon_loss(z, yb, float(cfg["temperature"]))

        history = [_train_epoch(opt, labelled_losses()) for _ in range(int(cfg["epochs"]))]
        head = ProjectionHead(*_folded(lin, mu, sd), meta)
        meta["silhouette"] = silhouette(head(x_np), names, seed=seed)
        if validation is not None:
            meta["silhouette_val_init"] = silhouette(init(validation[0]), validation[1], seed=seed)
            meta["silhouette_val"] = silhouette(head(validation[0]), validation[1], seed=seed)
    else:  # simclr
        vids = [v for v in train if not v.anomalous]
        if len(vids) < 2:
            raise MethodError(f"head {cfg.get('name')}: simclr needs at least two normal training videos, got {len(vids)}")
        feats = [torch.from_numpy(np.ascontiguousarray(v.features, dtype=np.float32)) for v in vids]
        allx = torch.cat(feats)
        mu, sd = allx.mean(0), allx.std(0) + 1e-6
        feats = [(f - mu) / sd for f in feats]
        opt = torch.optim.Adam(lin.parameters(), lr=float(cfg["lr"]))
        bs, views = max(2, int(cfg["batch_size"])), int(cfg["views"])
        meta.update(n_videos=len(vids), n_snippets=int(sum(len(f) for f in feats)))

        def simclr_losses() -> Iterator[torch.Tensor]:
            perm = rng.permutation(len(vids))
            for i in range(0, len(perm), bs):
                chunk = perm[i:i + bs]
                if len(chunk) < 2:  # one video alone has no negatives
                    continue
                xb, ids = simclr_views([feats[vi] for vi in chunk], views, float(cfg["noise"]), rng, g)
                # SimCLR is SupCon with the video as the label (docs/methods/lof.md §4, P(i) = the other views).
                yield supcon_loss(lin(xb.to(dev)), ids.to(dev), float(cfg["temperature"]))

        history = [_train_epoch(opt, simclr_losses()) for _ in range(int(cfg["epochs"]))]
        head = ProjectionHead(*_folded(lin, mu, sd), meta)
    meta["history"] = history
    head.meta = meta
    log.info("head %s (%s, %d -> %d): loss %.4f -> %.4f; silhouette %s -> %s%s", cfg.get("name"), mode, in_dim, dim,
             history[0] if history else float("nan"), history[-1] if history else float("nan"),
             meta.get("silhouette_init"), meta.get("silhouette"),
             f"; validation silhouette {meta['silhouette_val_init']} -> {meta['silhouette_val']}" if "silhouette_val" in meta else "")
    return head


# ----------------------------------------------------------------------------- artifact


def save_head(path: str | Path, head: ProjectionHead, cfg: dict[str, Any], features_attrs: dict[str, Any]) -> None:
    """``results/{dataset}/heads/{name}.pt``: weights, config, and the features it was trained on."""
    from vadflow.device import runtime_info
    from vadflow.io import save_torch

    blob = {
        "cfg": dict(cfg),
        "head": head.state(),
        "features": {"extractor": str(features_attrs.get("extractor", "")), "config_hash": str(features_attrs.get("config_hash", ""))},
        "meta": runtime_info(),
    }
    save_torch(blob, path)


def load_head(path: str | Path, features_attrs: dict[str, Any] | None = None) -> ProjectionHead:
    """Load a trained head; with ``features_attrs`` (the feature file's attrs) check that the head
    was trained on features of the same extractor config."""
    path = Path(path)
    if not path.is_file():
        raise MethodError(f"projection head file {path} does not exist (built by the `train_head` rule)")
    from vadflow.io import UnsafeFileError, load_torch

    try:
        blob = load_torch(path, what="projection head file", remedy="Delete it and rerun its train_head job")
        head = ProjectionHead.from_state(blob["head"])
    except UnsafeFileError as exc:
        raise MethodError(str(exc)) from None
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise MethodError(f"{path} is not a projection head file ({type(exc).__name__}: {exc}); "
                          "delete it and rerun its train_head job") from None
    if features_attrs is not None:
        want = str(features_attrs.get("config_hash", ""))
        have = blob.get("features", {}).get("config_hash", "")
        if want and have and want != have:
            raise MethodError(
                f"{path} was trained on features with config hash {have} ({blob['features'].get('extractor')}), "
                f"but these features have {want} ({features_attrs.get('extractor')}); retrain the head"
            )
    head.meta.setdefault("name", blob.get("cfg", {}).get("name"))
    return head
