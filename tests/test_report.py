"""summary.csv (long: method, metric, value) and report.html from per-method metric files."""
from __future__ import annotations

import re

import pandas as pd

from vadflow.evaluation.report import write_report


def test_summary_and_report(tmp_path):
    auc, f1 = [], []
    for m, a in (("adnet", 0.75), ("mlp", 0.6)):
        pd.DataFrame([{"method": m, "auc": a, "ap": a / 2, "eer": 0.3, "far": 0.1}]).to_csv(tmp_path / f"{m}_auc.csv", index=False)
        rows = [{"method": m, "report": r, "k": k, "tp": 1, "fp": 1, "fn": 0, "precision": 0.5, "recall": 1.0, "f1": 10 * k + i}
                for i, r in enumerate(("abnormal", "normal", "all")) for k in (10, 25, 50)]
        pd.DataFrame(rows).to_csv(tmp_path / f"{m}_f1.csv", index=False)
        auc.append(tmp_path / f"{m}_auc.csv")
        f1.append(tmp_path / f"{m}_f1.csv")
    summary = write_report(auc, f1, tmp_path / "summary.csv", tmp_path / "report.html", dataset="toy")
    back = pd.read_csv(tmp_path / "summary.csv")
    assert list(back.columns) == ["method", "metric", "value"] and len(back) == len(summary) == 2 * (4 + 9)
    val = back.set_index(["method", "metric"])["value"]
    assert val["mlp", "auc"] == 0.6 and val["adnet", "ap"] == 0.375
    assert val["adnet", "f1@25_normal"] == 251 and val["mlp", "f1@50_all"] == 502
    html = (tmp_path / "report.html").read_text()
    # F1 columns read report by report, k ascending; abnormal first (it is the one to look at).
    assert re.findall(r"f1@\d+_\w+", html)[:4] == ["f1@10_abnormal", "f1@25_abnormal", "f1@50_abnormal", "f1@10_normal"]
    assert "vadflow report: toy" in html and "0.7500" in html
    assert "LOF thesis protocol" not in html


def test_thesis_protocol_mean_row_joins_the_summary(tmp_path):
    pd.DataFrame([{"method": "lof", "auc": 0.7}]).to_csv(tmp_path / "lof_auc.csv", index=False)
    pd.DataFrame([{"method": "lof", "report": "all", "k": 10, "f1": 50.0}]).to_csv(tmp_path / "lof_f1.csv", index=False)
    rows = [{"method": "lof", "protocol": "thesis", "seed": s, "auc": a, "auc_std": sd}
            for s, a, sd in (("0", 0.6, None), ("1", 0.8, None), ("mean", 0.7, 0.1))]
    pd.DataFrame(rows).to_csv(tmp_path / "lof_thesis_auc.csv", index=False)
    write_report([tmp_path / "lof_auc.csv"], [tmp_path / "lof_f1.csv"], tmp_path / "s.csv", tmp_path / "r.html",
                 thesis_csvs=[tmp_path / "lof_thesis_auc.csv"])
    val = pd.read_csv(tmp_path / "s.csv").set_index(["method", "metric"])["value"]
    assert val["lof", "thesis_snippet_auc"] == 0.7 and val["lof", "thesis_snippet_auc_std"] == 0.1
    assert val["lof", "auc"] == 0.7 and len(val) == 4
    assert "LOF thesis protocol" in (tmp_path / "r.html").read_text()
