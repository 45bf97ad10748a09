"""Reliability under bad input, faults and concurrency (issue 16). A package, so that its
conftest.py does not shadow tests/conftest.py, which the modules import as ``conftest``."""
