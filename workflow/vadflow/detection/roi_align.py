"""RoIAlign in plain torch (torchvision.ops cannot be imported here, docs/architecture.md "Hard facts").

Semantics are torchvision's ``roi_align`` (Mask R-CNN): each of the ``ph x pw`` bins of a box
averages ``sampling_ratio^2`` bilinear samples at regular positions inside the bin; a sample
more than one cell outside the map counts as 0, one within a cell of the border is clamped.
``aligned=True`` shifts box coordinates by -0.5 so pixel centres line up (Detectron2).

Written by hand because no importable library has it; vectorised by separability: a bilinear
weight is the product of a y weight and an x weight, and the out-of-map test is too, so the
average over a bin's samples is ``Ay[r, i, :] @ F[b_r] @ Ax[r, j, :]^T`` with per-box
interpolation matrices ``Ay [R, ph, H]`` and ``Ax [R, pw, W]``. One einsum per frame then
pools every box of that frame. Only a fixed ``sampling_ratio > 0`` is supported (torchvision's
adaptive ``-1`` gives each box its own sample count, which does not vectorise).
"""
from __future__ import annotations

import torch


def _axis_weights(lo: torch.Tensor, length: torch.Tensor, bins: int, samples: int, size: int) -> torch.Tensor:
    """Interpolation matrix ``[R, bins, size]``: the mean, over a bin's samples along one axis,
    of the 1-D bilinear weights (torchvision's clamping rules) on the map's ``size`` cells."""
    r = lo.shape[0]
    step = (length / bins)[:, None, None]  # bin size
    i = torch.arange(bins, dtype=lo.dtype, device=lo.device)[None, :, None]
    s = torch.arange(samples, dtype=lo.dtype, device=lo.device)[None, None, :]
    pos = lo[:, None, None] + i * step + (s + 0.5) * step / samples  # [R, bins, samples]
    inside = (pos >= -1.0) & (pos <= size)
    pos = pos.clamp(min=0.0)
    low = pos.floor().long()
    at_edge = low >= size - 1
    low = torch.where(at_edge, torch.full_like(low, size - 1), low)
    high = torch.where(at_edge, low, low + 1)
    pos = torch.where(at_edge, low.to(pos.dtype), pos)
    frac = pos - low.to(pos.dtype)
    w_low = (1.0 - frac) * inside
    w_high = frac * inside
    out = torch.zeros(r, bins, samples, size, dtype=lo.dtype, device=lo.device)
    out.scatter_add_(3, low[..., None], w_low[..., None])
    out.scatter_add_(3, high[..., None], w_high[..., None])
    return out.mean(dim=2)


def roi_align(
    features: torch.Tensor,
    boxes: torch.Tensor,
    batch_index: torch.Tensor,
    output_size: int | tuple[int, int] = 7,
    spatial_scale: float = 1.0,
    sampling_ratio: int = 2,
    aligned: bool = True,
) -> torch.Tensor:
    """``features`` [B, C, H, W], ``boxes`` [R, 4] (x1, y1, x2, y2, input pixels), ``batch_index``
    [R] -> pooled ``[R, C, ph, pw]`` (torchvision.ops.roi_align with the same arguments)."""
    if sampling_ratio < 1:
        raise ValueError(f"sampling_ratio must be a positive integer, got {sampling_ratio}")
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    b, c, h, w = features.shape
    r = boxes.shape[0]
    out = features.new_zeros(r, c, ph, pw)
    if r == 0:
        return out
    boxes = boxes.to(features.dtype) * spatial_scale
    if aligned:
        boxes = boxes - 0.5
    x1, y1, x2, y2 = boxes.unbind(dim=1)
    bw, bh = x2 - x1, y2 - y1
    if not aligned:  # legacy behaviour: boxes are at least one cell
        bw, bh = bw.clamp(min=1.0), bh.clamp(min=1.0)
    ay = _axis_weights(y1, bh, ph, sampling_ratio, h)  # [R, ph, H]
    ax = _axis_weights(x1, bw, pw, sampling_ratio, w)  # [R, pw, W]
    for k in batch_index.unique().tolist():
        sel = (batch_index == k).nonzero(as_tuple=True)[0]
        out[sel] = torch.einsum("rih,chw,rjw->rcij", ay[sel], features[k], ax[sel])
    return out
