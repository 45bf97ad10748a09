"""The job that joins a repeated method's runs (``repeats: N``) into the method's own metric
files: every repeat's rows plus their mean (the headline) and std (evaluation/repeats.py)."""
from __future__ import annotations

import json
import logging
import shutil
from typing import Sequence

log = logging.getLogger("vadflow")


def aggregate(method: str, seeds: Sequence[int], auc: Sequence[str], f1: Sequence[str], per_video: Sequence[str],
              per_class: Sequence[str], details: Sequence[str], timelines: Sequence[str], out_auc: str, out_f1: str,
              out_per_video: str, out_per_class: str, out_details: str, out_timelines: str) -> None:
    import pandas as pd

    from vadflow.evaluation.repeats import aggregate as agg, stack
    from vadflow.io import atomic_path

    def write(df: "pd.DataFrame", path: str) -> None:
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False, float_format="%.6g")

    read = lambda paths: [pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in paths]  # noqa: E731
    auc_table = agg(read(auc), method, seeds, "auc")
    write(auc_table, out_auc)
    write(agg(read(f1), method, seeds, "f1"), out_f1)
    write(agg(read(per_class), method, seeds, "per_class"), out_per_class)
    write(stack(read(per_video), method, seeds), out_per_video)
    docs = [json.loads(open(p).read()) for p in details]
    # The curves and the provenance are the first repeat's (the report plots one curve per method);
    # the repeats are listed so the report can say what the mean is over.
    doc = {**docs[0], "method": method,
           "repeats": [{"run": d["method"], "seed": int(s), "n_evaluated": d["n_evaluated"]} for d, s in zip(docs, seeds)]}
    with atomic_path(out_details) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    with atomic_path(out_timelines) as tmp:
        shutil.copyfile(timelines[0], tmp)
    head = auc_table[(auc_table["repeat"].isin(["mean", "std"])) & (auc_table["score_set"] == auc_table["score_set"].iloc[0])]
    log.info("%s over %d repeats: auc %s", method, len(seeds), " ± ".join(f"{v:.4f}" for v in head["auc"]))
