"""Published figures beside ours: ``results/{dataset}/reproduction.csv`` and its HTML table (docs/reproduction.md).

The published values live in one data file, ``workflow/published.yaml`` (its header and
``docs/reproduction.md`` describe the fields). This module only reads that file, picks the entries
that apply to one dataset, and compares them with our numbers:

- :func:`load_published` reads and validates the file (an error names the entry id and the key);
- :func:`applicable` keeps the entries of one dataset kind (and subset, group, configured methods);
- :func:`reproduction_table` puts our mean ± std beside each published figure and flags the rows
  whose gap exceeds the spread or whose protocol differs (the rule is in its docstring);
- :func:`write_reproduction` writes the CSV and a small self-contained HTML page atomically.

Pure functions: no Snakemake, no method code (the evaluation never imports methods). The protocol
vocabulary (feature, crop, selection and test-set tokens) is documented in ``published.yaml``;
:func:`feature_token` and :func:`crop_token` describe one of our extractors in that vocabulary.
"""
from __future__ import annotations

import html
import math
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import yaml

from vadflow.io import atomic_path

#: the data file beside the package: workflow/published.yaml
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "published.yaml"

#: the protocol fields compared between a published figure and our run.
PROTOCOL_FIELDS = ("features", "crops", "selection", "test_set")
#: a published protocol field with this value (or absent) is not compared.
NOT_STATED = "not stated"

#: dataset kinds a published figure may apply to (the config schema's evaluated dataset kinds).
DATASET_KINDS = ("ucf_crime", "xd_violence", "ucsd", "avenue", "shanghaitech")
#: a dataset kind that stands in for another: the synthetic dataset mimics UCF-Crime, so its table
#: lists UCF-Crime's figures (marked not comparable with ``synthetic=True``).
STANDS_FOR = {"synthetic": "ucf_crime"}

SCALES = ("fraction", "percent", "count")
SELECTIONS = ("test_best", "val_best", "last", "test_tuned", NOT_STATED)
_CROP_RE = re.compile(r"^(center|mean|all|none|not stated|crop:\d+|region:[a-z0-9_]+)$")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_F1_RE = re.compile(r"^f1@\d+(\.\d+)?_(abnormal|normal|all)$")

#: our metric columns a published figure may be compared with, and their scale. The frame metrics are
#: columns of ``<method>_auc.csv`` (evaluation/tables.py ``AUC_COLUMNS``); ``thesis_snippet_auc`` is
#: LOF's thesis protocol (``<method>_thesis_auc.csv``, report.py ``THESIS_METRICS``); ``sas_vl_*`` are
#: the ``vl_*`` columns of the real-time method's ``<method>_vl.csv`` (the SAS decision), prefixed to
#: tell them from the any-frame ``vl_f1`` of the auc CSV; ``f1@{k}_{report}`` are the F1@k rows
#: (percent, like the F1 CSV's ``f1`` column).
METRIC_SCALES: dict[str, str] = {
    **{m: "fraction" for m in (
        "auc", "ap", "pr_auc_trapz", "eer", "far", "vl_f1", "frame_accuracy", "frame_f1", "wavg_precision",
        "wavg_recall", "wavg_f1", "anomaly_precision", "anomaly_recall", "anomaly_f1", "youden_far",
        "thesis_snippet_auc", "sas_vl_precision", "sas_vl_recall", "sas_vl_f1", "sas_vl_tpr", "sas_vl_fpr")},
    "alarms_normal_pct": "percent", "alarms_anomalous_pct": "percent",
    **{m: "count" for m in ("tn", "fp", "fn", "tp", "false_alarms_per_hour")},
}

REQUIRED = ("id", "group", "source", "dataset_kind", "method", "metric", "value", "scale", "protocol")
OPTIONAL = ("subset", "score_set", "kind", "spread", "tolerance", "not_comparable", "notes", "decimals")

FLAG_OK = "ok"
FLAG_FLAGGED = "flagged"
FLAG_SYNTHETIC = "not comparable (synthetic)"
FLAG_MISSING = "no result"

