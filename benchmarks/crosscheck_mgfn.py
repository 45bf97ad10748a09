"""Cross-check vadflow's MGFN (vadflow.methods.mgfn.core) against the authors' code.

    PYTHONPATH=workflow python benchmarks/crosscheck_mgfn.py --original /path/to/MGFN-checkout \
        [--release-train /path/to/train.py@ab9062c] [--quick]

``--original`` is a checkout of github.com/carolchenyx/MGFN. (checked at 98e9389). Its modules
are imported from there as they are; this script only works around what a CPU-only, current
environment lacks, in this process: ``.cuda()`` returns the tensor itself,
``torch.set_default_tensor_type`` does nothing, ``np.int`` is ``int`` (removed in numpy 1.24),
``visdom`` is an empty stub (only its plotting class needs it), and the original's
``option.parse_args()`` sees no command line but ``--batch_size``. ``einops`` must be
importable (``pip install einops``, e.g. ``--target DIR`` and ``PYTHONPATH=DIR``).

Both networks get the same seeded random weights (the original is built, its norm gains,
biases and BatchNorm statistics are randomised, and its state_dict is loaded into ours with
strict key matching), the same inputs (random non-negative I3D-like features, 10 crops,
D = 2048; the original gets the magnitude channel its loader appends, computed as the loader
does) and the same torch RNG state before each training-mode forward, so the magnitude
dropout masks match. Printed: the max abs difference per component, for

* the five forward outputs (training mode, controlled dropout; and eval mode),
* each loss term and the total of one iteration of the original ``train()`` on the same
  batch (ours with ``mc_pairing: original``), and every parameter after its Adam step,
* with ``--release-train`` (train.py of commit ab9062c), the same for ``regularizers: release``,
* the segment rule against ``utils.process_feat`` for T = 1..300,
* whole-video scores against what the original ``test()`` passes to ``roc_curve``, for
  several T and C = 10, 5, 1.

A quantity passes when its max abs difference is <= 1e-5 · max(1, max |original value|)
(float32: absolute below 1, relative above; the MC terms are ~1e4). Exit status 1 if any fails.
Runs on CPU in well under a minute (``--quick``: smaller batch, fewer videos).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import importlib.util
import io
import os
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
from vadflow.methods.mgfn import core  # noqa: E402

TOL = 1e-5
D = 2048  # the original slices its input at 2048 channels (models/mgfn.py:187-188)
CROPS = 10  # and splits normal/abnormal rows at batch_size * 10 (models/mgfn.py:26-29)


def load_original(path: Path, batch_size: int, release_train: Path | None):
    """Import the original's option, models.mgfn, train, test (and a release train.py) from ``path``."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    if importlib.util.find_spec("einops") is None:
        sys.exit("the original needs einops: pip install einops (e.g. --target DIR, then PYTHONPATH=DIR)")
    if importlib.util.find_spec("visdom") is None:
        sys.modules["visdom"] = types.ModuleType("visdom")  # utils.Visualizer only; never called here
    if not hasattr(np, "int"):
        np.int = int  # utils.process_feat: np.linspace(..., dtype=np.int)
    torch.Tensor.cuda = lambda self, *a, **k: self  # mgfn.py:43,65 and train.py:61 call .cuda()
    torch.set_default_tensor_type = lambda *a, **k: None  # train.py:3, dataset.py:5 ask for CUDA tensors
    for pkg in ("utils", "models", "datasets"):  # folders without __init__.py: make sure theirs are found
        mod = types.ModuleType(pkg)
        mod.__path__ = [str(path / pkg)]
        sys.modules[pkg] = mod
    sys.path.insert(0, str(path))
    argv, sys.argv = sys.argv, [sys.argv[0], "--batch_size", str(batch_size)]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            mods = {name: importlib.import_module(name) for name in ("option", "models.mgfn", "train", "test", "utils.utils")}
            if release_train is not None:
                spec = importlib.util.spec_from_file_location("train_release", release_train)
                mods["train_release"] = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mods["train_release"])
    finally:
        sys.argv = argv
    return mods


