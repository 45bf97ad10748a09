"""The lof kind: see method.py and docs/methods/lof.md."""