COLUMNS = ["id", "group", "method", "metric", "scale", "published", "published_spread", "source", "their_features",
           "their_crops", "their_selection", "their_test_set", "ours_mean", "ours_std", "n_repeats", "gap", "spread",
           "flag", "why", "notes"]


class PublishedError(ValueError):
    """``published.yaml`` (or a hand-built entry) is malformed; the message names the entry and the key."""


# --------------------------------------------------------------------------- loading


class _Number(float):
    """A YAML number that remembers how it was printed (``84.30`` keeps its two decimals)."""

    text: str

    def __new__(cls, value: float, text: str) -> "_Number":
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


class _Loader(yaml.SafeLoader):
    """SafeLoader whose numbers carry their printed text (for the rounding of the flag rule)."""


def _float(loader: yaml.SafeLoader, node: yaml.Node) -> _Number:
    return _Number(yaml.SafeLoader.construct_yaml_float(loader, node), node.value)


def _int(loader: yaml.SafeLoader, node: yaml.Node) -> _Number:
    return _Number(float(yaml.SafeLoader.construct_yaml_int(loader, node)), node.value)


_Loader.add_constructor("tag:yaml.org,2002:float", _float)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)


def _decimals(value: float, text: str | None) -> int:
    """Digits after the decimal point as printed (``84.30`` -> 2, ``0`` -> 0, ``1.5e-3`` -> 4)."""
    for t in (text, repr(float(value))):
        if t is None:
            continue
        try:
            exp = Decimal(str(t).replace("_", "")).as_tuple().exponent
        except InvalidOperation:
            continue
        if isinstance(exp, int):
            return max(0, -exp)
    return 0


def load_published(path: str | Path = DEFAULT_PATH) -> list[dict[str, Any]]:
    """Read ``published.yaml`` (a mapping whose ``published`` key is the list of figures) and
    validate every entry (:func:`check_entry`); ids must be unique. Returns plain dicts with
    ``value`` a float and ``decimals`` the digits it was printed with."""
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise PublishedError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("published"), list):
        raise PublishedError(f"{path}: expected a mapping with a 'published' list of figures")
    out, seen = [], set()
    for i, raw in enumerate(doc["published"]):
        entry = check_entry(raw, where=f"{path}: entry #{i + 1}")
        if entry["id"] in seen:
            raise PublishedError(f"{path}: entry {entry['id']!r}: key 'id': the id is used twice")
        seen.add(entry["id"])
        out.append(entry)
    return out


def _plain(v: Any) -> Any:
    """Strip the printed-text subclass (and copy containers) so entries are plain data."""
    if isinstance(v, _Number):
        return float(v)
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v))


