"""Frame errors of an autoencoder and the thesis's per-video regularity score (docs/methods/svdd_cae.md §6).

Per frame: e(t) = sum over channels and pixels of (x - x_hat)^2 (the author's code and tables;
the thesis text writes the L2 norm); the L1 sum, 1 - SSIM and PSNR are computed alongside
(A8). Per video (protocol A, the thesis's "agg"): s(t) = 1 - (e - min e) / (max e - min e),
Savitzky-Golay smoothed (scipy), anomaly score a(t) = 1 - s~(t).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import savgol_filter

#: error metrics (config ``error_metric``) and the non-negative "higher = more anomalous" value each gives.
METRICS = ("sq_sum", "l1_sum", "ssim", "psnr")
#: PSNR is capped here (MSE floor 1e-10), so 100 - PSNR is a non-negative anomaly value.
PSNR_CAP = 100.0


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    g = torch.exp(-((torch.arange(size, dtype=torch.float64) - (size - 1) / 2) ** 2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(x: torch.Tensor, y: torch.Tensor, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-frame SSIM of ``[B, C, H, W]`` images in [0, 1]: Gaussian window (11, sigma 1.5),
    K1 = 0.01, K2 = 0.03, population statistics, averaged over channels and the valid
    (unpadded) window positions, as scikit-image's ``gaussian_weights=True``."""
    c = x.shape[1]
    w = _gaussian_window(size, sigma).to(x)[None, None].expand(c, 1, size, size)

    def filt(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=c)

    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


def frame_errors(x: torch.Tensor, x_hat: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-frame ``sq_sum``, ``l1_sum``, ``ssim`` (the index itself) and ``psnr`` (dB) of a batch."""
    diff = x - x_hat
    mse = diff.pow(2).flatten(1).mean(1)
    return {
        "sq_sum": diff.pow(2).flatten(1).sum(1),
        "l1_sum": diff.abs().flatten(1).sum(1),
        "ssim": ssim(x, x_hat),
        "psnr": 10 * torch.log10(1.0 / mse.clamp_min(10 ** (-PSNR_CAP / 10))),
    }


def anomaly_value(metric: str, errors: dict[str, np.ndarray]) -> np.ndarray:
    """The chosen metric as a non-negative value where higher means more anomalous."""
    if metric in ("sq_sum", "l1_sum"):
        return np.asarray(errors[metric], dtype=np.float64)
    if metric == "ssim":
        return 1.0 - np.asarray(errors["ssim"], dtype=np.float64)
    if metric == "psnr":
        return PSNR_CAP - np.asarray(errors["psnr"], dtype=np.float64)
    raise ValueError(f"unknown error_metric {metric!r} (expected one of {', '.join(METRICS)})")


def regularity(e: np.ndarray) -> np.ndarray:
    """s(t) = 1 - (e - min) / (max - min) over one video; 1 everywhere when e is constant."""
    e = np.asarray(e, dtype=np.float64)
    lo, hi = e.min(), e.max()
    if hi == lo:
        return np.ones_like(e)
    return 1.0 - (e - lo) / (hi - lo)


def smooth(s: np.ndarray, window: int = 15, polyorder: int = 1) -> np.ndarray:
    """Savitzky-Golay with window min(window, n), made odd by subtracting 1; too short a video
    (window <= polyorder, i.e. n <= 2 for the spec's order 1) is left as it is."""
    s = np.asarray(s, dtype=np.float64)
    w = min(int(window), s.size)
    if w % 2 == 0:
        w -= 1
    if w <= max(1, int(polyorder)):
        return s.copy()
    return savgol_filter(s, w, int(polyorder))


def agg_scores(e: np.ndarray, window: int = 15, polyorder: int = 1) -> np.ndarray:
    """Protocol A anomaly score a(t) = 1 - s~(t) of one video (not clipped: see :func:`clipped`)."""
    return 1.0 - smooth(regularity(e), window, polyorder)


def clipped(a: np.ndarray) -> np.ndarray:
    """The [0, 1]-clipped copy of an agg score, for thresholding (§6.4)."""
    return np.clip(a, 0.0, 1.0)


def hold(values: np.ndarray, index: np.ndarray, n_frames: int) -> np.ndarray:
    """Frame scores from scores of the sorted frames ``index``: each frame takes the value of
    the last scored frame at or before it (frames before the first take the first)."""
    values = np.asarray(values, dtype=np.float64)
    index = np.asarray(index)
    if values.size == 0 or values.size != index.size:
        raise ValueError(f"hold: {values.size} values for {index.size} frame indices")
    pos = np.searchsorted(index, np.arange(n_frames), side="right") - 1
    return values[np.clip(pos, 0, None)]
