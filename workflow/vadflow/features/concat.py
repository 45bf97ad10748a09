"""Several feature sets of the same videos as one (``source: concat``): rows joined per snippet.

XD-Violence's audio-visual setting reads I3D RGB, I3D flow and VGGish audio of each snippet
together. Their lengths differ by a snippet (flow has one fewer than RGB; VGGish may too), so
the rows are aligned per video first, by the extractor's ``align``:

* ``truncate`` (default): keep the first T = min(T_i) snippets of every input, as XDVioDet's
  loader does (it cuts RGB to the flow's length);
* ``repeat_last``: extend each shorter input to T = max(T_i) by repeating its last row.

The rule, and how many videos it changed, is the output's ``alignment`` attr, which the score
job copies into the scores' provenance; each video keeps its inputs' lengths in ``rows_in``.

Crops: an input stored with every crop (``crops: all``, ``[C, T, D]``) is joined crop by crop;
an input without crops (audio) is the same for each crop, as XDVioDet pairs RGB crop i with
flow crop i and the video's one audio vector. Inputs with crops must agree on C.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from vadflow.features.writer import FeatureWriter
from vadflow.stores.features import FeatureStore, FeatureStoreError, n_crops

log = logging.getLogger(__name__)

ALIGN = ("truncate", "repeat_last")
#: per-video attrs every input must share: the rows must be the same snippets of the same frames.
SAME = ("clip_len", "stride", "n_frames")


def align_rows(x: np.ndarray, t: int, how: str) -> np.ndarray:
    """``[C, T_i, D]`` -> ``[C, t, D]``: its first ``t`` rows, or (``repeat_last``) its last row
    repeated up to ``t``."""
    if how not in ALIGN:
        raise ValueError(f"align {how!r}: expected one of {', '.join(ALIGN)}")
    if x.shape[1] >= t:
        return x[:, :t]
    return np.concatenate([x, np.repeat(x[:, -1:], t - x.shape[1], axis=1)], axis=1)


def join_video(parts: list[np.ndarray], how: str, vid: str, names: list[str]) -> np.ndarray:
    """One video's inputs (each ``[C_i, T_i, D_i]``, C_i 1 or C) -> ``[C, T, ΣD]``."""
    c = max(len(p) for p in parts)
    bad = [f"{n} ({len(p)})" for n, p in zip(names, parts) if len(p) not in (1, c)]
    if bad:
        raise FeatureStoreError(f"video {vid}: inputs hold different crop counts: {', '.join(bad)} beside {c}; "
                                "concat needs the same crops in every input with crops (or one crop)")
    t = min(p.shape[1] for p in parts) if how == "truncate" else max(p.shape[1] for p in parts)
    aligned = [np.broadcast_to(align_rows(p, t, how), (c, t, p.shape[2])) for p in parts]
    return np.concatenate(aligned, axis=2)


