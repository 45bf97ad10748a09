"""MGFN (Chen et al., AAAI 2023): Magnitude-Contrastive Glance-and-Focus Network, weakly supervised.

:mod:`vadflow.methods.mgfn.core` holds the network, the losses of one training iteration, the
32-segment rule and whole-video scoring as plain PyTorch, checked against the authors' code
by ``benchmarks/crosscheck_mgfn.py``; docs/methods/mgfn.md describes the method, the
original's training protocol and where its code and paper differ.
"""
