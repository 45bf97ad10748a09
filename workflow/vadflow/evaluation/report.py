"""``summary.csv`` (one row per method and metric) and a self-contained ``report.html``."""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Sequence

import pandas as pd

from vadflow.io import atomic_path

AUC_METRICS = ("auc", "ap", "eer", "far", "alarms_normal_pct", "alarms_anomalous_pct", "vl_f1", "false_alarms_per_hour",
               "frame_accuracy", "frame_f1")


THESIS_METRICS = ("thesis_snippet_auc", "thesis_snippet_auc_std")
#: videos a method left out (MIL ``short_videos: skip_like_seed001``): skipped test videos are
#: scored 0 in the frame metrics and left out of the video-level ones.
SKIP_METRICS = ("n_skipped_test", "n_skipped_train")


def summarise(auc_csvs: Sequence[str | Path], f1_csvs: Sequence[str | Path],
              thesis_csvs: Sequence[str | Path] = ()) -> pd.DataFrame:
    """Long table ``method, metric, value`` from the per-method metric files; a LOF thesis
    protocol file contributes its mean-over-seeds snippet AUC and its std."""
    rows = []
    for path in thesis_csvs:
        df = pd.read_csv(path, dtype={"seed": str})
        for rec in df[df["seed"] == "mean"].to_dict("records"):
            rows += [{"method": rec["method"], "metric": m, "value": rec[c]}
                     for m, c in zip(THESIS_METRICS, ("auc", "auc_std"))]
    for path in auc_csvs:
        df = pd.read_csv(path)
        for rec in df.to_dict("records"):
            rows += [{"method": rec["method"], "metric": m, "value": rec[m]} for m in AUC_METRICS + SKIP_METRICS if m in rec]
    for path in f1_csvs:
        df = pd.read_csv(path)
        for rec in df.to_dict("records"):
            rows.append({"method": rec["method"], "metric": f"f1@{rec['k']:g}_{rec['report']}", "value": rec["f1"]})
    return pd.DataFrame(rows, columns=["method", "metric", "value"])


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


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img src="data:image/png;base64,{data}" style="max-width:100%"><figcaption>{html.escape(path.parent.name)}</figcaption></figure>'


def realtime_section(files: Sequence[str | Path]) -> list[str]:
    """The realtime methods' SAS video-level metrics ({method}_vl.csv) and cost (resources.json)."""
    import json

    vl = [pd.read_csv(p) for p in files if str(p).endswith("_vl.csv")]
    res = [json.loads(Path(p).read_text()) for p in files if str(p).endswith(".json")]
    if not vl and not res:
        return []
    parts = ["<h2>Real-time two-stream method: video level and cost</h2>",
             "<p>Video-level decisions from the sigmoidal anomaly score (a video is flagged when s<sub>t</sub> &gt; 0.5 at some "
             "update; specs/realtime.md §7-§8). Cost per frame at batch 1 (§10), measured on the machine that ran the job.</p>"]
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
                 realtime: Sequence[str | Path] = ()) -> pd.DataFrame:
    summary = summarise(auc_csvs, f1_csvs, thesis_csvs)
    notes = skipped_notes(auc_csvs)
    with atomic_path(out_csv) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    wide = summary.pivot(index="method", columns="metric", values="value")
    frame_cols = [c for c in AUC_METRICS if c in wide.columns]
    order = {"abnormal": 0, "normal": 1, "all": 2}
    f1_cols = sorted((c for c in wide.columns if c.startswith("f1@")),
                     key=lambda c: (order.get(c.split("_", 1)[1], 3), float(c[3:].split("_", 1)[0])))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>vadflow report: {html.escape(dataset)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>",
        f"<h1>vadflow report: {html.escape(dataset)}</h1>",
        "<h2>Frame-level metrics (pooled over test videos)</h2>",
        wide[frame_cols].to_html(float_format=lambda v: f"{v:.4f}"),
        *(["<h2>Skipped videos</h2><ul>", *(f"<li>{html.escape(n)}</li>" for n in notes), "</ul>"] if notes else []),
        "<h2>Segment F1@k</h2><p>Read the abnormal columns first: predicting everything normal scores well on <i>all</i>.</p>",
        wide[f1_cols].to_html(float_format=lambda v: f"{v:.2f}"),
        *(["<h2>LOF thesis protocol</h2><p>Snippet-level ROC-AUC on the annotated test videos, mean and std over seeds "
           "(specs/lof.md): not comparable with the frame-level table above.</p>",
           wide[[c for c in THESIS_METRICS if c in wide.columns]].dropna(how="all").to_html(float_format=lambda v: f"{v:.4f}")]
          if "thesis_snippet_auc" in wide.columns else []),
        *realtime_section(realtime),
        "<h2>Timelines</h2>",
        *(_img(Path(p)) for p in images),
        "</body></html>",
    ]
    with atomic_path(out_html) as tmp:
        tmp.write_text("\n".join(parts))
    return summary
