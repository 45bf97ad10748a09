"""The ador kind: see method.py and docs/methods/ador.md."""