def randomise(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Give norm gains/biases and BatchNorm statistics seeded random values (the rest keeps torch's seeded init)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
            elif isinstance(m, torch.nn.LayerNorm):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
            elif hasattr(m, "g") and hasattr(m, "b") and isinstance(m.g, torch.nn.Parameter):
                m.g.copy_(1 + 0.2 * torch.randn(m.g.shape, generator=gen))
                m.b.copy_(0.2 * torch.randn(m.b.shape, generator=gen))


def with_mag(x: np.ndarray) -> np.ndarray:
    """The original loader's input: features plus their L2 norm as one more channel (dataset.py:62-63,
    79-82). The norm is taken with torch, as ours does, not numpy: the two round differently in
    the last bit (reported separately), and this check is of the networks, not of float32 norms."""
    t = torch.from_numpy(x)
    return torch.cat((t, torch.linalg.vector_norm(t, dim=-1, keepdim=True)), -1).numpy()


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, bool]] = []

    def add(self, name: str, ours, theirs) -> None:
        a = torch.as_tensor(np.asarray(ours, dtype=np.float64) if not torch.is_tensor(ours) else ours.detach().double())
        b = torch.as_tensor(np.asarray(theirs, dtype=np.float64) if not torch.is_tensor(theirs) else theirs.detach().double())
        if a.shape != b.shape:
            self.rows.append((f"{name} (shape {tuple(a.shape)} vs {tuple(b.shape)})", float("inf"), float("nan"), False))
            return
        diff = float((a - b).abs().max()) if a.numel() else 0.0
        scale = float(b.abs().max()) if b.numel() else 0.0
        self.rows.append((name, diff, scale, diff <= TOL * max(1.0, scale)))

    def print(self) -> bool:
        w = max(len(r[0]) for r in self.rows)
        print(f"{'component':<{w}}  {'max abs diff':>12}  {'max |orig|':>11}  ok")
        for name, diff, scale, ok in self.rows:
            print(f"{name:<{w}}  {diff:12.3e}  {scale:11.4g}  {'yes' if ok else 'NO'}")
        return all(r[3] for r in self.rows)


class Recorder:
    """Collect what the original's loss pieces return, in call order."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}

    def wrap_module_fn(self, mod, name: str) -> None:
        fn = getattr(mod, name)

        def rec(*a, **k):
            out = fn(*a, **k)
            self.values.setdefault(name, []).append(out.detach().clone())
            return out
        setattr(mod, name, rec)

    def wrap_forward(self, cls, name: str):
        """Record ``cls.forward``'s outputs; returns the original forward (to restore)."""
        fwd, rec = cls.forward, self

        def forward(module, *a, **k):
            out = fwd(module, *a, **k)
            rec.values.setdefault(name, []).append(out.detach().clone())
            return out
        cls.forward = forward
        return fwd


