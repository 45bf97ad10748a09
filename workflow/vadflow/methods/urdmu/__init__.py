"""UR-DMU: Dual Memory Units with Uncertainty Regulation (Zhou, Yu & Yang, AAAI 2023).

Weakly supervised: each training video carries only a normal/abnormal label. The network, its
losses, the training-bag rule and one training step are in :mod:`vadflow.methods.urdmu.core`
(plain PyTorch, nothing from vadflow); the Method class that plugs it into the workflow is added
beside it. The method, its options and its fidelity to the original code: docs/methods/urdmu.md.
"""
