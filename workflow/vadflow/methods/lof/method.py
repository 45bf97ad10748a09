"""LOF (seed document 000, docs/methods/lof.md): frozen 3D-CNN snippet features -> projection head ->
Local Outlier Factor novelty detection. Unsupervised: fits on normal snippets only.

Two evaluation protocols (``protocol`` key, §5):

* ``standard`` (pipeline default): :meth:`LOF.fit` on every snippet of the normal training
  videos (a seeded subsample of ``max_fit``), :meth:`LOF.score` gives frame scores of every test
  video through the shared clip->frame mapping, so the common ``evaluate`` rule applies.
* ``thesis`` (the seed's own protocol): :func:`run_thesis` on the annotated test videos, snippet
  labels by the > 3-of-16 rule, LOF fitted on a seeded 80 % of the normal snippets and evaluated
  on the rest plus every anomalous snippet by snippet-level ROC-AUC, repeated over seeds. It has
  its own rule and CSV (``{method}_thesis_auc.csv``); train/score still run the standard protocol.

Score: LOF_k(P) = -``score_samples(P)`` (higher = more anomalous, ~1 for inliers). With
``normalize: minmax`` (default) the LOF values of the whole test set are mapped linearly to
[0, 1]: the ranking, hence AUC, is unchanged, and the F1/alarm thresholds of the evaluation get
scores on the common [0, 1] scale. This step is transductive (it reads the test videos'
features, never their labels): the train job runs it once (:meth:`LOF.calibrate`) and the two
constants travel in model.pt, so the score job and ``vadflow watch`` apply the same map.
"""
from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import torch

from vadflow.methods.base import Inputs, Method, MethodError, VideoData
from vadflow.data.annotations import clip_anomalous_frames
from vadflow.methods.lof.heads import BUILTIN_HEADS, ProjectionHead, make_head
from vadflow.methods.online import ClipPlan
from vadflow.methods.scaler import FeatureScaler
from vadflow.methods.mapping import clip_to_frames

log = logging.getLogger(__name__)


def fit_lof(x: np.ndarray, n_neighbors: int = 20):
    """sklearn ``LocalOutlierFactor(n_neighbors, novelty=True)``, other arguments at their defaults."""
    from sklearn.neighbors import LocalOutlierFactor

    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] < 2:
        raise MethodError(f"lof: needs at least 2 fitting snippets, got {x.shape[0]}")
    if x.shape[0] <= n_neighbors:
        log.warning("lof: only %d fitting snippets for n_neighbors=%d; sklearn uses %d neighbours", x.shape[0], n_neighbors, x.shape[0] - 1)
    return LocalOutlierFactor(n_neighbors=int(n_neighbors), novelty=True).fit(x)


def lof_values(model, x: np.ndarray) -> np.ndarray:
    """LOF of new points = ``-score_samples`` (never called on the fitting points themselves)."""
    return -model.score_samples(np.asarray(x, dtype=np.float64))


def check_feature_scaling(cfg: dict[str, Any], head: ProjectionHead | None) -> None:
    """``standardize_features`` z-scores the features a built-in head (random, none) sees; a
    trained head already z-scores its inputs inside its Linear and expects raw features."""
    if head is not None and head.meta.get("mode") not in BUILTIN_HEADS:
        raise MethodError(f"lof {cfg.get('name')}: standardize_features is for the built-in heads (random, none); "
                          f"head {cfg.get('head')!r} is trained on raw features and z-scores them itself")


