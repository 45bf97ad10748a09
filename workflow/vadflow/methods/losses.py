"""Losses of docs/methods/adnet.md §5: masked MSE, the hard-pair AD loss, and their per-stage sum.

Tensors are [B, W] scores ``y`` in [0, 1], clip labels ``a`` (1 abnormal, 0 normal, -1 at
padding) and a window mask ``m`` (1 = real clip). Only masked-in positions count.
"""
from __future__ import annotations

import torch

AD_FORMS = ("per_clip", "thesis")


def masked_mse(y: torch.Tensor, a: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the valid positions of the whole batch (not per window)."""
    valid = m > 0
    if not bool(valid.any()):
        return y.sum() * 0.0
    return ((y[valid] - a[valid]) ** 2).mean()


def ad_loss(
    y: torch.Tensor, a: torch.Tensor, m: torch.Tensor, margin: float = 0.5, form: str = "per_clip"
) -> torch.Tensor:
    """Formula 12 on linear scores, pooling all valid clips of the batch; 0 if a class is absent."""
    if form not in AD_FORMS:
        raise ValueError(f"unknown AD loss form {form!r} (expected one of {AD_FORMS})")
    valid = m > 0
    ya = y[valid & (a == 1)]
    yn = y[valid & (a == 0)]
    if ya.numel() == 0 or yn.numel() == 0:
        return y.sum() * 0.0
    # Pair selection is an argmin on detached scores; gradients then flow through both scores.
    dist = (ya.detach()[:, None] - yn.detach()[None, :]).abs()
    gap_a = ya - yn[dist.argmin(dim=1)]  # y_a - y_HN(a)
    gap_n = ya[dist.argmin(dim=0)] - yn  # y_HA(n) - y_n
    if form == "thesis":
        return torch.clamp(-(gap_a - margin).sum() - (gap_n - margin).sum(), min=0.0)
    hinge = torch.relu(margin - gap_a).sum() + torch.relu(margin - gap_n).sum()
    return hinge / (ya.numel() + yn.numel())


def stage_sum_loss(
    outputs: torch.Tensor,
    a: torch.Tensor,
    m: torch.Tensor,
    ad_lambda: float = 0.0,
    margin: float = 0.5,
    form: str = "per_clip",
) -> torch.Tensor:
    """Formulas 11 and 13: sum over stages [S, B, W] of MSE + lambda * AD."""
    total = outputs.new_zeros(())
    for y in outputs:
        total = total + masked_mse(y, a, m)
        if ad_lambda:
            total = total + ad_lambda * ad_loss(y, a, m, margin, form)
    return total


def masked_bce_logits(logits: torch.Tensor, a: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with logits, averaged over the valid positions of the batch."""
    valid = m > 0
    if not bool(valid.any()):
        return logits.sum() * 0.0
    return torch.nn.functional.binary_cross_entropy_with_logits(logits[valid], a[valid].to(logits.dtype))


def stage_sum_bce(logits: torch.Tensor, a: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """ADOR's loss (docs/methods/ador.md §5): BCE-with-logits of every TCN stage [S, B, W], summed."""
    total = logits.new_zeros(())
    for z in logits:
        total = total + masked_bce_logits(z, a, m)
    return total
