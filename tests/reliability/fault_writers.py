"""Write one artifact twice in this process, the second time under a fault, and print as JSON
what happened: ``python fault_writers.py WRITER PATH [--limit BYTES] [--remount-ro]``.

Faults: a file-size limit (RLIMIT_FSIZE with SIGXFSZ ignored) fails the write midway with EFBIG
just as a full disk fails it with ENOSPC, for any user, root included; ``--remount-ro`` remounts
the folder's file system read-only first (test_disk_faults.py runs this inside a mount namespace
on its own tmpfs, which is also how it gets a real ENOSPC). A read-only folder made with chmod
would not stop root, hence the mount.
"""
from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

#: elements per written array (1.2 MB in float32); every artifact below is about 2.4 MB, so a
#: first version fits on the tests' 4 MB tmpfs and a second one beside it does not.
BIG = 300_000


def data(version: int) -> np.ndarray:
    return np.random.default_rng(version).random(BIG, dtype=np.float32)


def arm() -> None:
    """Apply the file-size limit (if any) from here on: inputs a writer needs are made before."""
    if LIMIT:
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


LIMIT = 0


def scores(path: Path, version: int) -> None:
    from vadflow.stores.scores import write_scores

    arm()
    write_scores(path, {"v1": data(version), "v2": data(version + 1)}, attrs={"method": "m"})


def model(path: Path, version: int) -> None:
    """Every model file (Method.save, FoldModels, heads, LSTM) is written by save_torch."""
    import torch

    from vadflow.io import save_torch

    arm()
    save_torch({"kind": "x", "state": {"w": torch.from_numpy(data(version)), "v": torch.from_numpy(data(version + 1))}}, path)


def labels(path: Path, version: int) -> None:
    import pandas as pd

    from vadflow.data.manifest import COLUMNS, write_manifest

    arm()
    write_manifest(pd.DataFrame([], columns=COLUMNS), {"v1": (data(version) > 0.5).astype(np.uint8)},
                   path.with_name("manifest.csv"), path)


def features(path: Path, version: int) -> None:
    from vadflow.stores.features import VIDEO_ATTRS
    from vadflow.features.writer import FeatureWriter

    attrs = {k: 1 for k in VIDEO_ATTRS}
    arm()
    with FeatureWriter(path, {"extractor": "x"}) as w:
        for i in range(2):
            w.add(f"v{i}", data(version + i).reshape(-1, 1000), attrs, dtype="float32")


def merged(path: Path, version: int) -> None:
    """``vadflow merge``: copies the cached videos a shard receipt lists into one file (the
    inputs are made once, so that only the merge itself meets the fault)."""
    from vadflow.features.cache import VideoCache
    from vadflow.features.writer import merge, write_receipt

    receipt = path.parent / "shard.json"
    if not receipt.exists():
        cache = VideoCache(path.parent / "cache")
        videos = {f"v{i}": cache.write(f"v{i}", data(i).reshape(-1, 1000), {"config_hash": "h"}, dtype="float32")
                  for i in range(2)}
        write_receipt(receipt, "0-of-1", {"config_hash": "h", "version": version}, videos, {}, {})
    arm()
    merge([receipt], path)


def cache(path: Path, version: int) -> None:
    """The per-video feature cache: the cache names its file after the video."""
    from vadflow.features.cache import VideoCache

    arm()
    VideoCache(path.parent).write(path.stem, data(version).reshape(-1, 1000), {"config_hash": "h"}, dtype="float32")


def table(path: Path, version: int) -> None:
    """Metric tables (cli evaluate / thesis, the report's summary.csv) are pandas CSVs in atomic_path."""
    import pandas as pd

    from vadflow.io import atomic_path

    df = pd.DataFrame({"score": data(version)})  # about 3.5 MB of text
    arm()
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


WRITERS = {f.__name__: f for f in (scores, model, labels, features, merged, cache, table)}
#: the file each writer produces when given PATH (the cache names its file itself).
SUFFIX = {"scores": ".h5", "model": ".pt", "labels": ".h5", "features": ".h5", "merged": ".h5", "cache": ".h5", "table": ".csv"}


def main(argv: list[str]) -> dict:
    global LIMIT
    name, path = argv[0], Path(argv[1])
    WRITERS[name](path, 1)
    old = path.read_bytes()
    if "--remount-ro" in argv:
        subprocess.run(["mount", "-o", "remount,ro", str(path.parent)], check=True)
    if "--limit" in argv:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of killing us
        LIMIT = int(argv[argv.index("--limit") + 1])
    out: dict = {"error": None}
    try:
        WRITERS[name](path, 2)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        out = {"error": type(exc).__name__, "message": str(exc), "bases": [c.__name__ for c in type(exc).__mro__]}
    out["old_kept"] = path.read_bytes() == old
    out["temps"] = sorted(str(p) for p in path.parent.rglob("*.tmp"))
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
