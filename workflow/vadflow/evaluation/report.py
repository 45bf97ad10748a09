"""``summary.csv`` and one self-contained ``report.html`` over every evaluated method.

``summary.csv`` is long: ``method, metric, value`` rows for every metric, the number of
videos each method was evaluated on (``n_videos_evaluated``, ``n_videos_left_out``), and one
``left_out`` row per test video a method could not be evaluated on, with the video, its
status and the error in the ``video, status, error`` columns (empty on metric rows).

The report embeds its figures as PNG data URIs, so the one file can be mailed or copied off
a cluster; it opens with what a reader must know before quoting a number (random-init
features, videos left out) and ends with each method's provenance.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from vadflow.evaluation.plots import curves_figure, figure_png, per_class_figure
from vadflow.io import atomic_path
from vadflow.provenance import RANDOM_INIT

AUC_METRICS = ("auc", "ap", "eer", "far", "alarms_normal_pct", "alarms_anomalous_pct", "vl_f1", "false_alarms_per_hour",
               "frame_accuracy", "frame_f1", "wavg_f1", "ap_trapz", "auc_a")
#: the row prefix naming a method's headline metric (``headline:<metric>``, its value) in summary.csv.
HEADLINE_ROW = "headline:"
#: what the report says of each headline (docs/metrics.md §12, docs/datasets_xd_violence.md §5).
HEADLINE_NOTE = {
    "auc": "frame AUC (pooled ROC-AUC), as the UCF-Crime and ShanghaiTech papers report it",
    "ap_trapz": ("frame AP as the trapezoid area auc(recall, precision) (column ap_trapz): the AP of the XD-Violence "
                 "paper (XDVioDet), RTFM, UR-DMU, MGFN, CLIP-TSA, PEL4VAD and BN-WVAD. Column ap is the step-wise "
                 "average_precision_score, the AP VadCLIP reports; the two differ, so compare each only with papers of its kind"),
}

THESIS_METRICS = ("thesis_snippet_auc", "thesis_snippet_auc_std")
#: videos a method left out (MIL ``short_videos: skip_like_seed001``): skipped test videos are
#: scored 0 in the frame metrics and left out of the video-level ones.
SKIP_METRICS = ("n_skipped_test", "n_skipped_train")

SUMMARY_COLUMNS = ["method", "metric", "value", "video", "status", "error", "test_selected", "std", "n_repeats"]

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.warn{border:2px solid #c00;background:#fee;padding:0.6em 1em;margin:1em 0}
figure{display:inline-block;margin:0.5em 1em 0.5em 0;vertical-align:top}figcaption{font-size:90%;color:#555}"""