def concat_features(cfg: dict[str, Any], inputs: list[str | Path], out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Write ``out``: every video found in all ``inputs`` (feature files, in ``cfg["inputs"]``
    order) with its rows joined per snippet. A video missing from one input is recorded as
    failed (the readers skip it with a warning)."""
    from tqdm import tqdm

    from vadflow.io import as_json, extractor_hash

    name, how = cfg.get("name", "concat"), cfg.get("align", "truncate")
    names = list(cfg.get("inputs") or [Path(p).stem for p in inputs])
    if how not in ALIGN:
        raise FeatureStoreError(f"features.{name}.align = {how!r}: expected one of {', '.join(ALIGN)}")
    if len(names) != len(inputs):
        raise FeatureStoreError(f"features.{name}: {len(inputs)} input files for the inputs {names}")
    stores = [FeatureStore(p) for p in inputs]
    try:
        files = [s.attrs for s in stores]
        for n, a, p in zip(names, files, inputs):
            if str(a.get("layout", "clips")) != "clips":
                raise FeatureStoreError(f"{p}: features.{name} joins per-clip features, but input {n} has layout {a.get('layout')}")
        crop_inputs = {n: str(a.get("score_crop", "mean")) for n, a in zip(names, files) if a.get("crop_reduce") == "all"}
        if len(set(crop_inputs.values())) > 1:
            raise FeatureStoreError(f"features.{name}: inputs with crops: all score different crops ({crop_inputs}); "
                                    "set the same score_crop on each")
        ids = [vid for vid in stores[0].ids() if all(vid in s for s in stores[1:])]
        failed = {vid: "; ".join(f"{n}: {s.failed.get(vid, 'not in ' + str(s.path))}" for n, s in zip(names, stores) if vid not in s)
                  for vid in sorted({v for s in stores for v in s.ids()} | {v for s in stores for v in s.failed}) if vid not in ids}
        dims = [int(a.get("dim", 0)) for a in files]
        sentence = (" + ".join(f"{n} ({a.get('source_format', a.get('backbone', '?'))})" for n, a in zip(names, files))
                    + f", joined per snippet; lengths aligned by {how}: "
                    + ("each video keeps the shortest input's snippets" if how == "truncate"
                       else "shorter inputs repeat their last snippet up to the longest"))
        file_attrs = {"extractor": name, "backbone": "concat(" + "+".join(str(a.get("backbone", "?")) for a in files) + ")",
                      "config_hash": extractor_hash(cfg), "weights": "+".join(str(a.get("weights", "?")) for a in files),
                      "config": as_json(cfg), "layout": "clips", "source": "concat", "inputs": json.dumps(names),
                      "align": how, "dim": sum(dims),
                      **({"crop_reduce": "all", "score_crop": next(iter(crop_inputs.values()))} if crop_inputs else {})}
        stats: dict[str, Any] = {"videos": 0, "failed": len(failed), "lengths_differ": 0}
        with FeatureWriter(out, file_attrs) as writer:
            for vid, why in failed.items():
                writer.fail(vid, why)
            for vid in tqdm(ids, desc=f"concat {name}", unit="video", disable=not progress):
                got = [s.get_crops(vid) for s in stores]
                first = got[0][1]
                for n, (_, a) in zip(names[1:], got[1:]):
                    for key in SAME:
                        if str(a.get(key)) != str(first.get(key)):
                            raise FeatureStoreError(f"video {vid}: input {n} has {key} = {a.get(key)!r}, {names[0]} has "
                                                    f"{first.get(key)!r}; concat joins the same snippets of the same frames")
                lengths = {n: int(x.shape[1]) for n, (x, _) in zip(names, got)}
                x = join_video([x for x, _ in got], how, vid, names)
                stats["lengths_differ"] += len(set(lengths.values())) > 1
                keep_crops = any(n_crops(a) for _, a in got)
                attrs = {"extractor": name, "backbone": file_attrs["backbone"], "clip_len": first["clip_len"],
                         "stride": first["stride"], "fps": first["fps"], "n_frames": first["n_frames"],
                         "config_hash": file_attrs["config_hash"], "weights": file_attrs["weights"], "layout": "clips",
                         "source": "concat", "rows_in": json.dumps(lengths), "align": how,
                         **({"n_crops": int(x.shape[0])} if keep_crops else {})}
                writer.add(vid, x if keep_crops else x[0], attrs, dtype=cfg.get("dtype", "float32"))
                stats["videos"] += 1
            writer.set_file_attrs({"alignment": f"{sentence} ({stats['lengths_differ']} of {stats['videos']} videos differed)"})
    finally:
        for s in stores:
            s.close()
    if failed:
        log.warning("%d videos are missing from some input of %s and are skipped: %s", len(failed), name,
                    "; ".join(f"{v} ({r})" for v, r in list(failed.items())[:3]))
    log.info("concat %s done (%s): %s", name, sentence, stats)
    return stats
