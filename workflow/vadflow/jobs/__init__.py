"""The bodies of the workflow's jobs, one function per ``vadflow`` subcommand.

:mod:`vadflow.cli` parses a rule's arguments and calls one of these; each receives its
config section as a dict (exactly the rule's ``params``, so what a job computes and what
triggers its rerun are the same thing) and plain file paths. They are the only code that
joins the stages: the dataset adapters, the stores, the extractors, the methods and the
evaluation.
"""
from __future__ import annotations


def set_threads(n: int | None) -> None:
    """Torch's CPU threads for this job, and denormal flushing."""
    import torch

    # Saturated sigmoids and tiny Adam moments produce denormal floats, which made CPU
    # training steps ~10x slower in measurement; flushing them to zero changes no result we report.
    torch.set_flush_denormal(True)
    if n:
        torch.set_num_threads(n)