def _load_details(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    return [json.loads(Path(p).read_text()) for p in paths]


def summarise(auc_csvs: Sequence[str | Path], f1_csvs: Sequence[str | Path],
              thesis_csvs: Sequence[str | Path] = (), details: Sequence[dict[str, Any]] = ()) -> pd.DataFrame:
    """Long table (:data:`SUMMARY_COLUMNS`) from the per-method metric files and, when given,
    the evaluation details (videos evaluated and left out); a LOF thesis protocol file
    contributes its mean-over-seeds snippet AUC and its std."""
    rows = []
    for path in thesis_csvs:
        df = pd.read_csv(path, dtype={"seed": str})
        for rec in df[df["seed"] == "mean"].to_dict("records"):
            rows += [{"method": rec["method"], "metric": m, "value": rec[c]}
                     for m, c in zip(THESIS_METRICS, ("auc", "auc_std"))]
    for path in auc_csvs:
        for rec, spread in _over_repeats(pd.read_csv(path, dtype={"repeat": str}), ("score_set",)):
            # A method's further score sets (other protocols) are rows "<method>:<set>".
            name = rec["method"] if _true(rec.get("headline", True)) else f"{rec['method']}:{rec['score_set']}"
            rows += [{"method": name, "metric": m, "value": rec[m], "test_selected": _flag(rec), **spread(m)}
                     for m in AUC_METRICS + SKIP_METRICS if m in rec]
            if isinstance(rec.get("headline_metric"), str):
                rows.append({"method": name, "metric": HEADLINE_ROW + rec["headline_metric"], "value": rec["headline_value"],
                             "test_selected": _flag(rec), **spread("headline_value")})
    for path in f1_csvs:
        for rec, spread in _over_repeats(pd.read_csv(path, dtype={"repeat": str}), ("k", "report")):
            rows.append({"method": rec["method"], "metric": f"f1@{rec['k']:g}_{rec['report']}", "value": rec["f1"],
                         "test_selected": _flag(rec), **spread("f1")})
    for d in details:
        rows.append({"method": d["method"], "metric": "n_videos_evaluated", "value": d["n_evaluated"]})
        rows.append({"method": d["method"], "metric": "n_videos_left_out", "value": len(d["left_out"])})
        rows += [{"method": d["method"], "metric": "left_out", "video": v["id"], "status": v["status"], "error": v["error"]}
                 for v in d["left_out"]]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _true(v: Any) -> bool:
    return v in (True, "True", 1)


def _over_repeats(df: pd.DataFrame, keys: tuple[str, ...]):
    """The rows a summary reports of one metric table, each with a function giving a metric's
    spread: a repeated method's ``mean`` rows with the ``std`` row beside them and the repeat
    count (its per-repeat rows stay in its CSV), or every row of a method run once."""
    if "repeat" not in df.columns:
        for rec in df.to_dict("records"):
            yield rec, lambda m: {}
        return
    n = int(df["repeat"].str.isdigit().sum() // max(1, len(df[df["repeat"] == "mean"])))
    std = {tuple(r[k] for k in keys): r for r in df[df["repeat"] == "std"].to_dict("records")}
    for rec in df[df["repeat"] == "mean"].to_dict("records"):
        s = std.get(tuple(rec[k] for k in keys), {})
        yield rec, (lambda m, s=s: {"std": s.get(m), "n_repeats": n})


def _flag(rec: dict[str, Any]) -> bool:
    """Whether a metric row comes from a model whose checkpoint was chosen on the test videos."""
    return _true(rec.get("test_selected", False))


def test_selected(summary: pd.DataFrame) -> list[str]:
    """Methods whose numbers come from a checkpoint chosen on the test videos (``select: test_best``)."""
    return list(dict.fromkeys(summary.loc[summary["test_selected"] == True, "method"]))  # noqa: E712 (NaN-safe)


def skipped_notes(auc_csvs: Sequence[str | Path]) -> list[str]:
    """One sentence per method that skipped videos: how many, and why (its auc file's reason)."""
    notes = []
    for path in auc_csvs:
        for rec in pd.read_csv(path, keep_default_na=False).to_dict("records"):
            n_test, n_train = int(rec.get("n_skipped_test") or 0), int(rec.get("n_skipped_train") or 0)
            if n_test or n_train:
                notes.append(f"{rec['method']}: {n_test} of {rec.get('n_videos', '?')} test and {n_train} training videos "
                             f"skipped: {rec.get('skipped_reason') or 'no reason recorded'}. Skipped test videos score 0 "
                             "in the frame metrics and are left out of the video-level alarm percentages and VL-F1.")
    return notes


def headline_sentence(auc_csvs: Sequence[str | Path]) -> str:
    """Which metric this dataset leads with, and which papers each AP is comparable with ("" for
    auc files written before the headline column existed)."""
    names = {str(rec["headline_metric"]) for p in auc_csvs for rec in pd.read_csv(p).to_dict("records")
             if isinstance(rec.get("headline_metric"), str)}
    return "; ".join(f"Headline metric of this dataset: {HEADLINE_NOTE.get(n, n)}." for n in sorted(names))


def _table(df: pd.DataFrame, fmt: str = "{:.4f}", left: Sequence[str] = ()) -> str:
    """An HTML table with exactly one header row (the column names), numbers as ``fmt``,
    missing values as an en dash; text columns ``left`` are left-aligned."""
    head = "".join(f"<th{' class=l' if c in left else ''}>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for rec in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, rec):
            if v is None or (isinstance(v, float) and pd.isna(v)):
                text = "–"
            elif isinstance(v, float):
                text = fmt.format(v)
            else:
                text = str(v)
            cells.append(f"<td{' class=l' if c in left else ''}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(png: bytes, caption: str, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" style="max-width:100%">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _videos_section(details: Sequence[dict[str, Any]]) -> list[str]:
    counts = pd.DataFrame([{"method": d["method"], "evaluated": d["n_evaluated"], "left out": len(d["left_out"])}
                           for d in details], columns=["method", "evaluated", "left out"])
    parts = ["<h2>Videos evaluated</h2>",
             "<p>Test videos each method's metrics are computed on. A video is left out when it could not be "
             "decoded or had no features; every number below is over the evaluated videos only.</p>",
             _table(counts, left=("method",))]
    by_video: dict[str, dict[str, Any]] = {}
    for d in details:
        for v in d["left_out"]:
            by_video.setdefault(v["id"], {**v, "methods": []})["methods"].append(d["method"])
    if not by_video:
        return parts + ["<p>No test video was left out.</p>"]
    every = {d["method"] for d in details}
    rows = [{"video": v["id"], "class": v["cls"], "status": v["status"], "error": v["error"],
             "left out by": "all methods" if set(v["methods"]) == every else ", ".join(v["methods"])}
            for v in by_video.values()]
    return parts + [f"<h3>Left out ({len(rows)})</h3>",
                    _table(pd.DataFrame(rows), left=("video", "class", "status", "error", "left out by"))]


def _provenance_section(details: Sequence[dict[str, Any]]) -> list[str]:
    rows = []
    for d in details:
        p = d.get("provenance", {})
        weights = p.get("feature_weights", "unknown")
        rows.append({"method": d["method"], "kind": p.get("kind", ""), "features": p.get("features", ""),
                     "backbone": p.get("backbone", ""),
                     "weights": f"{weights}: not comparable to published numbers" if weights == RANDOM_INIT else weights,
                     "detections": p.get("detections", ""), "crops": p.get("crops", ""),
                     "feature alignment": p.get("feature_alignment", ""),
                     "feature config hash": p.get("feature_config_hash", ""), "method config hash": p.get("config_hash", ""),
                     "package versions": ", ".join(f"{k} {v}" for k, v in sorted(json.loads(p.get("versions", "{}")).items()))})
    cols = list(rows[0]) if rows else []
    return ["<h2>Provenance</h2>",
            "<p>What each method's scores were made from: its feature extractor and the backbone's weights (sha256 "
            "of the checkpoint, or random-init), the detector behind its objects, the hashes of the feature and method config sections, and the "
            "package versions of the score job.</p>",
            _table(pd.DataFrame(rows, columns=cols), left=cols)]


def _random_init_banner(details: Sequence[dict[str, Any]]) -> list[str]:
    rand = [d["method"] for d in details if d.get("provenance", {}).get("feature_weights") == RANDOM_INIT]
    if not rand:
        return []
    return [f"<div class='warn'><b>Not comparable to published numbers:</b> the features of {html.escape(', '.join(rand))} "
            "come from randomly initialised backbones (weights: <b>random-init</b>), because no pretrained checkpoint "
            "was configured. Use these results to check the pipeline, not to compare methods with the literature.</div>"]


def outputs_section(video_level: Sequence[str | Path], resources: Sequence[str | Path]) -> list[str]:
    """The methods' ``video_level`` outputs (SAS decisions, {method}_vl.csv) and ``resources``
    outputs (cost of the online pipeline, resources.json)."""
    import json

    vl = [pd.read_csv(p) for p in video_level]
    res = [json.loads(Path(p).read_text()) for p in resources]
    if not vl and not res:
        return []
    parts = ["<h2>Video-level decisions and cost</h2>",
             "<p>Video-level decisions from the sigmoidal anomaly score (a video is flagged when s<sub>t</sub> &gt; 0.5 at some "
             "update; docs/methods/realtime.md §7-§8). Cost per frame at batch 1 (§10), measured on the machine that ran the job.</p>"]
    if vl:
        parts.append(pd.concat(vl).set_index("method").to_html(float_format=lambda v: f"{v:.4f}"))
    for doc in res:
        rows = [{"stage": k, "frames/s": v["fps"], "ms/frame": v["ms_per_frame"]} for k, v in doc["stages"].items()]
        notes = [n for n in (doc.get("note"), f"bag of objects: {doc['bag']}" if doc.get("bag") else "no bag of objects",
                             doc.get("bag_note")) if n]
        parts += [f"<h3>{html.escape(doc['method'])}: {doc['streams']} stream(s), input {doc['input_size'][0]}x{doc['input_size'][1]}, "
                  f"{html.escape(doc['device'])}</h3>",
                  f"<p>{html.escape('; '.join(notes))}. Parameters: "
                  + ", ".join(f"{k} {v:,}" for k, v in doc["params"].items())
                  + ". FLOPs per frame: " + ", ".join(f"{k} {v / 1e9:.3f} G" for k, v in doc["flops_per_frame"].items())
                  + f". Peak memory {doc['peak_memory_mb']} MB.</p>",
                  pd.DataFrame(rows).set_index("stage").to_html(float_format=lambda v: f"{v:.2f}")]
    return parts


def write_report(auc_csvs: Sequence[str | Path], f1_csvs: Sequence[str | Path], out_csv: str | Path, out_html: str | Path,
                 images: Sequence[str | Path] = (), dataset: str = "", thesis_csvs: Sequence[str | Path] = (),
                 per_class_csvs: Sequence[str | Path] = (), details: Sequence[str | Path] = (),
                 video_level: Sequence[str | Path] = (), resources: Sequence[str | Path] = (),
                 reproduction_html: str | None = None) -> pd.DataFrame:
    """summary.csv and report.html; ``reproduction_html``: the published figures beside ours
    (evaluation/reproduction.py), shown as a section of its own."""
    det = _load_details(details)
    summary = summarise(auc_csvs, f1_csvs, thesis_csvs, det)
    notes = skipped_notes(auc_csvs)
    with atomic_path(out_csv) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    metrics = summary[summary["metric"] != "left_out"]
    wide = metrics.pivot(index="method", columns="metric", values="value")
    wide = wide.reindex([m for m in dict.fromkeys(metrics["method"])])  # the config's method order
    spread = metrics.pivot(index="method", columns="metric", values="std").reindex(wide.index)
    chosen_on_test = test_selected(summary)
    # every table row of a test-selected model says so
    marked = {m: f"{m} (test-selected)" for m in chosen_on_test}
    wide, spread = wide.rename(index=marked), spread.rename(index=marked)
    frame_cols = [c for c in AUC_METRICS if c in wide.columns]
    order = {"abnormal": 0, "normal": 1, "all": 2}
    f1_cols = sorted((c for c in wide.columns if c.startswith("f1@")),
                     key=lambda c: (order.get(c.split("_", 1)[1], 3), float(c[3:].split("_", 1)[0])))

    def cols(names: Sequence[str], fmt: str = "{:.4f}") -> pd.DataFrame:
        """The metric columns ``names``; a repeated method's cells read mean ± std over its repeats."""
        df = wide[list(names)].astype(object)
        for m in df.index:
            for c in df.columns:
                s = spread.at[m, c] if c in spread.columns else float("nan")
                if pd.notna(s) and pd.notna(df.at[m, c]):
                    df.at[m, c] = f"{fmt.format(float(df.at[m, c]))} ± {fmt.format(float(s))}"
        return df.reset_index().rename_axis(columns=None)

    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>vadflow report: {html.escape(dataset)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>vadflow report: {html.escape(dataset)}</h1>",
        *_random_init_banner(det),
        *([f"<div class='warn'><b>Checkpoints chosen on the test set:</b> {html.escape(', '.join(chosen_on_test))} "
           "kept the training step with the best score on the <i>test</i> videos (<code>select: test_best</code>, the "
           "protocol of the original RTFM, UR-DMU and MGFN code). Their numbers are marked (test-selected) and are not "
           "comparable with models selected without the test labels.</div>"] if chosen_on_test else []),
        *(_videos_section(det) if det else []),
        "<h2>Frame-level metrics (pooled over test videos)</h2>",
        *([f"<p>{html.escape(head)}</p>"] if (head := headline_sentence(auc_csvs)) else []),
        _table(cols(frame_cols), left=("method",)),
        *(["<h2>Skipped videos</h2><ul>", *(f"<li>{html.escape(n)}</li>" for n in notes), "</ul>"] if notes else []),
    ]
    if det:
        parts += ["<h2>ROC and precision-recall curves</h2>",
                  _img(figure_png(curves_figure(det, "roc")), "Pooled frame-level ROC, every method", "ROC curves"),
                  _img(figure_png(curves_figure(det, "pr")), "Pooled frame-level precision-recall, every method",
                       "precision-recall curves")]
    if per_class_csvs:
        pc = pd.concat([pd.read_csv(p, dtype={"repeat": str}) for p in per_class_csvs], ignore_index=True)
        if "repeat" in pc.columns:  # a repeated method: the mean over its repeats
            pc = pc[pc["repeat"].isna() | (pc["repeat"] == "mean")]
        grid = pc.pivot(index="cls", columns="method", values="auc")
        grid = grid[[m for m in dict.fromkeys(pc["method"])]].rename_axis(index=None, columns=None)
        parts += ["<h2>Per-class frame AUC</h2>",
                  "<p>Each anomaly class's test videos pooled with all normal test videos (docs/metrics.md §3.4).</p>",
                  _img(figure_png(per_class_figure(grid)), "Per-class AUC (rows: classes, columns: methods)",
                       "per-class AUC heatmap"),
                  _table(grid.rename_axis(index="class").reset_index(), left=("class",))]
    parts += ["<h2>Segment F1@k</h2><p>Read the abnormal columns first: predicting everything normal scores well on "
              "<i>all</i>.</p>", _table(cols(f1_cols, "{:.2f}"), fmt="{:.2f}", left=("method",))]
    if "thesis_snippet_auc" in wide.columns:
        parts += ["<h2>LOF thesis protocol</h2><p>Snippet-level ROC-AUC on the annotated test videos, mean and std over "
                  "seeds (docs/methods/lof.md): not comparable with the frame-level table above.</p>",
                  _table(cols([c for c in THESIS_METRICS if c in wide.columns]).dropna(subset=["thesis_snippet_auc"]),
                         left=("method",))]
    parts += outputs_section(video_level, resources)
    if reproduction_html:
        parts += ["<h2>Published figures beside ours</h2>", reproduction_html]
    if det:
        parts += _provenance_section(det)
    parts += ["<h2>Timelines</h2>",
              *(_img(Path(p).read_bytes(), Path(p).parent.name, f"score timelines of {Path(p).parent.name}") for p in images),
              "</body></html>"]
    with atomic_path(out_html) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return summary
