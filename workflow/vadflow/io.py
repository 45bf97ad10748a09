"""Small file helpers shared by every stage: atomic writes, safe tensor loads, content hashes.

Everything here depends on nothing else of ours, so the config validator, the stages and the
methods can all use it without importing one another.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any, Iterator


class ArtifactWriteError(OSError):
    """Writing an artifact failed (disk full, read-only folder, quota); names the artifact.

    Nothing is left under the artifact's name: the previous version, if any, is untouched.
    """


class UnsafeFileError(ValueError):
    """A ``.pt`` file holds more than tensors and plain values; it was not unpickled."""


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it over ``path`` only on success.

    A killed or failing job therefore never leaves a half-written artifact under the
    final name (Snakemake would otherwise treat it as complete on the next run), and a
    failing rewrite keeps the previous version. An ``OSError`` while writing (disk full,
    read-only folder) is raised as :class:`ArtifactWriteError` naming ``path``: the one
    the user knows, not the temporary name.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactWriteError(f"cannot write {path}: cannot create its folder ({exc})") from exc
        remove_stale_temps(path)
        try:
            yield tmp
            _fsync(tmp)
            os.replace(tmp, path)
        except ArtifactWriteError:
            raise
        except OSError as exc:
            if not _is_write_failure(exc, tmp):
                raise  # e.g. an input the block reads is missing: not this artifact's fault
            raise ArtifactWriteError(f"writing {path} failed: {_os_reason(exc)}; nothing was left under that name") from exc
        _fsync(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale_temps(path: Path) -> int:
    """Delete the temporary files that killed writers of ``path`` left (``.<name>.<pid>.tmp``
    whose process is gone): the next writer of the same artifact cleans up after them. A
    temp of a live process is kept (Snakemake never runs two writers of one output, but a
    user might)."""
    n = 0
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2: -len(".tmp")]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


#: errno values that mean "the disk refused the write", whatever file the block was reading.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO, errno.EACCES, errno.EPERM}


def _is_write_failure(exc: OSError, tmp: Path) -> bool:
    return exc.errno in _WRITE_ERRNOS or str(tmp) in (str(exc.filename), str(exc.filename2))


def _fsync(path: Path) -> None:
    """Flush ``path`` to disk, so that a node crash right after the rename cannot leave an
    empty file under the final name; folders that cannot be fsynced (some file systems) are skipped."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def _os_reason(exc: OSError) -> str:
    """``[Errno 28] No space left on device`` without the temporary file name or HDF5's dump."""
    if exc.errno is not None:
        return f"[Errno {exc.errno}] {os.strerror(exc.errno)}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def save_torch(obj: Any, path: str | Path) -> None:
    """``torch.save`` atomically. Serialised in memory first: torch's own file writer reports
    a full disk as "unexpected pos 576 vs 534"; a plain write raises ENOSPC naming the file."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getbuffer())


def load_torch(path: str | Path, what: str = "file", remedy: str = "") -> Any:
    """``torch.load(weights_only=True)``: tensors, numbers, strings, lists and dicts only.

    A file that needs anything else (a pickled class or function: it could run code) is
    refused with :class:`UnsafeFileError` naming the file and the object it references; the
    pickle never runs. ``remedy`` says what to do instead (e.g. rerun the job that writes it).
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError, EOFError) as exc:
        raise UnsafeFileError(
            f"refusing to load {what} {path}: {unsafe_reason(exc)}; only tensors and plain values are loaded "
            f"(torch.load weights_only=True), since unpickling anything else could run code from the file"
            + (f". {remedy}" if remedy else "")
        ) from None


def unsafe_reason(err: BaseException) -> str:
    """The informative part of torch's weights_only error (its preamble advises weights_only=False)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if found:
        return f"it references the Python object {found.group(1)}"
    after = text.split("WeightsUnpickler error:", 1)
    lines = [ln.strip() for ln in after[-1].splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def as_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no spaces): the ``--cfg`` of every job."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def config_hash(cfg: Any) -> str:
    """Stable short hash of a JSON-able config section (key order does not matter)."""
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


#: extractor keys that change how a job runs but not the numbers it writes; they stay in
#: params (a user editing them expects a rerun) but are excluded from the attrs hash so a
#: consumer does not reject features computed on another device or batch size.
RUNTIME_KEYS = ("batch_size", "device", "shards", "decoder", "amp", "decode_workers")


def extractor_hash(params: dict[str, Any]) -> str:
    """Hash of the extractor settings that determine the feature values."""
    return config_hash({k: v for k, v in params.items() if k not in RUNTIME_KEYS})
