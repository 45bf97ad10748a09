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
    failing rewrite keeps the previous version. A failed write (disk full, quota, file size
    limit, read-only folder) is raised as :class:`ArtifactWriteError` naming ``path``, the
    name the user knows, not the temporary one.
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
        except (OSError, RuntimeError) as exc:
            code = _write_errno(exc, tmp)
            if code is None:
                raise  # e.g. an input the block reads is missing: not this artifact's fault
            raise ArtifactWriteError(f"writing {path} failed: [Errno {code}] {os.strerror(code)}; "
                                     "nothing was left under that name") from exc
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
            with contextlib.suppress(OSError):  # a read-only folder: the write itself will say so
                tmp.unlink()
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


def _write_errno(exc: BaseException, tmp: Path) -> int | None:
    """The errno of a failed write, else None. HDF5 sometimes reports a full disk as a
    RuntimeError whose text holds "errno = 27" (e.g. when closing the file)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in _WRITE_ERRNOS or str(tmp) in (str(exc.filename), str(exc.filename2)):
            return exc.errno
    found = re.search(r"errno = (\d+)", str(exc))
    if found and int(found.group(1)) in _WRITE_ERRNOS:
        return int(found.group(1))
    return None


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


@contextlib.contextmanager
def h5_in_memory(path: str | Path) -> Iterator[Any]:
    """An ``h5py.File`` built in memory, then written to ``path`` atomically by one plain write.

    For small files with compressed (chunked) datasets: when the disk fails under those, HDF5
    crashed the process (segfault) in our tests instead of raising; a plain write reports the
    full disk as an error naming ``path``.
    """
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        yield f
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getbuffer())


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


#: bytes hashed at each end of a video file by :func:`video_signature`.
_EDGE = 1 << 20


def video_signature(path: str | Path) -> str:
    """Size plus a hash of the first and last MiB: cheap on multi-GB videos, and it survives
    copies and ``touch`` (mtime does not), so a re-synced dataset keeps its cache. A frame
    folder's signature hashes its file names and sizes plus its first and last image."""
    path = Path(path)
    if path.is_dir():
        return _folder_signature(path)
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(_EDGE))
        if size > 2 * _EDGE:
            f.seek(size - _EDGE)
            h.update(f.read(_EDGE))
        else:
            h.update(f.read())
    return f"{size}:{h.hexdigest()[:24]}"


def _folder_signature(folder: Path) -> str:
    from vadflow.frame_folders import frame_files

    files = frame_files(folder)
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.name}:{p.stat().st_size};".encode())
    for p in (files[0], files[-1]):
        h.update(p.read_bytes()[:_EDGE])
    return f"dir{len(files)}:{h.hexdigest()[:24]}"
