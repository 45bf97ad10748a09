"""Deep SVDD fine-tuning of an autoencoder's encoder (docs/methods/svdd_cae.md §4-§5, [R] Ruff et al.).

A copy of the trained BCAE1 has its encoder pulled towards the fixed centre c (the mean
training embedding) at a tiny learning rate; the decoder is frozen, so reconstructions
change only through the encoder. Soft-boundary objective with radius R, updated after every
optimiser step to the (1 - nu) quantile of the batch's distances before that step.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

OBJECTIVES = ("soft-boundary", "one-class")


def distances(z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """d_i = ||z_i - c||^2 over the flattened embedding."""
    return (z.flatten(1) - c).pow(2).sum(1)


def soft_boundary_loss(d: torch.Tensor, r: float, nu: float) -> torch.Tensor:
    """R^2 + (1/nu) * mean(max(0, d - R^2)); the weight decay term is Adam's."""
    r2 = float(r) ** 2
    return r2 + (1.0 / nu) * torch.clamp(d - r2, min=0).mean()


def one_class_loss(d: torch.Tensor) -> torch.Tensor:
    return d.mean()


def svdd_loss(d: torch.Tensor, r: float, nu: float, objective: str) -> torch.Tensor:
    if objective == "soft-boundary":
        return soft_boundary_loss(d, r, nu)
    if objective == "one-class":
        return one_class_loss(d)
    raise ValueError(f"unknown SVDD objective {objective!r} (expected one of {', '.join(OBJECTIVES)})")


def radius(d: torch.Tensor, nu: float) -> float:
    """R = the (1 - nu) quantile of sqrt(d) (numpy's linear interpolation, as [R])."""
    return float(np.quantile(np.sqrt(d.detach().cpu().numpy().astype(np.float64)), 1.0 - nu))


def clamp_centre(c: torch.Tensor, eps: float) -> torch.Tensor:
    """Coordinates with |c_j| < eps become +-eps, keeping their sign (0 -> +eps); eps 0 disables.
    A near-zero centre coordinate lets a zero-weight encoder reach it trivially ([R])."""
    c = c.clone()
    if eps > 0:
        small = c.abs() < eps
        c[small & (c < 0)] = -eps
        c[small & (c >= 0)] = eps
    return c


@torch.no_grad()
def mean_embedding(encoder: nn.Module, batches: Iterator[torch.Tensor]) -> torch.Tensor:
    """Mean flattened embedding over all frames, encoder in eval mode."""
    was = encoder.training
    encoder.eval()
    total, n = None, 0
    for x in batches:
        z = encoder(x).flatten(1).double()
        total = z.sum(0) if total is None else total + z.sum(0)
        n += z.shape[0]
    encoder.train(was)
    if n == 0:
        raise ValueError("mean_embedding: no frames")
    return (total / n).float()


def set_modes(model: nn.Module, trainable: str, bn: str, joint: bool) -> list[nn.Parameter]:
    """Freeze what the fine-tune must not change and set train/eval modes; returns the
    parameters to optimise. ``trainable: last`` trains E5 (conv + BN) only, E1-E4 frozen in
    eval mode, so their BN statistics stay put too. The decoder is frozen in eval mode unless
    ``joint`` (MSE + beta * SVDD, A11), where it trains with the encoder."""
    enc, dec = model.encoder, model.decoder
    if trainable not in ("all", "last"):
        raise ValueError(f"svdd.trainable = {trainable!r}: expected 'all' or 'last'")
    if bn not in ("train", "eval"):
        raise ValueError(f"svdd.bn = {bn!r}: expected 'train' or 'eval'")
    train_part = list(enc) if trainable == "all" else [enc[len(enc) - 1]]
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    params: list[nn.Parameter] = []
    for m in train_part + ([dec] if joint else []):
        m.train(bn == "train")
        for p in m.parameters():
            p.requires_grad_(True)
            params.append(p)
    return params


def finetune(model: nn.Module, batches: Callable[[], Iterator[torch.Tensor]], c: torch.Tensor, cfg: dict[str, Any],
             progress: bool = False) -> tuple[float, list[dict[str, float]]]:
    """Fine-tune ``model``'s encoder in place for ``cfg['epochs']`` epochs of ``batches()``.

    Returns the final radius R and one history row per epoch (mean loss, mean d, R)."""
    from tqdm import tqdm

    objective, nu = cfg["objective"], float(cfg["nu"])
    beta = float(cfg.get("joint_beta", 0.0))
    joint = beta > 0
    params = set_modes(model, cfg["trainable"], cfg["bn"], joint)
    opt = torch.optim.Adam(params, lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
    r = 0.0
    history = []
    for epoch in tqdm(range(int(cfg["epochs"])), desc="svdd fine-tune", unit="epoch", disable=not progress):
        set_modes(model, cfg["trainable"], cfg["bn"], joint)
        losses, dists, n = 0.0, 0.0, 0
        for x in batches():
            z = model.encoder(x)
            d = distances(z, c)
            loss = svdd_loss(d, r, nu, objective)
            if joint:
                loss = F.mse_loss(model.decoder(z), x) + beta * loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if objective == "soft-boundary" and epoch >= int(cfg.get("warmup_epochs", 0)):
                r = radius(d, nu)  # from the distances before this step, as [R]
            losses += float(loss.detach()) * x.shape[0]
            dists += float(d.detach().sum())
            n += x.shape[0]
        history.append({"epoch": epoch + 1, "loss": losses / max(n, 1), "mean_d": dists / max(n, 1), "R": r})
        log.info("svdd epoch %d: loss %.6g, mean d %.6g, R %.6g", epoch + 1, history[-1]["loss"], history[-1]["mean_d"], r)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return r, history