def check_entry(raw: Any, where: str = "entry") -> dict[str, Any]:
    """Validate one published figure and return it normalised (see ``published.yaml`` for the
    fields). Raises :class:`PublishedError` naming the entry id (or ``where`` without one) and the
    offending key."""
    if not isinstance(raw, Mapping):
        raise PublishedError(f"{where}: expected a mapping, got {type(raw).__name__}")
    name = f"entry {raw['id']!r}" if isinstance(raw.get("id"), str) else where

    def bad(key: str, msg: str) -> PublishedError:
        return PublishedError(f"{name}: key {key!r}: {msg}")

    for key in REQUIRED:
        if key not in raw or raw[key] is None:
            raise bad(key, "missing")
    unknown = sorted(set(raw) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise bad(unknown[0], f"unknown key (known: {', '.join(REQUIRED + OPTIONAL)})")
    for key in ("id", "group", "source", "method", "metric", "dataset_kind"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise bad(key, "must be a non-empty string")
    for key in ("id", "group"):
        if not _ID_RE.match(raw[key]):
            raise bad(key, f"{raw[key]!r} must be lower-case letters, digits and underscores")
    if raw["dataset_kind"] not in DATASET_KINDS:
        raise bad("dataset_kind", f"{raw['dataset_kind']!r} is not one of {', '.join(DATASET_KINDS)}")
    for key in ("subset", "score_set", "kind", "notes", "not_comparable"):
        if key in raw and raw[key] is not None and (not isinstance(raw[key], str) or not raw[key].strip()):
            raise bad(key, "must be a non-empty string")
    metric = raw["metric"]
    if metric not in METRIC_SCALES and not _F1_RE.match(metric):
        raise bad("metric", f"{metric!r} is not one of our metric columns ({', '.join(sorted(METRIC_SCALES))}, "
                            "f1@<k>_<abnormal|normal|all>)")
    if not _is_number(raw["value"]):
        raise bad("value", f"{raw['value']!r} is not a finite number")
    if raw["scale"] not in SCALES:
        raise bad("scale", f"{raw['scale']!r} is not one of {', '.join(SCALES)}")
    if (raw["scale"] == "count") != (our_scale(metric) == "count"):
        raise bad("scale", f"{raw['scale']!r} cannot be compared with {metric!r} (ours: {our_scale(metric)})")
    spread = raw.get("spread")
    if spread is not None:
        if not isinstance(spread, Mapping) or set(spread) - {"value", "kind"} or "value" not in spread:
            raise bad("spread", "must be a mapping {value: <number>, kind: <what the ± is>}")
        if not _is_number(spread["value"]) or float(spread["value"]) < 0:
            raise bad("spread", f"value {spread['value']!r} is not a number >= 0")
        if not isinstance(spread.get("kind"), str) or not spread["kind"].strip():
            raise bad("spread", "kind (what the ± is, e.g. 'std over 5 seeds') is missing")
    for key in ("tolerance", "decimals"):
        if raw.get(key) is not None and (not _is_number(raw[key]) or float(raw[key]) < 0):
            raise bad(key, f"{raw[key]!r} is not a number >= 0")
    proto = raw["protocol"]
    if not isinstance(proto, Mapping):
        raise bad("protocol", f"must be a mapping with {', '.join(PROTOCOL_FIELDS)}")
    for f in PROTOCOL_FIELDS:
        if f not in proto or not isinstance(proto[f], str) or not proto[f].strip():
            raise bad(f"protocol.{f}", f"missing (write {NOT_STATED!r} when the source does not say)")
    extra = sorted(set(proto) - set(PROTOCOL_FIELDS) - {"notes"})
    if extra:
        raise bad(f"protocol.{extra[0]}", f"unknown key (known: {', '.join(PROTOCOL_FIELDS)}, notes)")
    if proto["selection"] not in SELECTIONS:
        raise bad("protocol.selection", f"{proto['selection']!r} is not one of {', '.join(SELECTIONS)}")
    if not _CROP_RE.match(proto["crops"]):
        raise bad("protocol.crops", f"{proto['crops']!r} is not one of center, mean, all, none, crop:<k>, "
                                    f"region:<preset>, {NOT_STATED}")
    entry = _plain(raw)
    entry["value"] = float(raw["value"])
    if entry.get("decimals") is None:
        entry["decimals"] = _decimals(entry["value"], getattr(raw["value"], "text", None))
    entry["decimals"] = int(entry["decimals"])
    return entry


def applicable(published: Iterable[Mapping[str, Any]], dataset_kind: str, subset: str | None = None,
               methods: Iterable[str] | None = None, group: str | None = None) -> list[dict[str, Any]]:
    """The entries for one dataset, in file order.

    ``dataset_kind`` is the dataset's ``kind`` (``synthetic`` stands for ``ucf_crime``,
    :data:`STANDS_FOR`). ``subset`` narrows within a kind: an entry with a ``subset`` applies only
    when it equals the given one, an entry without one applies to every subset; ``subset=None``
    keeps every entry of the kind. Subsets in use: UCF-Crime's ``version`` (``v1``: the 290-video
    test set, ``v2``: Öztürk's UCF Crime V2) and UCSD's ``ped1`` / ``ped2``. ``methods`` keeps only
    the entries whose ``method`` is one of them (the instances the config defines), ``group`` only
    one group (a one-command target's seed or paper).
    """
    kind = STANDS_FOR.get(dataset_kind, dataset_kind)
    keep = None if methods is None else set(methods)
    out = []
    for e in published:
        if e["dataset_kind"] != kind:
            continue
        if subset is not None and e.get("subset") not in (None, subset):
            continue
        if keep is not None and e["method"] not in keep:
            continue
        if group is not None and e["group"] != group:
            continue
        out.append(dict(e))
    return out


# --------------------------------------------------------------------------- comparing


def our_scale(metric: str) -> str:
    """The scale of our value of ``metric``: ``fraction`` (AUC, AP, EER, ...), ``percent`` (F1@k,
    the ``*_pct`` video alarms) or ``count`` (confusion-matrix counts, alarms per hour)."""
    if _F1_RE.match(metric):
        return "percent"
    return METRIC_SCALES.get(metric, "fraction")


def _factor(src: str, dst: str) -> float:
    if src == dst:
        return 1.0
    if {src, dst} == {"fraction", "percent"}:
        return 100.0 if src == "fraction" else 0.01
    raise PublishedError(f"cannot convert {src} to {dst}")


def ours_key(entry: Mapping[str, Any]) -> str:
    """The method name our results use for this entry: ``method``, or ``method:score_set`` for a
    further score set (summary.csv's naming, e.g. ``svdd_cae:agg``)."""
    return f"{entry['method']}:{entry['score_set']}" if entry.get("score_set") else entry["method"]


def _norm(v: Any) -> str:
    return " ".join(str(v).split()).casefold()


def _stated(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and _norm(v) not in ("", NOT_STATED)


def protocol_differences(entry: Mapping[str, Any], ours: Mapping[str, Any] | None) -> list[str]:
    """The protocol fields that differ, as ``why`` phrases. A field the published side does not
    state (absent or ``not stated``) is not compared; a field it states and ours does not counts as
    differing. Values are compared case-insensitively with runs of white space collapsed. An entry
    marked ``not_comparable`` always differs (its reason is given)."""
    ours = ours or {}
    out = []
    for f in PROTOCOL_FIELDS:
        theirs = entry["protocol"].get(f)
        if not _stated(theirs):
            continue
        mine = ours.get(f)
        if not _stated(mine):
            out.append(f"{f}: theirs {theirs}, ours not stated")
        elif _norm(mine) != _norm(theirs):
            out.append(f"{f}: theirs {theirs}, ours {mine}")
    if entry.get("not_comparable"):
        out.append(f"not comparable: {entry['not_comparable']}")
    return out


def _ours(value: Any) -> tuple[float, float, int]:
    if value is None:
        return math.nan, math.nan, 0
    if _is_number(value):
        return float(value), math.nan, 1
    mean = value.get("mean")
    n = value.get("n", 1)
    std = value.get("std")
    mean = float(mean) if mean is not None else math.nan
    std = float(std) if std is not None else math.nan
    return mean, std, int(n) if n is not None and not (isinstance(n, float) and math.isnan(n)) else 0


def _fmt(v: float) -> str:
    return format(v, ".6g")


def reproduction_table(entries: Sequence[Mapping[str, Any]], ours: Mapping[tuple[str, str], Any],
                       protocols: Mapping[str, Mapping[str, Any]], synthetic: bool = False) -> pd.DataFrame:
    """One row per published figure (:data:`COLUMNS`), ours beside theirs.

    ``ours`` maps ``(method, metric)`` to ``{"mean": m, "std": s, "n": n}`` in **our** scale
    (:func:`our_scale`: fractions for AUC/AP/EER..., percent for F1@k), over ``n`` repeats; ``std``
    is NaN (or 0) for n = 1; a bare number counts as n = 1. ``method`` is :func:`ours_key` (the
    instance name, or ``instance:score_set``). ``protocols`` maps a method instance (or the
    ``instance:score_set`` key, looked up first) to our protocol: ``features``, ``crops``,
    ``selection``, ``test_set`` in ``published.yaml``'s vocabulary.

    All numbers of a row are in the published figure's scale (``scale``): ``ours_mean`` and
    ``ours_std`` are converted (fraction x 100 = percent) before ``gap = ours_mean - published``.

    **The flag rule.** A row's ``flag`` is ``flagged`` exactly when

    - ``|gap| > spread + ε``, where ``spread = max(our std, the published ±, the entry's
      tolerance) + half a unit of the published value's last printed digit`` (each term 0 when
      absent: our std for n = 1, the ± when the source gives none, the tolerance when the docs set
      none; 84.30 adds 0.005, 0.748 adds 0.0005) and ``ε = 1e-9·max(1, |published|)`` absorbs
      float rounding; so with n = 1 and no published spread, any gap beyond the printed rounding
      is flagged, and a gap within it never is; or
    - the protocol differs (:func:`protocol_differences`: features, crops, selection or test set
      that the source states and ours lacks or states otherwise; or an entry marked
      ``not_comparable``), even with a zero gap.

    Otherwise the flag is ``ok``. ``why`` names every reason (the gap against the spread and its
    parts, each differing field with both values). A figure we have no value for gets
    ``no result`` (and the protocol reasons, if any). With ``synthetic=True`` every row is
    ``not comparable (synthetic)``: the published columns and our numbers are kept, ``gap`` and
    ``spread`` are left empty (a gap between synthetic and real data means nothing) and ``why``
    says so.
    """
    rows = []
    for raw in entries:
        e = check_entry(raw)
        key = ours_key(e)
        scale, metric = e["scale"], e["metric"]
        k = _factor(our_scale(metric), scale)
        mean, std, n = _ours(ours.get((key, metric)))
        mean, std = mean * k, std * k
        pub = e["value"]
        pub_spread = float(e["spread"]["value"]) if e.get("spread") else math.nan
        tol = float(e["tolerance"]) if e.get("tolerance") is not None else 0.0
        half = 0.5 * 10.0 ** (-e["decimals"])
        our_sd = 0.0 if math.isnan(std) else abs(std)
        spread = max(our_sd, 0.0 if math.isnan(pub_spread) else pub_spread, tol) + half
        # a metric of a kind's own protocol (LOF's thesis snippets) may have a protocol of its own
        proto = protocols.get((key, metric), protocols.get(key, protocols.get(e["method"])))
        diffs = protocol_differences(e, proto)
        gap = mean - pub
        why: list[str] = []
        if synthetic:
            flag = FLAG_SYNTHETIC
            why = [f"synthetic data: the published value is for {e['protocol']['test_set']}, shown for reference only"]
            gap = spread = math.nan
        elif math.isnan(mean):
            flag = FLAG_MISSING
            why = [f"no result of ours for {key} {metric}"] + diffs
            gap = math.nan
        else:
            beyond = abs(gap) > spread + 1e-9 * max(1.0, abs(pub))
            if beyond:
                parts = [f"our std {_fmt(our_sd)} over {n} repeats" if n > 1 else f"n = {n}"]
                if not math.isnan(pub_spread):
                    parts.append(f"published ±{_fmt(pub_spread)}")
                if tol:
                    parts.append(f"tolerance {_fmt(tol)}")
                parts.append(f"printed rounding {_fmt(half)}")
                why.append(f"gap {gap:+.6g} beyond spread {_fmt(spread)} ({', '.join(parts)})")
            why += diffs
            flag = FLAG_FLAGGED if beyond or diffs else FLAG_OK
        p = e["protocol"]
        rows.append({
            "id": e["id"], "group": e["group"], "method": key, "metric": metric, "scale": scale,
            "published": pub, "published_spread": pub_spread, "source": e["source"],
            "their_features": p["features"], "their_crops": p["crops"], "their_selection": p["selection"],
            "their_test_set": p["test_set"], "ours_mean": mean, "ours_std": std, "n_repeats": n, "gap": gap,
            "spread": spread, "flag": flag, "why": "; ".join(why), "notes": e.get("notes", ""),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


# --------------------------------------------------------------------------- our protocol tokens


def feature_token(extractor: Mapping[str, Any]) -> str:
    """One of our extractors (a ``features.<name>`` or ``frames.<name>`` config section, merged)
    in ``published.yaml``'s feature vocabulary. Random-initialised weights give ``random_init:...``,
    which matches no published figure; weight-free features give their backbone name (``flow``)."""
    source = extractor.get("source", "extract")
    if source == "import":
        fmt = extractor.get("format")
        return {"rtfm_npy": "i3d_resnet50", "crop_npy": "i3d_inception", "urdmu_npy": "i3d_inception",
                "sultani_txt": "c3d_sports1m"}.get(fmt, f"imported:{fmt}")
    if source == "lstm":
        return f"xception_imagenet_lstm{extractor.get('hidden', 1024)}"
    backbone = extractor.get("backbone")
    if backbone is None and ("size" in extractor or "preset" in extractor):
        color = extractor.get("color") or ("gray" if extractor.get("preset") in ("ped1", "ped2", "subway") else "rgb")
        size = extractor.get("size", 128)
        return f"pixels_{color}_{size[0] if isinstance(size, (list, tuple)) else size}"
    token = {"i3d": "i3d_inception", "i3d_map": "i3d_inception_maps", "c3d": "c3d_sports1m",
             "r2plus1d_50": "r2plus1d_50_kinetics700", "resnet50_2d": "resnet50_imagenet"}.get(backbone, str(backbone))
    if backbone != "flow" and extractor.get("weights", "random") in (None, "random"):
        return f"random_init:{token}"
    return token


def crop_token(extractor: Mapping[str, Any]) -> str:
    """How our extractor crops, in ``published.yaml``'s crop vocabulary: imported crop files keep
    their ``crops`` (``mean`` by default, ``all``, or ``crop:<k>``); a frame cache with a thesis
    preset gives ``region:<preset>``; an extractor that squashes to its crop size gives ``none``,
    one that crops inside a larger resize ``center``."""
    if extractor.get("source", "extract") == "import":
        crops = extractor.get("crops", "mean")
        return f"crop:{crops}" if isinstance(crops, int) else str(crops)
    preset = extractor.get("preset")
    if preset is not None and extractor.get("backbone") is None:
        return f"region:{preset}" if preset in ("ped1", "ped2", "avenue", "subway") else "none"
    crop, resize = extractor.get("crop"), extractor.get("resize")
    if crop is None:
        return "none"
    sides = list(resize) if isinstance(resize, (list, tuple)) else None
    if sides is not None and all(int(s) == int(crop) for s in sides):
        return "none"
    return "center"


# --------------------------------------------------------------------------- writing

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:90%}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}tr.flagged td{background:#fee}tr.synthetic td{color:#666}
tr.missing td{font-style:italic;color:#666}.warn{border:2px solid #c00;background:#fee;padding:0.6em 1em;margin:1em 0}"""

FLAG_MEANING = ("A row is <b>flagged</b> when our mean differs from the published value by more than the spread "
                "(the largest of our standard deviation over repeats, the published ± and the accepted tolerance, "
                "plus half a unit of the published value's last printed digit), or when the protocol differs "
                "(features, crops, checkpoint selection or test set, as far as the source states them). A flag says "
                "the two numbers should not be read as equal; the <i>why</i> column says which reason applies.")


def _num(v: Any, scale: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    v = float(v)
    if scale == "count":
        return f"{v:.0f}"
    return f"{v:.2f}" if scale == "percent" else f"{v:.4f}"


def table_fragment(df: pd.DataFrame) -> str:
    """The table of :func:`write_reproduction`'s page with its explanation, for report.html."""
    head = ["method", "metric", "published", "source", "their features / crops / selection / test set",
            "ours (mean ± std, n)", "gap", "flag", "why"]
    body = []
    for r in df.to_dict("records"):
        scale = r["scale"]
        pub = _fmt(r["published"]) if scale != "count" else f"{r['published']:.0f}"
        if not pd.isna(r["published_spread"]):
            pub += f" ± {_fmt(r['published_spread'])}"
        if pd.isna(r["ours_mean"]):
            ours = "–"
        else:
            ours = _num(r["ours_mean"], scale)
            if not pd.isna(r["ours_std"]) and int(r["n_repeats"]) > 1:
                ours += f" ± {_num(r['ours_std'], scale)}"
            ours += f" (n = {int(r['n_repeats'])})"
        gap = "–" if pd.isna(r["gap"]) else ("+" if r["gap"] >= 0 else "") + _num(r["gap"], scale)
        proto = " / ".join(str(r[c]) for c in ("their_features", "their_crops", "their_selection", "their_test_set"))
        cls = {FLAG_FLAGGED: "flagged", FLAG_SYNTHETIC: "synthetic", FLAG_MISSING: "missing"}.get(r["flag"], "")
        cells = [(r["method"], True), (f"{r['metric']} ({scale})", True), (pub, False), (r["source"], True),
                 (proto, True), (ours, False), (gap, False), (r["flag"], True), (r["why"] or "", True)]
        tds = "".join(f"<td{' class=l' if left else ''}>{html.escape(str(t))}</td>" for t, left in cells)
        note = f' title="{html.escape(str(r["notes"]))}"' if r.get("notes") and not pd.isna(r["notes"]) else ""
        body.append(f"<tr class='{cls}'{note}>{tds}</tr>")
    ths = "".join(f"<th class=l>{html.escape(h)}</th>" for h in head)
    parts = []
    if (df["flag"] == FLAG_SYNTHETIC).any():
        parts.append("<div class=warn>These are results on <b>synthetic</b> data: the published values are "
                     "shown beside ours for orientation only and are not comparable.</div>")
    counts = df["flag"].value_counts()
    parts.append(f"<p>{FLAG_MEANING}</p><p>{len(df)} published figures: "
                 + ", ".join(f"{int(counts.get(f, 0))} {f}" for f in (FLAG_OK, FLAG_FLAGGED, FLAG_MISSING, FLAG_SYNTHETIC)
                             if counts.get(f, 0)) + ". Numbers are in each figure's published scale.</p>")
    parts.append(f"<table><thead><tr>{ths}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    return "".join(parts)


def test_set_token(kind: str, subset: str | None, n_test: int) -> str:
    """Our test set in ``published.yaml``'s vocabulary: the dataset kind, its subset and how many
    test videos the evaluation pooled (a UCF-Crime test set missing videos is another test set)."""
    if kind == "ucf_crime":
        return "ucf_crime_v2_test" if subset == "v2" else f"ucf_crime_test_{n_test}"
    if kind == "ucsd":
        return f"{subset or 'ucsd'}_test_{n_test}"
    if kind == "avenue":
        return f"avenue_test_{n_test}"
    if kind == "shanghaitech":
        return "shanghaitech_weak_split" if n_test == 107 else f"shanghaitech_test_{n_test}"
    if kind == "xd_violence":
        return "xd_violence_test" if n_test == 800 else f"xd_violence_test_{n_test}"
    return f"{kind}_test_{n_test}"


def ours_from_summary(summary: pd.DataFrame, thesis_seeds: Mapping[str, int] | None = None) -> dict[tuple[str, str], dict[str, float]]:
    """``(method, metric) -> {mean, std, n}`` from a summary table (report.summarise): a repeated
    method's mean with its std over ``n_repeats``; a kind's own protocol (LOF's thesis snippets)
    with its std over its ``thesis_seeds[method]`` seeds."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    rows = summary[summary["metric"] != "left_out"]
    for r in rows.to_dict("records"):
        if r["metric"] == "thesis_snippet_auc_std" or str(r["metric"]).startswith("headline:"):
            continue
        n = r.get("n_repeats")
        std = r.get("std")
        out[(r["method"], r["metric"])] = {"mean": float(r["value"]), "std": float(std) if std is not None and not pd.isna(std) else math.nan,
                                           "n": int(n) if n is not None and not pd.isna(n) else 1}
    for r in rows[rows["metric"] == "thesis_snippet_auc_std"].to_dict("records"):
        key = (r["method"], "thesis_snippet_auc")
        if key in out:
            out[key].update(std=float(r["value"]), n=int((thesis_seeds or {}).get(r["method"], 1)))
    return out


def _html(df: pd.DataFrame, title: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{table_fragment(df)}</body></html>")


def write_reproduction(df: pd.DataFrame, csv_path: str | Path, html_path: str | Path | None, title: str) -> None:
    """Write the table as CSV (:data:`COLUMNS`) and, when ``html_path`` is given, a self-contained
    HTML page (ours beside theirs, flagged rows highlighted, what "flagged" means). Both writes are
    atomic (:func:`vadflow.io.atomic_path`)."""
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    if html_path is not None:
        with atomic_path(html_path) as tmp:
            tmp.write_text(_html(df, title), encoding="utf-8")
