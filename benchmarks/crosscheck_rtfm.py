"""Cross-check vadflow's RTFM (workflow/vadflow/methods/rtfm/core.py) against the authors' code.

    python benchmarks/crosscheck_rtfm.py --original /path/to/RTFM [--quick]

``--original`` is a checkout of github tianyu0207/RTFM (checked at commit cf938f4); its
model.py, train.py, utils.py, dataset.py and test_10crop.py are imported from there
(sys.path), unmodified. Three shims live here, not in the checkout: a stub ``visdom`` module
(utils.py imports it for plotting only), ``np.int = int`` (utils.py:35; removed in NumPy 1.24)
and ``Tensor.cuda`` as the identity while the original's loss runs (train.py:67, CPU only).

Both networks get the same weights: the original's, with its BatchNorm weights, biases and
running statistics (the non-local one starts at zero) and its biases randomised under a seed,
copied into ours through ``core.from_original_state_dict``. The inputs are the same seeded
random features (D = 2048 and C = 10 crops, which the original hard-codes); training-mode
forwards run under the same torch seed, so the dropout masks agree. Printed: the largest
absolute difference per component; the exit status is 1 if one exceeds 1e-5 (float32).

Components: the initial weights under one seed; the forward outputs in eval and in train mode
and at inference (one video); the loss and each term of one iteration (train.py:94-105 on the
original model's outputs); one whole training step (train.train with Adam as main.py:40-41):
the three values it plots, then every weight and BatchNorm statistic after the step, also for
batch size 1 with ``single_pair_alias``; the segment rule for T = 1..300 (``--quick``:
1..120); the training item of dataset.Dataset (crops segmented one by one); and the scores and
AUC of test_10crop.test on a few videos. About 32 s of CPU time (``--quick``, which skips the
batch-size-1 step, 25 s); docs/methods/rtfm.md has the table of a full run.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from vadflow.methods.rtfm import core

TOL = 1e-5
D, C, T_TRAIN = 2048, 10, 32  # the original hard-codes 2048 features, 10 crops, 32 segments


class Viz:
    """Stands in for utils.Visualizer: keeps what the original would plot."""

    def __init__(self) -> None:
        self.values: dict[str, list] = {}

    def plot_lines(self, name, y, **_):
        self.values.setdefault(name, []).append(y)

    def lines(self, name, line, X=None):
        self.values.setdefault(name, []).append(np.array(line))


@contextlib.contextmanager
def cuda_is_identity():
    saved = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.Tensor.cuda = saved


def import_original(path: Path) -> types.SimpleNamespace:
    sys.modules.setdefault("visdom", types.ModuleType("visdom"))
    if "int" not in np.__dict__:
        np.int = int  # utils.py:35 np.linspace(..., dtype=np.int)
    sys.path.insert(0, str(path))
    with contextlib.redirect_stdout(io.StringIO()):
        import dataset
        import model
        import test_10crop
        import train
        import utils
    for m in (model, train, utils, dataset, test_10crop):
        if not Path(m.__file__).resolve().is_relative_to(path.resolve()):
            raise SystemExit(f"imported {m.__name__} from {m.__file__}, not from {path}")
    return types.SimpleNamespace(model=model, train=train, utils=utils, dataset=dataset, test=test_10crop)


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Random BatchNorm affine weights and statistics and biases; conv/linear weights stay Xavier."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.dtype.is_floating_point:
                continue
            if name.endswith("running_var") or (name.endswith(".weight") and t.ndim == 1):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith(("running_mean", ".bias")):
                t.copy_(0.1 * torch.randn(t.shape, generator=g))


def copy_into_ours(orig: torch.nn.Module, cfg: dict) -> core.Net:
    net = core.build(D, cfg)
    net.load_state_dict(core.from_original_state_dict(orig.state_dict()))
    return net


def record(model: torch.nn.Module) -> None:
    """Keep every forward's outputs in ``model.outputs``."""
    model.outputs = []
    forward = model.forward

    def recorded(*args, **kwargs):
        out = forward(*args, **kwargs)
        model.outputs.append(out)
        return out

    model.forward = recorded


def maxdiff(a, b) -> float:
    a = a.detach().double().reshape(-1) if torch.is_tensor(a) else torch.as_tensor(np.asarray(a), dtype=torch.float64).reshape(-1)
    b = b.detach().double().reshape(-1) if torch.is_tensor(b) else torch.as_tensor(np.asarray(b), dtype=torch.float64).reshape(-1)
    if a.shape != b.shape:
        return float("inf")
    return float((a - b).abs().max()) if a.numel() else 0.0


