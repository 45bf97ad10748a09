"""Data jobs: the synthetic generator, and manifest.csv + labels.h5 of any dataset (probing
every video with the decoder, which the dataset adapters never import)."""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("vadflow")


def synth(cfg: dict[str, Any], out: str, progress: bool = True) -> None:
    from vadflow.data.synthetic import generate

    info = generate(cfg, out, progress=progress)
    log.info("synthetic dataset written to %s: %s", out, info)


def manifest(cfg: dict[str, Any], manifest_out: str, labels_out: str, progress: bool = True) -> None:
    from vadflow.data.manifest import build_manifest, write_manifest
    from vadflow.io import config_hash
    from vadflow.video.decoder import DecodeError, probe

    table, labels, facts = build_manifest(cfg, probe=probe, probe_errors=(DecodeError,), progress=progress)
    write_manifest(table, labels, manifest_out, labels_out, attrs={"dataset_config_hash": config_hash(cfg), "root": cfg["root"],
                                                                   "kind": cfg["kind"], "label_policy": facts["label_policy"]})
    log.info("annotation files used: %s", ", ".join(facts["files"]))
    log.info("%d videos: %s; labels: policy %s", facts["n_videos"], facts["status"], facts["label_policy"])
    for (split, cls), n in sorted(facts["per_class"].items()):
        log.info("  %-5s %-30s %5d", split, cls, n)