class LOF(Method):
    kind = "lof"
    layouts = ("clips",)
    supervision = "video"  # only the normal/anomalous video label picks the fitting videos
    head_key = "head"
    builtin_heads = BUILTIN_HEADS
    test_folds = False  # one-class: it fits on the normal training videos only
    defaults: ClassVar[dict[str, Any]] = {
        "features": "r2plus1d_50",
        "head": "random",
        "embedding_dim": 256,
        "n_neighbors": 20,
        "standardize": False,
        "standardize_features": False,
        "max_fit": 50000,
        "normalize": "minmax",
        "protocol": "standard",
        "thesis_seeds": [0, 1, 2, 3, 4],
        "fit_fraction": 0.8,
        "snippet_threshold": 3,
        "include_normal_test": False,
        "split": "pooled",
        "seed": 123,
        "mapping": "average",  # with clip_len == stride: frame j <- snippet j // 16, tail <- last (§5.2)
    }

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__({**self.defaults, **cfg})
        self.head: ProjectionHead | None = None
        self.mu: np.ndarray | None = None
        self.sd: np.ndarray | None = None
        self.scaler = FeatureScaler()  # standardize_features: z-scoring before the head
        self.fit_x: np.ndarray | None = None
        self._lof = None
        #: ``normalize: minmax``: the test set's (lowest, highest) LOF value (:meth:`calibrate`).
        self.minmax: tuple[float, float] | None = None

    # -- what the kind declares ---------------------------------------------------------------
    @classmethod
    def reads(cls, cfg: dict[str, Any]) -> Inputs:
        base = super().reads(cfg)
        return Inputs(features=base.features, head=base.head, test_at_train={**cls.defaults, **cfg}["normalize"] == "minmax")

    @classmethod
    def outputs(cls, cfg: dict[str, Any]) -> tuple[str, ...]:
        """``protocol: thesis`` adds the thesis protocol's table (docs/methods/lof.md §5.1)."""
        return ("thesis",) if {**cls.defaults, **cfg}["protocol"] == "thesis" else ()

    @classmethod
    def check_inputs(cls, cfg: dict[str, Any], inputs: dict[str, dict[str, Any]]) -> list[str]:
        """A trained head is trained on the method's own extractor, and z-scores its raw input itself."""
        head = inputs.get("head")
        if head is None:
            return []
        name = cfg.get("name")
        out = []
        if cfg.get("standardize_features"):
            out.append(f"methods.{name}.standardize_features: head {cfg.get('head')!r} is a trained head, which z-scores its "
                       "raw input features itself; standardize_features is for the built-in heads random and none")
        if head.get("features") != cfg.get("features"):
            out.append(f"methods.{name} reads features {cfg.get('features')!r} but its head heads.{cfg.get('head')} is trained on "
                       f"{head.get('features')!r}; set both `features` keys (and their dataset overrides) to the same extractor")
        return out

    # -- head ---------------------------------------------------------------------------
    def set_head(self, head: ProjectionHead) -> None:
        """Use a trained head (the ``train_head`` artifact named by ``head:``)."""
        self.head = head

    def _ensure_head(self, in_dim: int) -> ProjectionHead:
        if self.head is None:
            spec = self.cfg["head"]
            if spec not in BUILTIN_HEADS:
                raise MethodError(f"lof {self.cfg.get('name')}: head {spec!r} is a trained head; pass its file (vadflow train --head)")
            self.head = make_head(spec, in_dim, self.cfg["embedding_dim"], int(self.cfg["seed"]))
        return self.head

    def embed(self, feats: np.ndarray) -> np.ndarray:
        """Head output of the (``standardize_features``: z-scored) features, standardised with
        the fitting-set statistics when ``standardize``."""
        z = self._ensure_head(feats.shape[1])(self.scaler(feats)).astype(np.float64)
        return z if self.mu is None else (z - self.mu) / self.sd

    # -- Method API ------------------------------------------------------------------------
    def fit(self, train: list[VideoData]) -> None:
        normal = [v for v in train if not v.anomalous]
        if not normal:
            raise MethodError("lof: no normal training video to fit on")
        feats = np.concatenate([v.features for v in normal])
        max_fit = int(self.cfg["max_fit"])
        if feats.shape[0] > max_fit:
            idx = np.sort(np.random.default_rng(int(self.cfg["seed"])).choice(feats.shape[0], max_fit, replace=False))
            log.info("lof: %d normal training snippets, fitting on a seeded subsample of %d", feats.shape[0], max_fit)
            feats = feats[idx]
        self.mu = self.sd = None
        self.scaler = FeatureScaler()
        if self.cfg["standardize_features"]:
            check_feature_scaling(self.cfg, self.head)
            self.scaler.fit([feats])
        z = self.embed(feats)
        if self.cfg["standardize"]:
            self.mu, self.sd = z.mean(0), z.std(0) + 1e-6
            z = (z - self.mu) / self.sd
        # Stored as float32 in the model and refitted from it on load, so fit on exactly that.
        self.fit_x = z.astype(np.float32)
        self._lof = fit_lof(self.fit_x, int(self.cfg["n_neighbors"]))
        nof = -self._lof.negative_outlier_factor_
        log.info("lof: fitted on %d snippets of %d normal videos, %d-d; training LOF median %.3f, max %.3f",
                 z.shape[0], len(normal), z.shape[1], float(np.median(nof)), float(nof.max()))

    def snippet_scores(self, feats: np.ndarray) -> np.ndarray:
        if self._lof is None:
            raise MethodError("lof: score before fit")
        return lof_values(self._lof, self.embed(feats))

    def _raw_frames(self, video: VideoData) -> np.ndarray:
        s = self.snippet_scores(video.features)
        return clip_to_frames(s, video.n_frames, video.clip_len, video.stride, self.cfg["mapping"])

    def calibrate(self, test: list[VideoData]) -> None:
        """``normalize: minmax``: the lowest and highest LOF frame value over the test videos,
        the one linear map of all test scores to [0, 1] (per dataset)."""
        if self.cfg["normalize"] == "none" or not test:
            return
        allv = np.concatenate([np.asarray(self._raw_frames(v), dtype=np.float64) for v in test])
        self.minmax = (float(allv.min()), float(allv.max()))
        log.info("lof: min-max normalising test LOF values [%.4f, %.4f] to [0, 1]", *self.minmax)

    def _normalise(self, values: np.ndarray) -> np.ndarray:
        if self.cfg["normalize"] == "none":
            return values
        if self.minmax is None:
            raise MethodError(f"lof {self.cfg.get('name')!r}: normalize: minmax needs the test-set constants that the train job "
                              "computes (calibrate); this model.pt has none: rerun its train job")
        lo, hi = self.minmax
        span = hi - lo if hi > lo else 1.0
        return (np.asarray(values, dtype=np.float64) - lo) / span

    def score(self, video: VideoData) -> np.ndarray:
        return self._normalise(self._raw_frames(video))

    def score_attrs(self) -> dict[str, float]:
        """The min-max constants (provenance of the scores; the model carries them too)."""
        return {} if self.minmax is None else {"minmax_lo": self.minmax[0], "minmax_hi": self.minmax[1]}

    def online(self) -> ClipPlan:
        """Every snippet on its own, through the model's own min-max constants: equal to the offline scores."""
        return ClipPlan(row=lambda feature, objects=None: feature, clip_scores=lambda x: self._normalise(self.snippet_scores(x)),
                        mapping=self.cfg["mapping"])

    def protocol_table(self, test: list[VideoData], head: ProjectionHead | None = None):
        """The thesis protocol's table (§5.1) on the test videos (``head``: a trained head)."""
        return run_thesis(self.cfg, test, head)

    def state(self) -> dict[str, Any]:
        if self._lof is None or self.head is None:
            raise MethodError("lof: nothing to save before fit()")
        out: dict[str, Any] = {"head": self.head.state(), "fit_x": torch.from_numpy(np.ascontiguousarray(self.fit_x, dtype=np.float32))}
        if self.mu is not None:
            out.update(mu=torch.from_numpy(self.mu), sd=torch.from_numpy(self.sd))
        out.update({f"features_{k}": v for k, v in self.scaler.state().items()})
        if self.minmax is not None:
            out["minmax"] = [float(v) for v in self.minmax]
        return out

    def load_state(self, state: dict[str, Any]) -> None:
        # sklearn objects are not weights_only-loadable: the fitting embeddings are stored and the
        # (deterministic) LOF is refitted on them.
        self.head = ProjectionHead.from_state(state["head"])
        self.mu = state["mu"].numpy() if "mu" in state else None
        self.sd = state["sd"].numpy() if "sd" in state else None
        self.scaler = FeatureScaler()
        self.scaler.load_state({k.removeprefix("features_"): v for k, v in state.items() if k.startswith("features_")})
        self.fit_x = state["fit_x"].numpy()
        self._lof = fit_lof(self.fit_x, int(self.cfg["n_neighbors"]))
        self.minmax = tuple(float(v) for v in state["minmax"]) if "minmax" in state else None


