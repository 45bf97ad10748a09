"""Frame folders (one image per frame, as UCSD Ped and ShanghaiTech ship their videos), and the
error every decoding failure raises. Low level: the data adapters list frame folders and the
decoder reads them, and neither may import the other (docs/architecture.md).
"""
from __future__ import annotations

import re
from pathlib import Path


class DecodeError(RuntimeError):
    """A video cannot be opened or decoded; the message names the file."""


#: image files a frame folder may hold (UCSD: .tif; ShanghaiTech: .jpg; Ped masks: .bmp).
IMAGE_EXTS = (".tif", ".tiff", ".jpg", ".jpeg", ".png", ".bmp")
#: files that operating systems drop into folders; skipped, never an error.
_IGNORED = ("thumbs.db", "desktop.ini")


def natural_key(name: str) -> list:
    # "9.tif" before "10.tif": frame numbers are not always zero-padded.
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def frame_files(folder: str | Path) -> list[Path]:
    """The images of a frame folder in natural order; anything else in it is an error naming the file."""
    folder = Path(folder)
    files, other = [], []
    for p in folder.iterdir():
        if p.name.startswith(".") or p.name.lower() in _IGNORED:
            continue
        (files if p.is_file() and p.suffix.lower() in IMAGE_EXTS else other).append(p)
    if other:
        raise DecodeError(f"{other[0]}: not an image ({', '.join(IMAGE_EXTS)}) in frame folder {folder}; "
                          f"a frame folder holds one image per frame and nothing else ({len(other)} such entries)")
    if not files:
        raise DecodeError(f"{folder}: frame folder holds no images ({', '.join(IMAGE_EXTS)})")
    exts = {p.suffix.lower() for p in files}
    if len(exts) > 1:
        raise DecodeError(f"{folder}: frame folder mixes image types {sorted(exts)}; frames must be one sequence")
    return sorted(files, key=lambda p: natural_key(p.name))
