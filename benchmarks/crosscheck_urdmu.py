"""Cross-check vadflow's UR-DMU (vadflow.methods.urdmu.core) against the original code.

Run on demand, not in CI (the original code is not part of this repository):

    git clone https://github.com/henrryzh1/UR-DMU /tmp/UR-DMU     # any checkout of it
    PYTHONPATH=workflow python benchmarks/crosscheck_urdmu.py --original /tmp/UR-DMU [--quick] [--batch64]

Default: D = 1024 (I3D) at the real bag length (T = 200) and D = 60 (the synthetic flow
features) on short bags; --quick: D = 1024 on short bags only; --batch64: the loss compared on
the original's full batch (64 + 64 bags of 200) instead of 4 + 4, slow on few cores.

The original's model.py, train.py, memory.py, translayer.py and dataset_loader.py are imported
from that checkout (sys.path) and run unmodified on the CPU: ``Tensor.cuda`` is made a no-op for
the run, ``np.int`` (removed in NumPy 1.24, dataset_loader.py:54) is restored as ``int``, and the
imported-but-unused ``visdom``/``ipdb`` are stubbed when absent. ``einops`` (translayer.py) should
be installed (``pip install einops``); without it a two-pattern stand-in is used and said so.

Both networks get the same seeded weights (the original's state dict, renamed by
``core.from_original_state_dict``); ours is built with ``core.ORIGINAL`` (the released code's
options). Each component is compared on the same random inputs, with the same global torch seed
before each call so dropout masks and the reparameterisation draw coincide. Prints the max
absolute difference per component and exits 1 if any exceeds 1e-5 (float32).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import types

import numpy as np
import torch

from vadflow.methods.urdmu import core

TOL = 1e-5
KEYS = ("frame", "triplet_margin", "kl_loss", "distance", "A_att", "N_att", "A_Natt", "N_Aatt")


def _einops_standin() -> types.ModuleType:
    mod = types.ModuleType("einops")

    def rearrange(t, pattern, **axes):
        if pattern == "b n (h d) -> b h n d":
            return t.reshape(t.shape[0], t.shape[1], axes["h"], -1).permute(0, 2, 1, 3)
        if pattern == "b h n d -> b n (h d)":
            return t.permute(0, 2, 1, 3).reshape(t.shape[0], t.shape[2], -1)
        raise NotImplementedError(pattern)

    mod.rearrange = rearrange
    return mod


def load_original(path: str) -> dict[str, types.ModuleType]:
    if not os.path.isfile(os.path.join(path, "model.py")):
        sys.exit(f"{path} is not a UR-DMU checkout (no model.py)")
    for name in ("visdom", "ipdb"):
        if importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    if importlib.util.find_spec("einops") is None:
        print("note: einops is not installed; using a stand-in for translayer.py's two rearrange patterns")
        sys.modules["einops"] = _einops_standin()
    if not hasattr(np, "int"):
        np.int = int  # dataset_loader.py:54 np.linspace(..., dtype=np.int)
    torch.Tensor.cuda = lambda self, *a, **k: self  # the original calls .cuda() inside forward/loss
    sys.path.insert(0, os.path.abspath(path))
    mods = {name: __import__(name) for name in ("model", "train", "dataset_loader")}
    return mods


def maxdiff(a, b) -> float:
    a = a.detach().cpu().double().numpy() if torch.is_tensor(a) else np.asarray(a, np.float64)
    b = b.detach().cpu().double().numpy() if torch.is_tensor(b) else np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max()) if a.size else 0.0


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []

    def add(self, name: str, diff: float) -> None:
        self.rows.append((name, diff))
        flag = "" if diff <= TOL else "   <-- FAIL"
        print(f"{name:<58} {diff:.3e}{flag}", flush=True)

    @property
    def worst(self) -> float:
        return max(d for _, d in self.rows)


def pair(orig_mod, in_dim: int, seed: int = 0):
    torch.manual_seed(seed)
    orig = orig_mod.WSAD(in_dim, flag="Train", a_nums=60, n_nums=60)
    ours = core.build(in_dim, core.ORIGINAL)
    ours.load_state_dict(core.from_original_state_dict(orig.state_dict()))  # strict: every key
    return orig, ours


def run(orig_mods, rep: Report, quick: bool, batch64: bool = False) -> None:
    M, TR, DL = orig_mods["model"], orig_mods["train"], orig_mods["dataset_loader"]
    g = torch.Generator().manual_seed(1)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    dims = (1024,) if quick else (1024, 60)
    for D in dims:
        orig, ours = pair(M, D)
        tag = f"D={D}"
        small = quick or D != 1024  # the real feature size at real bag length; D = 60 smaller

        # --- test-mode forward ([C, T, D] and [B, C, T, D]) ---
        orig.eval(), ours.eval()
        orig.flag = "Test"
        d = 0.0
        shapes = [(1, 1), (5, 7), (10, 33)] + ([] if small else [(10, 200), (5, 517)])
        with torch.no_grad():
            for C, T in shapes:
                x = randn(C, T, D)
                d = max(d, maxdiff(orig(x)["frame"], ours(x, branch="test")["frame"]))
                if C * T <= 400:  # the 4-D crop path on the smaller shapes
                    x4 = randn(2, C, T, D)
                    d = max(d, maxdiff(orig(x4)["frame"], ours(x4, branch="test")["frame"]))
        rep.add(f"{tag} test forward: frame (C,T in {shapes})", d)

        # --- train-branch forward: dropout off / on, 3-D bags and the 4-D crop path ---
        B, T = (4, 40) if small else (4, 200)
        cases = {"bags [2B,T,D]": randn(2 * B, T, D), "crops [2B,5,T,D]": randn(2 * B, 5, min(T, 48), D)}
        orig.flag = "Train"
        for mode in ("dropout off", "dropout on"):
            for net in (orig, ours):
                net.train(mode == "dropout on")
            for name, x in cases.items():
                torch.manual_seed(7)
                o = orig(x)
                torch.manual_seed(7)
                u = ours(x, branch="train")
                for k in KEYS:
                    rep.add(f"{tag} train forward {mode}, {name}: {k}", maxdiff(o[k], u[k]))

        # --- the loss of one iteration, every term (original AD_Loss on the original's outputs) ---
        B, T = (4, 40) if small else ((64, 200) if batch64 else (4, 200))
        crit = TR.AD_Loss()
        for name, (nrm, abn, cfg) in {
            f"bags B={B} T={T}": (randn(B, 1, T, D), randn(B, 1, T, D), core.ORIGINAL),
            "crops B=4 C=5 T=48 (train_crops='mean')": (randn(4, 5, 48, D), randn(4, 5, 48, D),
                                                        {**core.ORIGINAL, "train_crops": "mean"}),
        }.items():
            for net in (orig, ours):
                net.train()
            x = torch.cat([nrm, abn]) if cfg["train_crops"] == "mean" else torch.cat([nrm[:, 0], abn[:, 0]])
            label = torch.cat([torch.zeros(nrm.shape[0], dtype=torch.long), torch.ones(abn.shape[0], dtype=torch.long)])
            torch.manual_seed(11)
            o = orig(x)
            cost, parts_o = crit(o, label)
            torch.manual_seed(11)
            _, parts_u = core.loss(ours, nrm, abn, cfg)
            rep.add(f"{tag} loss {name}: total", abs(float(cost.detach()) - parts_u["total_loss"]))
            for k in ("att_loss", "N_Aatt", "A_loss", "N_loss", "A_Nloss", "triplet", "kl_loss"):
                rep.add(f"{tag} loss {name}: {k}", abs(float(parts_o[k].detach()) - parts_u[k]))
            rep.add(f"{tag} loss {name}: distance", abs(float(o["distance"].detach()) - parts_u["distance"]))

        # --- training steps: the original train() vs core.train_step, 3 Adam steps ---
        B, T = (4, 40) if small else (2, 200)
        orig, ours = pair(M, D)
        opt_o = torch.optim.Adam(orig.parameters(), lr=1e-4, betas=(0.9, 0.999), weight_decay=0.00005)
        opt_u = core.optimizer(ours, core.ORIGINAL)
        wind = types.SimpleNamespace(plot_lines=lambda *a, **k: None)
        for step in range(1, 4):
            nrm, abn = randn(B, T, D), randn(B, T, D)
            lab0, lab1 = torch.zeros(B, dtype=torch.long), torch.ones(B, dtype=torch.long)
            torch.manual_seed(100 + step)
            TR.train(orig, iter([(nrm, lab0)]), iter([(abn, lab1)]), opt_o, crit, wind, step)
            torch.manual_seed(100 + step)
            core.train_step(ours, opt_u, nrm, abn, core.ORIGINAL, step=step)
        named = core.from_original_state_dict(dict(orig.named_parameters()))
        d = max(maxdiff(p, named[k]) for k, p in ours.named_parameters())
        rep.add(f"{tag} 3 training steps (B={B}, T={T}): parameters", d)

        # --- inference on whole test videos, as ucf_test.py (1 crop at a time) and xd_test.py (5 at once) ---
        orig.eval()
        orig.flag = "Test"
        du = dx = 0.0
        with torch.no_grad():
            for T in ((1, 9, 120) if small else (1, 9, 120, 600)):
                x10 = randn(10, T, D)
                ucf = torch.cat([orig(x10[c:c + 1])["frame"] for c in range(10)], dim=0).mean(0).numpy()
                du = max(du, maxdiff(ucf, core.snippet_scores(ours, x10)))
                x5 = randn(5, T, D)
                xd = orig(x5)["frame"].numpy().mean(0)
                dx = max(dx, maxdiff(xd, core.snippet_scores(ours, x5)))
        rep.add(f"{tag} snippet_scores vs ucf_test.py (10 crops)", du)
        rep.add(f"{tag} snippet_scores vs xd_test.py (5 crops)", dx)

        # --- information only: the paper-intent defaults against the released code ---
        dflt = core.build(D, core.DEFAULTS)
        dflt.load_state_dict(ours.state_dict())
        x = randn(10, 200, D)
        info = maxdiff(core.snippet_scores(dflt, x), core.snippet_scores(ours, x))
        print(f"(info) {tag} DEFAULTS (row-normalised local attention) vs ORIGINAL scores: {info:.3e}")

    # --- the training bag rule (UCF_crime and XDVideo get_data in Train mode) ---
    lengths = (1, 5, 58, 200, 457) if quick else (1, 2, 5, 31, 58, 70, 199, 200, 201, 457, 1000, 4001)
    d = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for n in (200, 32):
            for T in lengths:
                feats = np.random.default_rng(T).standard_normal((T, 16)).astype(np.float32)
                name = f"v{T}_label_A.npy"  # XDVideo reads the label from the name
                np.save(os.path.join(tmp, name), feats)
                ucf = DL.UCF_crime.__new__(DL.UCF_crime)  # __init__ would read list/*.list
                ucf.mode, ucf.num_segments, ucf.vid_list = "Train", n, [[os.path.join(tmp, name)]]
                xd = DL.XDVideo.__new__(DL.XDVideo)
                xd.mode, xd.num_segments, xd.len_feature = "Train", n, 16
                xd.feature_path, xd.vid_list = [tmp], [[name]]
                ours_seg = core.segment(feats, n)
                d = max(d, maxdiff(ucf.get_data(0)[0], ours_seg), maxdiff(xd.get_data(0)[0], ours_seg))
    rep.add(f"segment (n=200, 32; T in {lengths}), UCF and XD loaders", d)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--original", required=True, help="path of a checkout of henrryzh1/UR-DMU")
    ap.add_argument("--quick", action="store_true", help="D = 1024 only, short bags (T = 40)")
    ap.add_argument("--batch64", action="store_true",
                    help="compare the loss on the original's full batch (64 + 64 bags of 200): slow on few cores")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    mods = load_original(args.original)
    t0 = time.time()
    rep = Report()
    run(mods, rep, args.quick, args.batch64)
    print(f"\n{len(rep.rows)} comparisons in {time.time() - t0:.1f} s; max abs diff {rep.worst:.3e} (tolerance {TOL:g})")
    if rep.worst > TOL:
        print("FAIL")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
