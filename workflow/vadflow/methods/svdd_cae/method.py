"""SVDD-CAE (seed document 004, docs/methods/svdd_cae.md): BCAE1 + Deep-SVDD encoder fine-tuning.

One-class and unsupervised, on pixels: the method reads a frame cache (``methods.<m>.frames``
names a ``frames:`` entry), never clip features.

1. BCAE1 (:mod:`vadflow.methods.svdd_cae.cae`) is trained with MSE on the frames of the normal
   training videos; 10 % of those videos (by video, seeded) are the validation set driving
   ReduceLROnPlateau and early stopping (the best-validation weights are kept).
2. A copy has its encoder fine-tuned with the Deep-SVDD loss around c, the clamped mean
   embedding of the training frames (:mod:`vadflow.methods.svdd_cae.svdd`); the decoder is frozen.
3. Every test frame is scored by its reconstruction error e(t) (``error_metric``);
   d(t) = ||z - c||^2 and d(t) - R^2 are logged alongside.

Frame scores, in the scores file (evaluated by the common evaluate job):

* ``global`` (the headline, protocol B): e(t) pooled over all videos, mapped monotonically by
  e / (e + q) with q the ``calibration_quantile`` of the validation frames' errors, so a
  score of 0.5 means "as bad as the 99th-percentile normal validation frame" and the fixed
  thresholds of the evaluation mean something; AUC, AP and EER are those of raw e(t).
* ``agg`` (protocol A, the thesis's): per-video regularity, Savitzky-Golay, 1 - s~(t)
  (:mod:`vadflow.methods.svdd_cae.regularity`). Transductive: every video is min-max scaled on itself.
* ``bcae1_global``, ``bcae1_agg``: the same from the BCAE1 before fine-tuning, on the same
  frames (``compare_bcae1``), so one run reports BCAE1 against +SVDD.

With a test stride above 1, each scored frame's value is held over the frames up to the next.
"""
from __future__ import annotations

import copy
import logging
from typing import Any, ClassVar, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from vadflow.device import resolve_device
from vadflow.methods.svdd_cae import cae, svdd
from vadflow.methods.base import Method, MethodError, VideoData
from vadflow.methods.svdd_cae.regularity import METRICS, agg_scores, anomaly_value, frame_errors, hold

log = logging.getLogger(__name__)

#: logged per-frame values (scores.h5 ``logs/``) of each error metric.
LOG_NAMES = {"sq_sum": "error_sq_sum", "l1_sum": "error_l1_sum", "ssim": "error_1_minus_ssim", "psnr": "psnr_db"}


