"""The mil kind: see method.py and docs/methods/mil.md."""