def state_diff(orig: torch.nn.Module, net: core.Net) -> float:
    theirs = core.from_original_state_dict(orig.state_dict())
    ours = net.state_dict()
    if set(theirs) != set(ours):
        return float("inf")
    return max(maxdiff(theirs[k], ours[k]) for k in ours)


def bags(n: int, t: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, C, t, D, generator=g) * 2.0  # non-negative, like I3D's pooled features


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--original", required=True, type=Path, help="checkout of github tianyu0207/RTFM")
    ap.add_argument("--quick", action="store_true", help="fewer segment lengths and test videos")
    args = ap.parse_args(argv)
    if not (args.original / "model.py").is_file():
        raise SystemExit(f"{args.original} has no model.py: pass a checkout of tianyu0207/RTFM")
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    o = import_original(args.original)
    orig_cfg = {"fidelity": "original"}
    rows: list[tuple[str, float]] = []
    info: list[str] = []

    def row(name: str, value: float) -> None:
        rows.append((name, value))
        print(f"{name:<58} {value:>11.3e}  {'ok' if value <= TOL else 'FAIL'}", flush=True)

    print(f"{'component':<58} {'max|diff|':>11}")
    B = 2
    # ---- initial weights under one seed -----------------------------------------------------
    torch.manual_seed(0)
    orig = o.model.Model(D, B)
    torch.manual_seed(0)
    ours = core.build(D, {})
    row("init: all weights, same torch seed, no copying", state_diff(orig, ours))

    # ---- forward in eval mode, and at inference ----------------------------------------------
    randomise(orig, seed=1)
    names = ("score_abnormal", "score_normal", "feat_select_abn", "feat_select_normal", "scores", "feat_magnitudes")
    their_pos = (0, 1, 2, 3, 6, 9)  # model.py:273

    def compare_outputs(tag: str, theirs, mine: core.Output) -> None:
        for name, pos in zip(names, their_pos):
            row(f"{tag}: {name}", maxdiff(theirs[pos], getattr(mine, name)))

    orig.eval()
    ours = copy_into_ours(orig, orig_cfg).eval()
    x, v = bags(2 * B, 12, seed=2), bags(1, 40, seed=3)
    with torch.no_grad():
        compare_outputs(f"forward (eval, B={B}, C={C}, T=12)", orig(x), ours(x, n_normal=B))
        compare_outputs("forward (inference, one video, T=40)", orig(v), ours(v))

    # ---- one training iteration: train.train + Adam as main.py:40-41 ---------------------------
    # Each model's forward is recorded, so the train-mode outputs and every loss term are
    # compared on the very forward the step used (the same torch seed: the same dropout masks).
    for b in (B,) if args.quick else (B, 1):
        model_b = o.model.Model(D, b)  # its batch_size decides the normal/abnormal split
        model_b.load_state_dict(orig.state_dict())
        ours = copy_into_ours(orig, orig_cfg)
        record(model_b)
        record(ours)
        xb = bags(2 * b, T_TRAIN, seed=5 + b)
        nlabel, alabel = torch.zeros(b), torch.ones(b)
        opt_t = torch.optim.Adam(model_b.parameters(), lr=1e-3, weight_decay=0.005)
        opt_o = core.optimizer(ours, orig_cfg)
        viz = Viz()
        torch.manual_seed(8)
        with cuda_is_identity():
            o.train.train(iter([(xb[:b], nlabel)]), iter([(xb[b:], alabel)]), model_b, b, opt_t, viz, torch.device("cpu"))
        torch.manual_seed(8)
        parts = core.train_step(ours, opt_o, xb[:b], xb[b:], orig_cfg)
        out, mine = model_b.outputs[0], ours.outputs[0]
        compare_outputs(f"forward (train, seeded dropout, B={b}, C={C}, T={T_TRAIN})", out, mine)
        with torch.no_grad(), cuda_is_identity():
            scores = out[6].view(b * 32 * 2, -1).squeeze()  # train.py:94-97
            abn = scores[b * 32:]
            cls = o.train.RTFM_loss(0.0, 100)(out[1], out[0], nlabel, alabel, out[3], out[2])
            crit = o.train.RTFM_loss(0.0001, 100)(out[1], out[0], nlabel, alabel, out[3], out[2])
            smooth = o.train.smooth(abn, 8e-4)
            sparse = o.train.sparsity(abn, b, 8e-3)
        tag = f"loss (fidelity=original, B={b})"
        row(f"{tag}: BCE", maxdiff(cls, parts["cls"]))
        row(f"{tag}: alpha * magnitude", maxdiff(crit - cls, parts["magnitude"]))
        row(f"{tag}: smoothness", maxdiff(smooth, parts["smoothness"]))
        row(f"{tag}: sparsity", maxdiff(sparse, parts["sparsity"]))
        row(f"{tag}: total (train.py:105)", maxdiff(crit + smooth + sparse, parts["total"]))
        tag = f"train step (fidelity=original, B={b})"
        row(f"{tag}: plotted loss, smooth loss, sparsity loss",
            max(maxdiff(viz.values["loss"][0], parts["total"]), maxdiff(viz.values["smooth loss"][0], parts["smoothness"]),
                maxdiff(viz.values["sparsity loss"][0], parts["sparsity"])))
        row(f"{tag}: all weights and BN statistics after the step", state_diff(model_b, ours))
        with torch.no_grad():  # what the paper-intent defaults would change on this very forward
            a = mine.scores[b:]
            d_sm = 8e-4 * (core.smoothness_loss(a, "per_video") - core.smoothness_loss(a, "across_batch"))
            d_sp = 8e-3 * (core.sparsity_loss(a, "l1_per_video") - core.sparsity_loss(a, "l2_batch"))
        info.append(f"B={b}: paper-intent smoothness {float(d_sm):+.3e}, sparsity {float(d_sp):+.3e} vs the original's"
                    + ("; with single_pair_alias off the abnormal bag enters the BCE and magnitude terms" if b == 1 else ""))

    # ---- segment rule --------------------------------------------------------------------------
    rng = np.random.default_rng(9)
    t_max = 120 if args.quick else 300
    worst = 0.0
    for t in range(1, t_max + 1):
        f = rng.normal(size=(t, 7)).astype(np.float32)
        worst = max(worst, maxdiff(o.utils.process_feat(f, 32), core.segment(f, 32)))
    row(f"segment rule, T = 1..{t_max}", worst)

    # ---- dataset item, inference scores and AUC (run in a scratch directory) ----------------
    lengths = (3, 17, 45) if args.quick else (3, 17, 32, 71)
    videos = [rng.random((t, C, D), dtype=np.float32) * 2 for t in lengths]  # the .npy layout [T, C, D]
    cwd = os.getcwd()
    saved_load = np.load
    with tempfile.TemporaryDirectory() as tmp:
        try:
            os.chdir(tmp)
            os.makedirs("list")
            for i, vid in enumerate(videos):
                np.save(f"v{i}.npy", vid)
            Path("list/ucf-i3d.list").write_text("".join(f"{tmp}/v{i}.npy\n" for i in range(len(videos))))
            Path("list/ucf-i3d-test.list").write_text("".join(f"{tmp}/v{i}.npy\n" for i in range(len(videos))))
            ds_args = argparse.Namespace(modality="RGB", dataset="ucf")
            with contextlib.redirect_stdout(io.StringIO()):
                train_ds = o.dataset.Dataset(ds_args, is_normal=False, test_mode=False)  # list[:810]: all
                test_ds = o.dataset.Dataset(ds_args, test_mode=True)
            worst = max(maxdiff(train_ds[i][0], np.stack([core.segment(vid[:, c]) for c in range(C)]))
                        for i, vid in enumerate(videos))
            row("dataset item: [T, C, D] file -> [C, 32, D] (crops one by one)", worst)

            ours = copy_into_ours(orig, orig_cfg)
            mine = np.concatenate([core.snippet_scores(ours, torch.from_numpy(test_ds[i]).permute(1, 0, 2))
                                   for i in range(len(videos))])
            gt = (rng.random(mine.size * 16) < 0.3).astype(np.int64)
            gt[:2] = (0, 1)
            loader = [torch.from_numpy(test_ds[i])[None] for i in range(len(videos))]  # batch_size=1
            np.load = lambda *a, **k: gt  # test_10crop.py:22 loads list/gt-sh.npy
            viz = Viz()
            with contextlib.redirect_stdout(io.StringIO()):
                auc = o.test.test(loader, orig, argparse.Namespace(dataset="shanghai"), viz, torch.device("cpu"))
        finally:
            np.load = saved_load
            os.chdir(cwd)
    from sklearn.metrics import roc_auc_score

    row(f"inference: frame scores of {len(videos)} test videos (T = {', '.join(map(str, lengths))})",
        maxdiff(viz.values["scores"][0], np.repeat(mine, 16)))
    row("inference: test AUC", abs(auc - roc_auc_score(gt, np.repeat(mine, 16))))

    print()
    for line in info:
        print("info:", line)
    bad = [name for name, value in rows if not value <= TOL]
    print(f"{len(rows) - len(bad)}/{len(rows)} components within {TOL:g}" + (f"; FAILED: {bad}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