def check_training(report: Report, tag: str, trainmod, orig0, ours0, cfg: dict, nin: np.ndarray, ain: np.ndarray, seed: int,
                   forward: bool = False) -> None:
    """One iteration of the original ``train()`` vs ``core.loss`` + Adam step (and, with ``forward``,
    the five outputs of the training-mode forward inside each, same RNG state so same dropout masks)."""
    n = nin.shape[0]
    orig, ours = copy.deepcopy(orig0), copy.deepcopy(ours0)
    outs: dict[str, tuple] = {}
    orig.register_forward_hook(lambda mod, inp, out: outs.setdefault("orig", out))
    ours.register_forward_hook(lambda mod, inp, out: outs.setdefault("ours", out))
    rec = Recorder()
    saved = {k: getattr(trainmod, k) for k in ("sparsity", "smooth")}
    con_cls, bce_cls = trainmod.ContrastiveLoss, torch.nn.BCELoss
    con_fwd, bce_fwd = rec.wrap_forward(con_cls, "ContrastiveLoss"), rec.wrap_forward(bce_cls, "BCELoss")
    try:
        rec.wrap_module_fn(trainmod, "sparsity")
        rec.wrap_module_fn(trainmod, "smooth")
        opt_o = torch.optim.Adam(orig.parameters(), lr=1e-3, weight_decay=0.0005)  # main.py:62-63
        nl = [(torch.from_numpy(with_mag(nin)), torch.zeros(n))]
        al = [(torch.from_numpy(with_mag(ain)), torch.ones(n))]
        torch.manual_seed(seed)
        with contextlib.redirect_stderr(io.StringIO()):
            cost, loss_smooth, loss_sparse = trainmod.train(nl, al, orig, n, opt_o, torch.device("cpu"))
    finally:
        for k, v in saved.items():
            setattr(trainmod, k, v)
        con_cls.forward, bce_cls.forward = con_fwd, bce_fwd
    torch.manual_seed(seed)
    total, parts = core.loss(ours, torch.from_numpy(nin), torch.from_numpy(ain), cfg)
    opt = core.optimizer(ours, cfg)
    opt.zero_grad()
    total.backward()
    opt.step()
    if forward:
        for name, a, b in zip(core.Out._fields, outs["ours"], outs["orig"]):
            report.add(f"forward (train): {name}", a, b)
    con, con_n, con_a = rec.values["ContrastiveLoss"]
    report.add(f"{tag} loss: BCE", parts["bce"], rec.values["BCELoss"][0])
    report.add(f"{tag} loss: MC normal-abnormal", parts["mc_inter"], con)
    report.add(f"{tag} loss: MC normal-normal", parts["mc_normal"], con_n)
    report.add(f"{tag} loss: MC abnormal-abnormal", parts["mc_abnormal"], con_a)
    report.add(f"{tag} loss: sparsity (weighted)", cfg.get("w_sparse", core.DEFAULTS["w_sparse"]) * parts["sparse"], loss_sparse)
    report.add(f"{tag} loss: smoothness (weighted)", cfg.get("w_smooth", core.DEFAULTS["w_smooth"]) * parts["smooth"], loss_smooth)
    report.add(f"{tag} loss: total", parts["total"], cost)
    so, sm = orig.state_dict(), ours.state_dict()
    report.add(f"{tag} params after 1 Adam step (all {len(so)} tensors)",
               torch.cat([sm[k].double().reshape(-1) for k in so]), torch.cat([so[k].double().reshape(-1) for k in so]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--original", required=True, type=Path, help="checkout of github.com/carolchenyx/MGFN.")
    ap.add_argument("--release-train", type=Path, default=None, help="train.py of commit ab9062c (first release)")
    ap.add_argument("--quick", action="store_true", help="2 bags per class and 3 test videos")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    t0, c0 = time.time(), time.process_time()
    n = 2
    # --quick narrows the last stage (1024 -> 256 channels; the original's constructor takes dims)
    dims = (64, 128, 256) if args.quick else tuple(core.DEFAULTS["dims"])
    mods = load_original(args.original.resolve(), n, args.release_train)
    om, ot, otest, ou = mods["models.mgfn"], mods["train"], mods["test"], mods["utils.utils"]
    report = Report()

    # ---- same weights
    torch.manual_seed(0)
    orig0 = om.mgfn(dims=dims)
    randomise(orig0, torch.Generator().manual_seed(1))
    cfg = {"mc_pairing": "original", "regularizers": "head", "dims": dims}
    ours0 = core.build(D, cfg)
    ours0.load_state_dict(orig0.state_dict(), strict=True)

    rng = np.random.default_rng(2)
    nin = np.abs(rng.normal(0, 0.5, (n, CROPS, 32, D))).astype(np.float32)
    ain = np.abs(rng.normal(0, 0.5, (n, CROPS, 32, D))).astype(np.float32)
    ain[:, :, 10:14] *= 1.5  # some rows with larger magnitudes

    # ---- one training iteration (training-mode forward outputs included), then eval mode
    check_training(report, "head", ot, orig0, ours0, cfg, nin, ain, seed=4, forward=True)
    both = np.concatenate((nin, ain))
    orig, ours = copy.deepcopy(orig0).eval(), copy.deepcopy(ours0).eval()
    with torch.no_grad():
        o = orig(torch.from_numpy(with_mag(both)))
        m = ours(torch.from_numpy(both), n_normal=n)
        for name, a, b in zip(core.Out._fields, m, o):
            report.add(f"forward (eval): {name}", a, b)
        # the magnitude channel as the loader computes it (numpy) rather than as ours (torch)
        np_in = np.concatenate((both, np.linalg.norm(both, axis=-1)[..., None]), axis=-1).astype(np.float32)
        report.add("magnitude channel: numpy (loader) vs torch (ours)", with_mag(both)[..., -1], np_in[..., -1])
        report.add("forward (eval): scores, original fed numpy norms", m.scores, orig(torch.from_numpy(np_in))[4])
    if "train_release" in mods:
        rcfg = {**cfg, "regularizers": "release"}
        ours_r = copy.deepcopy(ours0)
        ours_r.cfg.update(rcfg)
        check_training(report, "release", mods["train_release"], orig0, ours_r, rcfg, nin, ain, seed=4)
    if not args.quick:  # one bag per class: the original's inference branch in training (single_bag_alias)
        om.args.batch_size = 1
        torch.manual_seed(0)
        orig1 = om.mgfn(dims=dims)
        orig1.load_state_dict(orig0.state_dict())
        acfg = {**cfg, "single_bag_alias": True}
        ours1 = copy.deepcopy(ours0)
        ours1.cfg.update(acfg)
        check_training(report, "batch 1 + single_bag_alias", ot, orig1, ours1, acfg, nin[:1], ain[:1], seed=5)
        om.args.batch_size = n

    # ---- segment rule
    worst = 0.0
    for t in range(1, 301):
        f = rng.normal(size=(t, 7)).astype(np.float32)
        a, b = core.segment(f, 32), ou.process_feat(f, 32)
        worst = max(worst, float(np.abs(a - b).max())) if a.shape == b.shape else float("inf")
    report.add("segment rule, T = 1..300 (32 segments)", np.array([worst]), np.array([0.0]))

    # ---- whole-video inference through the original test()
    lengths = [3, 45] if args.quick else [3, 17, 64]
    for c in (10, 5, 1):
        vids = [np.abs(rng.normal(0, 0.5, (t, c, D))).astype(np.float32) for t in lengths]  # file layout [T, C, D]
        loader = [(torch.from_numpy(with_mag(v))[None], f"v{i}") for i, v in enumerate(vids)]
        gt = np.zeros(16 * sum(lengths))
        gt[::7] = 1
        captured = {}
        real_roc = otest.roc_curve

        def roc(y, pred, _real=real_roc):
            captured["pred"] = np.asarray(pred)
            return _real(y, pred)
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "gt.npy", gt)
            targs = copy.copy(otest.args)  # test.py:7, parsed at import
            targs.gt = str(Path(tmp) / "gt.npy")
            otest.roc_curve = roc
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    otest.test(loader, copy.deepcopy(orig0), targs, torch.device("cpu"))
            finally:
                otest.roc_curve = real_roc
        ours = copy.deepcopy(ours0)
        mine = np.concatenate([np.repeat(core.snippet_scores(ours, torch.from_numpy(v).permute(1, 0, 2)), 16) for v in vids])
        report.add(f"inference scores, C = {c}, T = {lengths}", mine, captured["pred"])

    ok = report.print()
    print(f"({n} bags per class, {CROPS} crops, D = {D}, stage widths {dims}; "
          f"{time.time() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