def _deep(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class SVDDCAE(Method):
    kind = "svdd_cae"
    layouts = ("frames",)
    supervision = "video"  # only the normal/anomalous video flag picks the training videos
    feature_keys = ()  # pixels from a frame cache, not clip features
    frames_key = "frames"
    test_folds = False  # one-class: it trains on the normal training videos only
    main_set = "global"
    defaults: ClassVar[dict[str, Any]] = {
        "frames": "cae",
        "seed": 123,
        "device": "auto",
        **cae.DEFAULTS,
        "ae": {"lr": 1e-3, "betas": [0.9, 0.999], "weight_decay": 1e-5, "batch_size": 256, "epochs": 300, "patience": 8,
               "plateau_factor": 0.75, "plateau_patience": 4, "plateau_threshold": 5e-5, "val_fraction": 0.1},
        "svdd": {"enabled": True, "objective": "soft-boundary", "nu": 0.01, "lr": 5e-7, "weight_decay": 1e-7, "batch_size": 128,
                 "epochs": 10, "eps": 0.01, "trainable": "all", "bn": "train", "warmup_epochs": 0, "joint_beta": 0.0},
        "error_metric": "sq_sum",
        "smoothing": {"window": 15, "polyorder": 1},
        "compare_bcae1": True,
        "calibration_quantile": 0.99,
        "score_batch": 256,
    }

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(_deep(self.defaults, cfg))
        if self.cfg["error_metric"] not in METRICS:
            raise MethodError(f"methods.{self.cfg.get('name', 'svdd_cae')}.error_metric = {self.cfg['error_metric']!r}: "
                              f"expected one of {', '.join(METRICS)}")
        self.device = resolve_device(self.cfg["device"])
        self.models: dict[str, cae.BCAE1] = {}  # "bcae1" and, after fine-tuning, "svdd"
        self.c: torch.Tensor | None = None
        self.r = 0.0
        self.q: dict[str, float] = {}
        self.in_ch: int | None = None
        self.size: tuple[int, int] | None = None
        self.history: dict[str, Any] = {}
        self._sets: dict[str, dict[str, np.ndarray]] = {}
        self._logs: dict[str, dict[str, np.ndarray]] = {}

    # ---- data -------------------------------------------------------------------------

    def _frames(self, video: VideoData):
        if video.layout != "frames" or video.frames is None:
            raise MethodError(f"{self.kind} reads a frame cache (layout 'frames'); video {video.id!r} has layout {video.layout!r}: "
                              f"set methods.<name>.frames to a `frames:` entry")
        return video.frames

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x)).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)

    def _batches(self, x: np.ndarray, size: int, rng: np.random.Generator | None = None) -> Iterator[torch.Tensor]:
        """Mini-batches of ``x`` (shuffled with ``rng``); a last batch of one frame joins the
        previous one, since train-mode BatchNorm needs two values per channel."""
        order = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
        cuts = list(range(0, len(x), size))
        if len(cuts) > 1 and len(x) - cuts[-1] == 1:
            cuts.pop()
        for i, a in enumerate(cuts):
            b = cuts[i + 1] if i + 1 < len(cuts) else len(x)
            yield self._tensor(x[a:b] if rng is None else x[order[a:b]])

    # ---- training ---------------------------------------------------------------------

    def fit(self, train: list[VideoData]) -> None:
        cfg = self.cfg
        normal = [v for v in train if not v.anomalous]
        if not normal:
            raise MethodError(f"{self.kind}: no normal training video has frames; it trains on normal frames only")
        seed = int(cfg["seed"])
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        n_val = 0
        if len(normal) >= 2 and cfg["ae"]["val_fraction"] > 0:
            n_val = min(len(normal) - 1, max(1, int(round(cfg["ae"]["val_fraction"] * len(normal)))))
        else:
            log.warning("%s: %d normal training video(s): no validation split; early stopping watches the training loss",
                        self.kind, len(normal))
        perm = rng.permutation(len(normal))
        val = [normal[i] for i in sorted(perm[:n_val])]
        fit = [normal[i] for i in sorted(perm[n_val:])]
        x_fit = np.concatenate([self._frames(v).read() for v in fit])
        x_val = np.concatenate([self._frames(v).read() for v in val]) if val else x_fit[:0]
        self.in_ch, self.size = int(x_fit.shape[-1]), (int(x_fit.shape[1]), int(x_fit.shape[2]))
        try:
            cae.check_geometry(self.size, cfg["bottleneck_kernel"])
        except ValueError as exc:
            raise MethodError(f"{self.kind}: frames are {self.size[0]}x{self.size[1]}: {exc}") from None
        log.info("%s: BCAE1 on %d frames of %d videos, validation %d frames of %d videos (%s), %s",
                 self.kind, len(x_fit), len(fit), len(x_val), len(val), ", ".join(v.id for v in val) or "none", self.device)
        self.history["split"] = {"fit": [v.id for v in fit], "validation": [v.id for v in val]}
        model = cae.build(cfg, self.in_ch).to(self.device)
        self.history["ae"] = self._train_ae(model, x_fit, x_val, rng)
        self.models = {"bcae1": model.eval()}
        if cfg["svdd"]["enabled"]:
            self.tune_svdd(x_fit, rng)
        self.calibrate(x_val if len(x_val) else x_fit)

    def tune_svdd(self, x_fit: np.ndarray, rng: np.random.Generator) -> None:
        """Stage 2 on the trained BCAE1's frames ``x_fit``: a copy with its encoder fine-tuned
        (``svdd`` config), kept as model ``svdd`` beside the untouched ``bcae1``."""
        s = self.cfg["svdd"]
        tuned = copy.deepcopy(self.models["bcae1"])
        self.c = svdd.clamp_centre(svdd.mean_embedding(tuned.encoder, self._batches(x_fit, int(s["batch_size"]))), float(s["eps"]))
        self.r, self.history["svdd"] = svdd.finetune(
            tuned, lambda: self._batches(x_fit, int(s["batch_size"]), rng), self.c, s, progress=True)
        self.models["svdd"] = tuned.eval()

    def calibrate(self, ref: np.ndarray) -> None:
        """The global score's scale per model: a high quantile of the errors of normal
        validation frames ``ref`` (training frames when there is no validation video)."""
        for name in self.models:
            e = anomaly_value(self.cfg["error_metric"], self._errors(name, ref)[0])
            self.q[name] = max(float(np.quantile(e, float(self.cfg["calibration_quantile"]))), 1e-12)
        log.info("%s: calibration quantiles %s", self.kind, self.q)

    def _train_ae(self, model: cae.BCAE1, x_fit: np.ndarray, x_val: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
        a = self.cfg["ae"]
        opt = torch.optim.Adam(model.parameters(), lr=float(a["lr"]), betas=tuple(a["betas"]), weight_decay=float(a["weight_decay"]))
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=float(a["plateau_factor"]),
                                                             patience=int(a["plateau_patience"]), threshold=float(a["plateau_threshold"]))
        best, best_state, best_epoch, bad = float("inf"), None, 0, 0
        rows = []
        bar = tqdm(range(int(a["epochs"])), desc="BCAE1", unit="epoch")
        for epoch in bar:
            model.train()
            tot, n = 0.0, 0
            for x in self._batches(x_fit, int(a["batch_size"]), rng):
                _, x_hat = model(x)
                loss = F.mse_loss(x_hat, x)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot += float(loss.detach()) * x.shape[0]
                n += x.shape[0]
            train_loss = tot / n
            val_loss = self._mse(model, x_val) if len(x_val) else train_loss
            plateau.step(val_loss)
            rows.append({"epoch": epoch + 1, "train_mse": train_loss, "val_mse": val_loss, "lr": opt.param_groups[0]["lr"]})
            bar.set_postfix(train=f"{train_loss:.5f}", val=f"{val_loss:.5f}")
            if val_loss < best:
                best, best_epoch, bad = val_loss, epoch + 1, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
                if bad >= int(a["patience"]):
                    log.info("BCAE1: early stop after epoch %d (no validation improvement for %d epochs)", epoch + 1, bad)
                    break
        bar.close()
        last = rows[-1]
        model.load_state_dict(best_state)
        log.info("BCAE1: kept epoch %d (validation MSE %.6g); last epoch %d had %.6g", best_epoch, best, last["epoch"], last["val_mse"])
        return {"epochs": rows, "best_epoch": best_epoch, "best_val_mse": best, "last_val_mse": last["val_mse"]}

    @torch.no_grad()
    def _mse(self, model: cae.BCAE1, x: np.ndarray) -> float:
        model.eval()
        tot = 0.0
        for xb in self._batches(x, int(self.cfg["score_batch"])):
            tot += float(F.mse_loss(model(xb)[1], xb)) * xb.shape[0]
        return tot / len(x)

    # ---- scoring ----------------------------------------------------------------------

    @torch.no_grad()
    def _errors(self, name: str, x: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Per-frame errors of every metric (and d(t) for the fine-tuned model) over ``x``."""
        model = self.models[name].eval()
        errs: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
        dist: list[np.ndarray] = []
        for xb in self._batches(x, int(self.cfg["score_batch"])):
            z, x_hat = model(xb)
            for m, v in frame_errors(xb, x_hat).items():
                errs[m].append(v.double().cpu().numpy())
            if name == "svdd" and self.c is not None:
                dist.append(svdd.distances(z, self.c).double().cpu().numpy())
        return {m: np.concatenate(v) for m, v in errs.items()}, (np.concatenate(dist) if dist else None)

    def score(self, video: VideoData) -> np.ndarray:
        if not self.models:
            raise MethodError(f"{self.kind}: score() before fit()/load")
        src = self._frames(video)
        if src.n_frames != video.n_frames:
            raise MethodError(f"video {video.id!r}: frame cache has {src.n_frames} frames, the manifest {video.n_frames}")
        headline = "svdd" if "svdd" in self.models else "bcae1"
        names = [headline] + ([n for n in self.models if n != headline] if self.cfg["compare_bcae1"] else [])
        errs: dict[str, dict[str, list[np.ndarray]]] = {name: {m: [] for m in METRICS} for name in names}
        dist: list[np.ndarray] = []
        for chunk in src.batches(int(self.cfg["score_batch"])):
            if chunk.shape[-1] != self.in_ch or tuple(chunk.shape[1:3]) != self.size:
                raise MethodError(f"video {video.id!r}: frames {list(chunk.shape[1:])}, the model was trained on "
                                  f"{[*self.size, self.in_ch]}; rebuild the frame cache or retrain")
            for name in names:
                e, d = self._errors(name, chunk)
                for m in METRICS:
                    errs[name][m].append(e[m])
                if d is not None:
                    dist.append(d)
        smooth = self.cfg["smoothing"]
        out = None
        for name in names:
            per = {m: np.concatenate(v) for m, v in errs[name].items()}
            e = anomaly_value(self.cfg["error_metric"], per)
            glob = hold(e / (e + self.q[name]), src.index, video.n_frames)
            agg = hold(agg_scores(e, int(smooth["window"]), int(smooth["polyorder"])), src.index, video.n_frames)
            prefix = "" if name == headline else f"{name}_"
            if name == headline:
                out = glob
                for m in METRICS:  # A8: every error metric logged, as the spec names them
                    value = 1.0 - per[m] if m == "ssim" else per[m]
                    self._logs.setdefault(LOG_NAMES[m], {})[video.id] = hold(value, src.index, video.n_frames)
            else:
                self._sets.setdefault(f"{prefix}global", {})[video.id] = glob
            self._sets.setdefault(f"{prefix}agg", {})[video.id] = agg
        if dist:
            d = np.concatenate(dist)
            self._logs.setdefault("svdd_d", {})[video.id] = hold(d, src.index, video.n_frames)
            self._logs.setdefault("svdd_d_minus_R2", {})[video.id] = hold(d - self.r**2, src.index, video.n_frames)
        return out

    def score_sets(self) -> dict[str, dict[str, np.ndarray]]:
        return self._sets

    def score_logs(self) -> dict[str, dict[str, np.ndarray]]:
        return self._logs

    # ---- persistence ------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        if not self.models:
            raise MethodError(f"{self.kind}: nothing to save before fit()")
        return {
            "in_ch": self.in_ch, "size": list(self.size),
            "nets": {name: {k: v.detach().cpu() for k, v in m.state_dict().items()} for name, m in self.models.items()},
            "c": None if self.c is None else self.c.detach().cpu(), "R": self.r, "q": dict(self.q), "history": self.history,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.in_ch, self.size = int(state["in_ch"]), tuple(int(v) for v in state["size"])
        self.models = {}
        for name, sd in state["nets"].items():
            m = cae.build(self.cfg, self.in_ch)
            m.load_state_dict(sd)
            self.models[name] = m.to(self.device).eval()
        self.c = None if state["c"] is None else state["c"].to(self.device)
        self.r, self.q, self.history = float(state["R"]), dict(state["q"]), state["history"]
