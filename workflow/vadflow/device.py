"""``device: auto`` resolution shared by extraction and training."""
from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU; an explicit CUDA request without CUDA fails clearly."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device: {name} is configured but CUDA is not available here (use device: auto or cpu)")
    return dev


def runtime_info() -> dict[str, object]:
    """What a trained model's numbers depend on besides config and seed: library versions and
    CPU thread counts change BLAS/oneDNN kernels and reduction order (README, "Reproducibility")."""
    import platform

    import numpy as np

    return {
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "cuda": str(torch.version.cuda or ""),
        "machine": platform.machine(),
    }
