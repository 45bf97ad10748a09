"""What every clip backbone shares: preprocessing presets, seeded init, the Backbone handle.

A backbone module (c3d.py, i3d.py, ...) defines its nn.Module and one ``Backbone`` object;
the registry in ``__init__`` collects them. Extraction code only talks to ``Backbone``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
from torch import nn

from vadflow.features import checkpoints


@dataclass(frozen=True)
class Preset:
    """Pixel normalisation: ``out[c] = (in[c] - mean[c]) * scale[c]`` on 0-255 values.

    ``mean`` and ``scale`` are given in the *output* channel order (BGR when ``bgr``), which is
    how the public sources state them. ``geometry`` is the resize/crop the preset's source used;
    the decoder applies geometry, so it only feeds ``Backbone.defaults_for``.
    """

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    bgr: bool = False
    geometry: Mapping[str, Any] = field(default_factory=dict)


def normalize(clips: torch.Tensor, preset: Preset) -> torch.Tensor:
    """uint8 ``[B, T, H, W, 3]`` RGB -> float32 ``[B, 3, T, H, W]``, on the input's device."""
    if clips.dtype != torch.uint8 or clips.ndim != 5 or clips.shape[-1] != 3:
        raise ValueError(
            f"expected uint8 clips [B, T, H, W, 3], got {clips.dtype} {list(clips.shape)}"
        )
    x = clips.permute(0, 4, 1, 2, 3)
    if preset.bgr:
        x = x.flip(1)
    # Make the (1-byte) uint8 view contiguous before widening to float: one cheap copy.
    x = x.contiguous().to(torch.float32)
    mean = torch.tensor(preset.mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1, 1)
    scale = torch.tensor(preset.scale, dtype=torch.float32, device=x.device).view(1, 3, 1, 1, 1)
    return x.sub_(mean).mul_(scale)


def seeded_init_(model: nn.Module, seed: int) -> nn.Module:
    """Initialise every parameter and buffer from ``seed`` alone, without touching global RNG.

    He-normal (fan-in, ReLU) keeps activations at unit scale through deep ReLU stacks; torch's
    default init shrinks them by ~6x per layer, so a random I3D would emit ~1e-9 features.
    Models may be built on the meta device and ``to_empty``-ed: every tensor is written here.
    A layer not followed by a ReLU (Xception's depthwise conv, directly followed by the
    pointwise one) sets ``init_nonlinearity = "linear"`` to get gain 1 instead of sqrt(2).
    """
    gen = torch.Generator().manual_seed(int(seed))
    done: set[int] = set()
    for module in model.modules():
        if isinstance(module, (nn.Conv3d, nn.Conv2d, nn.Linear)):
            with torch.no_grad():
                nonlinearity = getattr(module, "init_nonlinearity", "relu")
                nn.init.kaiming_normal_(module.weight, nonlinearity=nonlinearity, generator=gen)
                if module.bias is not None:
                    module.bias.zero_()
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_parameters()  # weight 1, bias 0, mean 0, var 1, count 0
        else:
            continue
        done.update(id(t) for t in (*module.parameters(recurse=False), *module.buffers(recurse=False)))
    left = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if id(t) not in done]
    if left:  # a new layer type would otherwise keep uninitialised memory
        raise TypeError(f"seeded_init_ does not know how to initialise: {left}")
    return model


def add_bottleneck_stages(model: nn.Module, block: Callable[..., nn.Module], layers: tuple[int, ...],
                          expansion: int = 4, cin: int = 64) -> None:
    """``layer1``..``layer4`` of a bottleneck ResNet (2-D or 3-D ``block``), torchvision naming:
    the first block of a stage takes the stride and the downsample shortcut."""
    for i, (planes, n, stride) in enumerate(zip((64, 128, 256, 512), layers, (1, 2, 2, 2)), start=1):
        blocks = [block(cin, planes, stride)]
        cin = planes * expansion
        blocks += [block(cin, planes) for _ in range(n - 1)]
        setattr(model, f"layer{i}", nn.Sequential(*blocks))


