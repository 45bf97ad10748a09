"""Read-only access to one of the workflow's per-video HDF5 artifacts (features, detections,
frame caches): one group or dataset per video id, file attrs, and the videos that failed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

import h5py


class H5Reader:
    """Opens ``path`` read-only; subclasses name the artifact (``kind``) and their error type."""

    kind = "file"
    error: type[Exception] = ValueError

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise self.error(f"{self.kind} {self.path} does not exist")
        try:
            self._f = h5py.File(self.path, "r")
        except OSError as exc:  # e.g. locked by a program writing it in place (README, "Concurrent jobs")
            raise self.error(f"{self.kind} {self.path} cannot be opened: {exc}") from exc

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self._f.attrs)

    @property
    def failed(self) -> dict[str, str]:
        """Video id -> why it has no entry (written by the job that made the file)."""
        return json.loads(self._f.attrs.get("failed", "{}"))

    def ids(self) -> list[str]:
        return list(self._f.keys())

    def __contains__(self, vid: str) -> bool:
        return vid in self._f

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
