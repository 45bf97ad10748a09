"""Peak training memory of ADOR per batch of windows (issue: W = 128 must fit a 24 GB GPU).

One training step (forward, BCE on every TCN stage, backward, Adam) at the published sizes:
d = 512, 8 heads, FFN 2048, N/2 = 3, a 7x7x1024 I3D map, 36 valid objects of 2048-d per clip,
6 TCN stages (L from Formula 10), 2 windows per batch, every clip real (the worst case).

Three numbers per width W:
- ``formula``: bytes computed from the tensor sizes (docs/methods/ador.md shapes): weights, gradients,
  Adam moments, inputs, and every activation autograd keeps for backward, layer by layer
  (:func:`formula_bytes`), plus the largest transient of backward;
- ``saved``: the bytes autograd actually saved in the step, summed over distinct storages
  (``torch.autograd.graph.saved_tensors_hooks``), plus weights, gradients, moments and inputs;
- ``measured``: in a fresh process, the peak RSS over a second step above the RSS before the
  model was built (``--device cpu``, Linux), or ``torch.cuda.max_memory_allocated`` over a second
  step (``--device cuda``).

    PYTHONPATH=workflow python benchmarks/ador_memory.py --quick            # CPU, W = 4 and 8 (~2 min)
    PYTHONPATH=workflow python benchmarks/ador_memory.py --device cuda       # GPU, W = 32, 64, 128
    PYTHONPATH=workflow python benchmarks/ador_memory.py --windows 16 --device cpu

The formula is checked against ``saved`` and ``measured`` at the widths run, then evaluated at
W = 128 (and 512, the inference window, which runs without gradients).
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

import torch

from vadflow.methods.ador.method import ADOR, ADORNet
from vadflow.methods.losses import stage_sum_bce
from vadflow.methods.tcn import layers_for_window

SIZES = {"C": 1024, "H": 7, "W": 7, "K": 36, "D_o": 2048}
F32 = 4
GIB = 1024**3


def config(window: int) -> dict:
    return {**ADOR.defaults, "window": window}


def build(window: int, device: str) -> ADORNet:
    cfg = config(window)
    torch.manual_seed(0)
    return ADORNet(SIZES["C"], SIZES["D_o"], cfg, cfg["layers"] or layers_for_window(window, cfg["kernel"])).to(device).train()


def batch(window: int, b: int, device: str) -> tuple[dict, torch.Tensor, torch.Tensor]:
    n = b * window
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(n, SIZES["K"], 2, generator=g) * 200
    inputs = {
        "maps": torch.randn(n, SIZES["C"], SIZES["H"], SIZES["W"], generator=g),
        "feats": torch.randn(n, SIZES["K"], SIZES["D_o"], generator=g),
        "boxes": torch.cat([xy, xy + 10 + torch.rand(n, SIZES["K"], 2, generator=g) * 60], -1),
        "valid": torch.ones(n, SIZES["K"], dtype=torch.bool),
        "index": torch.arange(n),
    }
    m = torch.ones(b, window)
    a = (torch.rand(b, window, generator=g) > 0.7).float()
    return {k: v.to(device) for k, v in inputs.items()}, m.to(device), a.to(device)


def step(net: ADORNet, opt: torch.optim.Optimizer, inputs: dict, m: torch.Tensor, a: torch.Tensor) -> float:
    loss = stage_sum_bce(net.logits(inputs, m), a, m)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss)


# ------------------------------------------------------------------------------- formula
def formula_bytes(window: int, b: int = 2, cfg: dict | None = None) -> dict[str, float]:
    """Training-step peak computed from tensor sizes (float32): weights, gradients and Adam's two
    moments (4 x parameters), the inputs, every activation autograd keeps, and backward's largest
    transient.

    Kept activations per clip, as torch 2.x autograd keeps them for these layers (checked
    against the saved-tensor hooks of :func:`saved_bytes`): per attention sublayer with Lq
    queries over Lk keys, 7 Lq x d tensors (the two LayerNorm inputs and outputs, head outputs,
    dropout masks and the 2-D copies the Linears keep) + the per-head q, k and v (Lq d + 2 Lk d)
    + 3 h Lq Lk (softmax output, its dropout and the bmm copy); per FFN 3 Lq x F (ReLU output,
    dropout, 2-D copy); per box layer 2 K K h geometry terms, and the shared K K 64 relation
    embedding once; the tokens' 1x1 conv / Linear inputs and outputs; one Lq x d per half-stack
    LayerNorm. Tokens: action 1 + H'W', objects 1 + K; the boxes need no gradient, so the
    relative-position arithmetic keeps nothing.
    """
    cfg = cfg or config(window)
    d, h, f, n2 = cfg["d_model"], cfg["heads"], cfg["ffn"], cfg["half_layers"]
    c, hw, k, do = SIZES["C"], SIZES["H"] * SIZES["W"], SIZES["K"], SIZES["D_o"]
    la, lo = 1 + hw, 1 + k
    n = b * window

    def layer(lq: int, lk: int) -> int:  # floats kept by one pre-LN layer (attention + FFN)
        return 7 * lq * d + lq * d + 2 * lk * d + 3 * h * lq * lk + 3 * lq * f

    per_clip = 0
    per_clip += c * hw + 2 * d * hw + k * do + 2 * k * d  # token projections' inputs and outputs
    per_clip += k * k * 64 + n2 * 2 * k * k * h  # relation embedding, geometry terms of the box layers
    per_clip += n2 * (layer(la, la) + layer(lo, lo) + layer(la, lo) + layer(lo, la))  # 4 half-stacks of N/2 layers
    per_clip += 2 * (la + lo) * d  # the half-stacks' final LayerNorms
    inputs = n * (c * hw + k * do + 4 * k + k) * F32  # maps, features, boxes, valid (bytes)
    layers = cfg["layers"] or layers_for_window(window, cfg["kernel"])
    tcn = n * 2 * d + cfg["stages"] * layers * 3 * n * cfg["channels"]  # z windows; conv inputs, ReLU outputs
    n_params = param_count(cfg, window)
    weights = n_params * F32 * 4  # weights, gradients, Adam's two moments
    # Backward's largest transient: the input gradient of one layer's largest kept activation,
    # for all clips at once (the FFN hidden activation or the attention weights), twice.
    transient = 2 * n * max(3 * h * la * la, la * f) * F32
    acts = (per_clip * n + tcn) * F32
    return {"params": n_params, "weights_grads_adam": weights, "inputs": inputs, "activations": acts,
            "activations_per_clip": per_clip * F32, "transient": transient, "total": weights + inputs + acts + transient}


def param_count(cfg: dict, window: int) -> int:
    with torch.device("meta"):
        net = ADORNet(SIZES["C"], SIZES["D_o"], cfg, cfg["layers"] or layers_for_window(window, cfg["kernel"]))
    return sum(p.numel() for p in net.parameters())


# ------------------------------------------------------------------------------ measuring
def saved_bytes(window: int, b: int = 2) -> dict[str, float]:
    """Bytes autograd saves for backward in one step (distinct storages), on CPU."""
    net = build(window, "cpu")
    inputs, m, a = batch(window, b, "cpu")
    seen: dict[int, int] = {}
    params = {p.untyped_storage().data_ptr() for p in net.parameters()}  # Linears keep their weights too

    def pack(t: torch.Tensor):
        key = t.untyped_storage().data_ptr()
        if key not in params:
            seen[key] = max(seen.get(key, 0), t.untyped_storage().nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = stage_sum_bce(net.logits(inputs, m), a, m)
    loss.backward()
    n_params = sum(p.numel() for p in net.parameters())
    inputs_bytes = sum(v.numel() * v.element_size() for v in inputs.values())
    saved = float(sum(seen.values()))
    return {"saved": saved, "inputs": inputs_bytes, "total": saved + inputs_bytes + n_params * F32 * 4,
            "saved_per_clip": saved / (b * window)}


def _status_kib(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} (Linux only)")


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # "5" resets VmHWM to the current RSS (Linux >= 4.0)
        f.write("5")


BASE_RSS = 0


def measure_child(window: int, device: str, b: int) -> dict[str, float]:
    """Run in a fresh process: the peak of one training step (after a warm-up step)."""
    net = build(window, device)
    opt = torch.optim.Adam(net.parameters(), lr=5e-5)
    inputs, m, a = batch(window, b, device)
    if device.startswith("cuda"):
        step(net, opt, inputs, m, a)  # warm-up: Adam allocates its moments on the first step
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        step(net, opt, inputs, m, a)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated()
        return {"peak": peak, "before_step": base, "seconds": dt, "device": torch.cuda.get_device_name()}
    step(net, opt, inputs, m, a)  # Adam's moments exist from here on, as on every later step
    _reset_peak_rss()
    t0 = time.perf_counter()
    step(net, opt, inputs, m, a)
    dt = time.perf_counter() - t0
    # Peak resident memory over the second step, above the process before the model was built.
    return {"peak": _status_kib("VmHWM") * 1024 - BASE_RSS, "seconds": dt, "device": "cpu"}


def measure(window: int, device: str, b: int) -> dict[str, float]:
    """:func:`measure_child` in a fresh process, so its peak RSS is this step's alone."""
    cmd = [sys.executable, __file__, "--child", str(window), "--device", device, "--batch", str(b)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--windows", type=int, nargs="*", default=None, help="training widths to run (default cpu: 4 8 16; cuda: 32 64 128)")
    ap.add_argument("--batch", type=int, default=2, help="windows per batch (spec default 2)")
    ap.add_argument("--quick", action="store_true", help="cpu: W = 4 and 8 only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.child is not None:
        global BASE_RSS
        BASE_RSS = _status_kib("VmRSS") * 1024
        print(json.dumps(measure_child(a.child, a.device, a.batch)))
        return
    widths = a.windows or ([4, 8] if a.quick else [4, 8, 16] if a.device == "cpu" else [32, 64, 128])
    print(f"ADOR training step, default sizes {SIZES}, d {ADOR.defaults['d_model']}, heads {ADOR.defaults['heads']}, "
          f"ffn {ADOR.defaults['ffn']}, N/2 {ADOR.defaults['half_layers']}, {ADOR.defaults['stages']} TCN stages, batch {a.batch} windows")
    print(f"{'W':>5} {'clips':>6} {'formula GiB':>12} {'saved GiB':>10} {'measured GiB':>13} {'formula/measured':>17} {'step s':>7}")
    points = []
    for w in widths:
        f = formula_bytes(w, a.batch)
        s = saved_bytes(w, a.batch) if a.device == "cpu" else None
        r = measure(w, a.device, a.batch)
        meas = r["peak"]
        points.append((w * a.batch, meas))
        print(f"{w:>5} {w * a.batch:>6} {f['total'] / GIB:>12.3f} {(s['total'] / GIB if s else math.nan):>10.3f} "
              f"{meas / GIB:>13.3f} {f['total'] / meas:>17.2f} {r['seconds']:>7.2f}")
    for w in sorted({128, *widths}):
        f = formula_bytes(w, a.batch)
        print(f"formula at W = {w}: {f['total'] / GIB:.2f} GiB (weights+grads+Adam {f['weights_grads_adam'] / GIB:.2f}, "
              f"activations {f['activations'] / GIB:.2f}, backward transient {f['transient'] / GIB:.2f}; {f['params']:,} parameters); "
              f"per window {f['total'] / a.batch / GIB:.2f} GiB")
    if len(points) >= 2:
        # The measured peak is linear in the clips of a batch (every encoder tensor is per clip):
        # extrapolate the measurement itself, overheads included, as a check on the formula.
        (n0, m0), (n1, m1) = points[0], points[-1]
        slope = (m1 - m0) / (n1 - n0)
        at = m1 + slope * (128 * a.batch - n1)
        print(f"measured, extrapolated linearly to W = 128 ({128 * a.batch} clips): {at / GIB:.2f} GiB "
              f"({slope / 2**20:.1f} MiB per clip measured, {formula_bytes(128, a.batch)['activations_per_clip'] / 2**20:.1f} by the formula)")
    f128 = formula_bytes(128, a.batch)
    print(f"W = 128, batch {a.batch}: {f128['total'] / GIB:.1f} GiB {'fits' if f128['total'] < 24e9 * 0.9 else 'does NOT fit'} a 24 GB GPU "
          f"(with 10% allocator headroom)")


if __name__ == "__main__":
    main()
