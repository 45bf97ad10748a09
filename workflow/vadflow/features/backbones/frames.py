"""2-D frame backbones used as clip backbones (docs/backbones.md §6 "Clip use").

A frame model takes the same ``[B, 3, T, H, W]`` clips as the 3-D backbones, runs every frame
through its 2-D trunk and returns the mean over the clip's frames, ``[B, D]``.
``forward_frames`` returns the per-frame features ``[B, T, D]`` instead, for methods that need
the frame sequence (the Xception-LSTM extractor, docs/methods/mil.md §8).
"""
from __future__ import annotations

import torch
from torch import nn


class FrameModel(nn.Module):
    """Base of the 2-D trunks. Subclasses implement ``frame_features``: ``[N, 3, H, W] -> [N, D]``.

    Frames go through the trunk ``frame_batch`` at a time, which bounds activation memory
    (a batch of 8 clips of 16 frames is 128 images) without changing any result.
    """

    frame_batch: int = 32

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_frames(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, T, H, W]`` -> per-frame features ``[B, T, D]``."""
        if x.ndim != 5:
            raise ValueError(f"expected clips [B, 3, T, H, W], got {list(x.shape)}")
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        feats = [self.frame_features(chunk) for chunk in frames.split(max(1, int(self.frame_batch)))]
        return torch.cat(feats).view(b, t, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, T, H, W]`` -> clip feature ``[B, D]``: the mean of the frame features."""
        return self.forward_frames(x).mean(dim=1)