class Backbone:
    """Handle for one backbone: its defaults, presets, model factory and checkpoint rules."""

    def __init__(
        self,
        name: str,
        dim: int,
        defaults: Mapping[str, Any],
        presets: Mapping[str, Preset],
        make_model: Callable[[Mapping[str, Any]], nn.Module],
        families: tuple[str, ...],
        checkpoint_hint: str,
        feature_shape: tuple[int, ...] | None = None,
        memory_format: torch.memory_format = torch.channels_last_3d,
    ) -> None:
        self.name = name
        self.dim = dim
        # Shape of one clip's feature: the model maps [B, 3, T, H, W] to [B, *feature_shape].
        self.feature_shape = tuple(feature_shape) if feature_shape is not None else (dim,)
        self._memory_format = memory_format  # channels_last for the 2-D frame backbones
        self._defaults = dict(defaults)
        self.presets = dict(presets)
        self._make_model = make_model
        self.families = families  # checkpoint families (checkpoints.FAMILIES) this model loads
        self._hint = checkpoint_hint  # what to download; "{key}" = the config key to set

    def __repr__(self) -> str:
        shape = "" if self.feature_shape == (self.dim,) else f", feature_shape={self.feature_shape}"
        return f"Backbone({self.name!r}, dim={self.dim}{shape})"

    def dim_for(self, cfg: Mapping[str, Any]) -> int:
        """Feature size under ``cfg`` (fixed for a CNN; the weight-free ``flow`` family's
        depends on its descriptor keys)."""
        return self.dim

    @property
    def defaults(self) -> dict[str, Any]:
        """Default extractor config keys (a fresh copy, safe to mutate)."""
        return dict(self._defaults)

    def defaults_for(self, preset: str | None = None) -> dict[str, Any]:
        """Defaults with the resize/crop that ``preset``'s source used."""
        out = self.defaults
        if preset is not None:
            out.update(self.preset(preset).geometry, preprocess=preset)
        return out

    def preset(self, name: str | None) -> Preset:
        name = name or self._defaults["preprocess"]
        if name not in self.presets:
            raise ValueError(
                f"unknown {self.name} preprocess preset {name!r}; known: {', '.join(self.presets)}"
            )
        return self.presets[name]

    def normalize(self, clips: torch.Tensor, cfg: Mapping[str, Any]) -> torch.Tensor:
        """uint8 ``[B, T, H, W, 3]`` RGB -> float32 ``[B, 3, T, H, W]`` per ``cfg["preprocess"]``."""
        return normalize(clips, self.preset(cfg.get("preprocess")))

    def build(self, cfg: Mapping[str, Any]) -> nn.Module:
        """The model in eval mode on CPU: seeded random init, then the checkpoint if one is set."""
        weights = self._weights(cfg)
        # Build on meta, then allocate once: skips torch's default init (about 1 s for C3D)
        # that seeded_init_ would overwrite anyway.
        with torch.device("meta"):
            model = self._make_model(cfg)
        model = seeded_init_(model.to_empty(device="cpu"), int(cfg.get("seed", 0)))
        # Channels-last conv weights make oneDNN run the whole net in NDHWC: ~10x faster for
        # I3D and ~2x for C3D on CPU (contiguous weights send 1x1x1 convs to a slow path).
        # Outputs match the contiguous layout up to float rounding. The 2-D frame backbones
        # use channels_last (NHWC), measured ~1.4x faster than contiguous for ResNet-50/Xception.
        model = model.to(memory_format=self._memory_format)
        model.checkpoint = None  # a checkpoints.CheckpointInfo once a file is loaded
        if weights != "random":
            model.checkpoint = checkpoints.load_checkpoint(
                model, weights, backbone=self.name, families=self.families, hint=self._hint_for(cfg)
            )
        return model.eval()

    def weights_id(self, cfg: Mapping[str, Any]) -> str:
        """``"random-init"`` or the sha256 of the weights file (recorded in feature attrs)."""
        weights = self._weights(cfg)
        if weights == "random":
            return "random-init"
        checkpoints.require_file(weights, self._hint_for(cfg))
        return checkpoints.file_sha256(weights)

    def _weights(self, cfg: Mapping[str, Any]) -> str:
        weights = cfg.get("weights")
        if weights is None or weights == "":
            raise checkpoints.CheckpointError(
                f"no weights set for backbone {self.name}.\n{self._hint_for(cfg)}"
            )
        return str(weights)

    def _hint_for(self, cfg: Mapping[str, Any]) -> str:
        key = f"features.{cfg.get('name', self.name)}.weights"
        return (
            self._hint.format(key=key)
            + f"\nFor an untrained network (tests, the synthetic default) set `{key}: random`."
        )