# ----------------------------------------------------------------------------- thesis protocol


def snippet_labels(frame_labels: np.ndarray, n_clips: int, clip_len: int = 16, stride: int = 16, threshold: int = 3) -> np.ndarray:
    """0/1 per snippet: anomalous iff it has **more than** ``threshold`` anomalous frames (§2)."""
    return (clip_anomalous_frames(frame_labels, n_clips, clip_len, stride) > threshold).astype(np.int8)


def thesis_split(labels: np.ndarray, seed: int, fit_fraction: float = 0.8, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(fit, test)`` into the pooled snippets.

    ``fit``: a seeded random ``round(fit_fraction * n_normal)`` of the normal snippets (pooled over
    videos), or with ``groups`` (video index per snippet, ``split: per_video``) that fraction of
    each video's normal snippets. ``test``: the other normal snippets plus every anomalous one.
    """
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(int(seed))
    normal = np.flatnonzero(labels == 0)
    if groups is None:
        n_fit = int(round(fit_fraction * normal.size))
        fit = np.sort(rng.permutation(normal)[:n_fit])
    else:
        groups = np.asarray(groups).reshape(-1)
        parts = []
        for gid in np.unique(groups[normal]):
            members = normal[groups[normal] == gid]
            parts.append(rng.permutation(members)[: int(round(fit_fraction * members.size))])
        fit = np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    test = np.setdiff1d(np.arange(labels.size), fit)
    return fit, test


def run_thesis(cfg: dict[str, Any], videos: list[VideoData], head: ProjectionHead | None = None):
    """The thesis protocol (§5.1) on annotated test videos; one row per seed plus a mean row.

    ``head``: a trained head (fixed over seeds); ``None`` means the method's built-in head, which
    for ``random`` is redrawn with each seed (the seed is the head seed and the split seed).
    """
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    cfg = {**LOF.defaults, **cfg}
    use = [v for v in videos if v.frame_labels is not None and (v.anomalous or cfg["include_normal_test"])]
    skipped = [v.id for v in videos if v.frame_labels is None]
    if skipped:
        log.warning("thesis protocol: %d test videos have no temporal annotation and are left out (%s...)", len(skipped), ", ".join(skipped[:3]))
    if not use:
        raise MethodError("thesis protocol: no annotated test video to use")
    feats = np.concatenate([v.features for v in use])
    labels = np.concatenate([snippet_labels(v.frame_labels, v.features.shape[0], v.clip_len, v.stride, int(cfg["snippet_threshold"])) for v in use])
    groups = np.concatenate([np.full(v.features.shape[0], i) for i, v in enumerate(use)])
    if labels.min() == labels.max():
        raise MethodError(f"thesis protocol: all {labels.size} snippets have label {labels[0]}; need normal and anomalous snippets")
    rows = []
    for seed in cfg["thesis_seeds"]:
        fit, test = thesis_split(labels, seed, float(cfg["fit_fraction"]), groups if cfg["split"] == "per_video" else None)
        h = head if head is not None else make_head(cfg["head"], feats.shape[1], cfg["embedding_dim"], int(seed))
        x = feats
        if cfg["standardize_features"]:
            check_feature_scaling(cfg, head)
            x = FeatureScaler().fit([feats[fit]])(feats)
        z = h(x).astype(np.float64)
        if cfg["standardize"]:
            mu, sd = z[fit].mean(0), z[fit].std(0) + 1e-6
            z = (z - mu) / sd
        model = fit_lof(z[fit], int(cfg["n_neighbors"]))
        s = lof_values(model, z[test])
        rows.append({"seed": str(seed), "auc": float(roc_auc_score(labels[test], s)), "n_fit": int(fit.size),
                     "n_test_normal": int((labels[test] == 0).sum()), "n_test_anomalous": int((labels[test] == 1).sum())})
    aucs = np.array([r["auc"] for r in rows])
    df = pd.DataFrame(rows)
    df.insert(2, "auc_std", np.nan)
    # "±" over seeds read as the sample std (ddof = 1; docs/methods/lof.md §7.3 leaves it open); NaN for one seed.
    mean = {"seed": "mean", "auc": float(aucs.mean()), "auc_std": float(aucs.std(ddof=1)) if len(aucs) > 1 else float("nan"), "n_fit": int(df["n_fit"].mean()),
            "n_test_normal": int(df["n_test_normal"].mean()), "n_test_anomalous": int(df["n_test_anomalous"].mean())}
    df = pd.concat([df, pd.DataFrame([mean])], ignore_index=True)
    df.insert(0, "protocol", "thesis")
    df.insert(1, "head", h.meta.get("name") or cfg["head"])
    df.insert(2, "embedding_dim", h.out_dim or int(feats.shape[1]))
    df["n_videos"] = len(use)
    df["n_snippets"] = int(labels.size)
    return df
