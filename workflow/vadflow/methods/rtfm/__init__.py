"""RTFM (Tian et al., ICCV 2021): robust temporal feature magnitude learning; see ``core`` and docs/methods/rtfm.md."""
