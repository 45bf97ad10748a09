"""Config rules of method kinds that the JSON schema cannot express.

``vadflow.config.check`` applies them to every method on every dataset (overrides merged)
when Snakemake builds the DAG, so a combination the network cannot run fails before any job
starts instead of inside the train job. Torch-free: nothing is built. A kind whose settings
constrain one another adds a function to :data:`RULES`.
"""
from __future__ import annotations

from typing import Any, Callable

from vadflow.methods.windows import layers_for_window

#: a problem: (key, message). The message follows "<key path> = <value>: " and ends with what is allowed.
Problem = tuple[str, str]

#: layers beyond Formula 10 that a config may still ask for: the thesis's Table 4.3 runs up to two
#: more (W64-L8, W128-L9) to show the loss; deeper stacks only add layers that see padding.
EXTRA_LAYERS = 2


def window_width(cfg: dict[str, Any], multiple: int = 2) -> list[Problem]:
    """Half-overlapping windows need an even width; pooling networks a multiple of 2^levels."""
    w = cfg.get("window")
    if not isinstance(w, int) or w <= 0 or w % multiple == 0:
        return []
    if multiple == 2:
        return [("window", "windows overlap by half, so the width must be even; allowed: 0 (whole video) or a positive even number")]
    return [("window", f"windows overlap by half and the pooling levels halve the width, so it must divide by {multiple}; "
                       f"allowed: 0 (whole video) or a positive multiple of {multiple}")]


def adnet(cfg: dict[str, Any]) -> list[Problem]:
    """Odd kernel >= 3 (same-width dilated convs), and no more than :data:`EXTRA_LAYERS` layers
    past Formula 10 for the window (specs/adnet.md §3)."""
    out = window_width(cfg)
    k, w, layers = cfg.get("kernel", 3), cfg.get("window", 64), cfg.get("layers", 6)
    if isinstance(k, int) and (k < 3 or k % 2 == 0):
        out.append(("kernel", "dilated convs keep the window width only with an odd kernel; allowed: an odd integer >= 3"))
        return out
    if out or not isinstance(w, int) or w <= 0 or not isinstance(layers, int):
        return out  # window 0 (whole video): the width is the video's; layers null: Formula 10
    f10 = layers_for_window(w, k)
    if layers > f10 + EXTRA_LAYERS:
        h = k // 2
        blind = next(l for l in range(layers) if h * 2**l >= w)
        min_w = next(v for v in range(2, 1 << 30, 2) if layers_for_window(v, k) + EXTRA_LAYERS >= layers)
        out.append(("layers", f"too deep for window {w} (kernel {k}): layers {blind}..{layers - 1} have dilation "
                              f"{2**blind}..{2**(layers - 1)}, so their convs reach past the window and see only padding "
                              f"(Formula 10: L = ceil(log2(W/floor(K/2))) = {f10}); allowed: layers <= {f10 + EXTRA_LAYERS} "
                              f"(Formula 10 + {EXTRA_LAYERS}, as the thesis's Table 4.3), null (Formula 10), "
                              f"or a window >= {min_w}"))
    return out


def edtcn(cfg: dict[str, Any]) -> list[Problem]:
    """An odd kernel (same-width convs) and a window that halves ``len(enc_channels)`` times."""
    levels = len(cfg.get("enc_channels") or [64, 96])
    out = window_width(cfg, max(2, 2**levels))
    k = cfg.get("kernel", 25)
    if isinstance(k, int) and k % 2 == 0:
        out.append(("kernel", "convs keep the width only with an odd kernel; allowed: an odd integer >= 1"))
    return out


RULES: dict[str, Callable[[dict[str, Any]], list[Problem]]] = {
    "adnet": adnet,
    "mlp": window_width,
    "edtcn": edtcn,
}


def problems(cfg: dict[str, Any]) -> list[Problem]:
    """What is wrong with one method's resolved config (empty when its kind has no rules)."""
    rule = RULES.get(cfg.get("kind", ""))
    return rule(cfg) if rule else []
