"""Per-box features for box-only detectors: ResNet-50 layer4 + RoIAlign + average pool.

The thesis pools 7x7x2048 RoI maps from its Faster R-CNN backbone and averages them to 2048-d
(docs/methods/ador.md §3). Without that detector's weights, the backbone is ``resnet50_2d``
(features/backbones/resnet50_2d.py; ImageNet weights if ``roi.weights`` names a file, else a
seeded random init) run on the same frame the boxes refer to.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vadflow.detection.roi_align import roi_align
from vadflow.device import resolve_device
from vadflow.features.backbones import get_backbone

#: ResNet-50 layer4 is at 1/32 of the input resolution.
STRIDE = 32


class RoIFeatures:
    def __init__(self, roi_cfg: dict[str, Any], device: str = "auto", name: str = "detector") -> None:
        self.bb = get_backbone("resnet50_2d")
        # `name` makes a missing-weights error point at detectors.<name>.roi.weights.
        self.cfg = {**self.bb.defaults, **roi_cfg, "name": f"{name}.roi"}
        self.device = resolve_device(device)
        self.model = self.bb.build(self.cfg).to(self.device).eval()
        self.weights_id = self.bb.weights_id(self.cfg)
        self.dim = self.bb.dim
        self.output_size = int(self.cfg.get("output_size", 7))
        self.sampling_ratio = int(self.cfg.get("sampling_ratio", 2))

    def __call__(self, frames: np.ndarray, boxes: list[np.ndarray]) -> list[np.ndarray]:
        """uint8 ``[B, H, W, 3]`` frames and pixel boxes per frame -> ``[K_b, 2048]`` float32 per frame."""
        counts = [len(b) for b in boxes]
        if sum(counts) == 0:
            return [np.zeros((0, self.dim), np.float32) for _ in boxes]
        keep = [i for i, n in enumerate(counts) if n]  # frames without boxes skip the CNN
        x = torch.from_numpy(np.ascontiguousarray(frames[keep])).to(self.device)
        with torch.inference_mode():
            x = self.bb.normalize(x[:, None], self.cfg)[:, :, 0].contiguous(memory_format=torch.channels_last)
            fmap = self.model.features(x)
            rois = torch.from_numpy(np.concatenate([boxes[i] for i in keep]).astype(np.float32)).to(self.device)
            index = torch.repeat_interleave(torch.arange(len(keep), device=self.device),
                                            torch.tensor([counts[i] for i in keep], device=self.device))
            pooled = roi_align(fmap.float(), rois, index, self.output_size, 1.0 / STRIDE, self.sampling_ratio, aligned=True)
            feats = pooled.mean(dim=(2, 3)).cpu().numpy()
        out, at = [], 0
        for n in counts:
            out.append(feats[at : at + n] if n else np.zeros((0, self.dim), np.float32))
            at += n
        return out
