"""The svdd_cae kind: see method.py and docs/methods/svdd_cae.md."""
