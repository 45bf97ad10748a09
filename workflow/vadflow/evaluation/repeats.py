"""A method's metrics over its repeats (``repeats: N``: training seeds seed .. seed+N-1).

Every repeat is evaluated on its own by the same code as any method; this module stacks their
tables and adds, per score set (and per F1 ``k`` and report), a ``mean`` row, the headline, and
a ``std`` row: the sample standard deviation (ddof = 1) over the repeats, NaN for one repeat.
Numbers that are not metrics (counts, thresholds of one run) are averaged all the same; text
columns keep the first repeat's value.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

#: columns that identify a row within one repeat's table (kept, never averaged).
KEYS = {"auc": ("score_set",), "f1": ("k", "report"), "per_class": ("cls",)}


def stack(tables: Sequence[pd.DataFrame], method: str, seeds: Sequence[int]) -> pd.DataFrame:
    """The repeats' tables one after another, with ``method`` (the repeated method's name),
    ``repeat`` (0 .. N-1) and ``seed`` columns."""
    out = []
    for i, (df, seed) in enumerate(zip(tables, seeds)):
        df = df.copy()
        df["method"] = method
        df.insert(1, "repeat", str(i))
        df.insert(2, "seed", int(seed))
        out.append(df)
    return pd.concat(out, ignore_index=True)


def aggregate(tables: Sequence[pd.DataFrame], method: str, seeds: Sequence[int], kind: str) -> pd.DataFrame:
    """Per-repeat rows, then ``mean`` and ``std`` rows per group of :data:`KEYS` ``[kind]``.

    In the auc table only the mean row of the headline set is ``headline``."""
    rows = stack(tables, method, seeds)
    keys = [k for k in KEYS[kind] if k in rows.columns]
    numeric = [c for c in rows.columns if c not in (*keys, "method", "repeat", "seed", "headline")
               and pd.api.types.is_numeric_dtype(rows[c]) and not pd.api.types.is_bool_dtype(rows[c])]
    summary = []
    for _, group in rows.groupby(keys, sort=False, dropna=False) if keys else [(None, rows)]:
        first = group.iloc[0].to_dict()
        values = group[numeric].astype(float)
        mean = {**first, **values.mean(axis=0).to_dict(), "repeat": "mean", "seed": -1}
        std = {**first, **(values.std(axis=0, ddof=1) if len(group) > 1 else values.iloc[0] * np.nan).to_dict(),
               "repeat": "std", "seed": -1}
        if "headline" in rows.columns:
            mean["headline"] = bool(group["headline"].astype(bool).any())
            std["headline"] = False
        summary += [mean, std]
    if "headline" in rows.columns:
        rows["headline"] = False  # the mean is the headline
    return pd.concat([rows, pd.DataFrame(summary, columns=rows.columns)], ignore_index=True)
