"""The ``vadflow watch`` job: score a live stream with a trained model.pt."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vadflow.jobs import set_threads

log = logging.getLogger("vadflow")


def watch(model: str, source: str, threads: int | None = None, config: str | None = None, dataset: str | None = None,
          method: str | None = None, **options: Any) -> dict[str, Any]:
    """``options``: the keyword arguments of :func:`vadflow.streaming.watch.watch`."""
    from vadflow.streaming.watch import watch as run

    set_threads(threads)
    return run(model, source, origin=origin_from_config(model, config, dataset, method) if config else None, **options)


def origin_from_config(model: str, config: str, dataset: str | None, method: str | None) -> dict[str, Any]:
    """The extractor configs of a model.pt that does not record them, resolved from the workflow
    config (dataset and method given, or read from the path results/<ds>/<method>/model.pt)."""
    import yaml

    from vadflow import config as vc

    cfg = yaml.safe_load(Path(config).read_text())
    try:
        from snakemake.utils import validate

        validate(cfg, str(Path(vc.__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"))  # fills the defaults
    except ImportError:
        log.warning("snakemake is not installed: schema defaults are not filled in for --config")
    parts = Path(model).resolve().parts
    dataset = dataset or (parts[-3] if len(parts) >= 3 else None)
    method = method or (parts[-2] if len(parts) >= 2 else None)
    names = vc.method_reads(cfg, dataset, method).features
    return {"features": [{"extractor": name, "config": vc.as_json(vc.extractor_params(cfg, dataset, name))} for name in names]}
