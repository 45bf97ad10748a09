"""summary.csv (long: method, metric, value, plus the videos left out) and report.html from
per-method metric files and evaluation details."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pandas as pd

from vadflow.evaluation.report import write_report
from vadflow.provenance import score_attrs


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
    assert list(back.columns) == ["method", "metric", "value", "video", "status", "error", "test_selected", "std", "n_repeats"]
    assert len(back) == len(summary) == 2 * (4 + 9)
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


class Tables(HTMLParser):
    """Header rows of every table: the text of each header cell."""

    def __init__(self) -> None:
        super().__init__()
        self.heads: list[list[list[str]]] = []
        self._in_head = self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.heads.append([])
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._in_head:
            self.heads[-1].append([])
        elif tag in ("th", "td") and self._in_head:
            self._in_cell = True
            self.heads[-1][-1].append("")

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_head = False
        elif tag in ("th", "td"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.heads[-1][-1][-1] += data.strip()


def details(method: str, weights: str, left_out: list[dict], detections: str | None = None) -> dict:
    return {"method": method, "n_evaluated": 5 - len(left_out), "left_out": left_out,
            "provenance": {"kind": method, "features": "i3d", "backbone": "i3d", "feature_weights": weights,
                           "feature_config_hash": "f" * 16, "config_hash": "c" * 16, "versions": json.dumps({"torch": "2.13.0"}),
                           **({"detections": detections} if detections else {})},
            "roc": {"fpr": [0, 0.5, 1], "tpr": [0, 0.8, 1]}, "pr": {"recall": [1, 0.5, 0], "precision": [0.4, 0.9, 1]}}


def test_left_out_videos_counts_provenance_and_single_header_rows(tmp_path):
    corrupt = {"id": "Normal_Videos_006_x264", "cls": "Normal", "status": "corrupt", "error": "moov atom not found"}
    nofeat = {"id": "Fighting003_x264", "cls": "Fighting", "status": "no_features", "error": "decode failed at frame 40"}
    files = {"auc": [], "f1": [], "per_class": [], "details": []}
    for m, weights, left in (("adnet", "random-init", [corrupt]), ("mlp", "ab" * 32, [corrupt, nofeat])):
        pd.DataFrame([{"method": m, "auc": 0.7, "ap": 0.5, "eer": 0.3, "far": 0.1}]).to_csv(tmp_path / f"{m}_auc.csv", index=False)
        pd.DataFrame([{"method": m, "report": "abnormal", "k": 10, "f1": 40.0}]).to_csv(tmp_path / f"{m}_f1.csv", index=False)
        pd.DataFrame([{"method": m, "cls": c, "n_videos": 2, "auc": a, "ap": 0.5} for c, a in (("Explosion", 0.9), ("Fighting", 0.6))]
                     ).to_csv(tmp_path / f"{m}_pc.csv", index=False)
        dets = score_attrs({}, {}, {"detector": "people", "backend": "hog_person"})["detections"] if m == "mlp" else None
        (tmp_path / f"{m}.json").write_text(json.dumps(details(m, weights, left, dets)))
        for key, name in (("auc", f"{m}_auc.csv"), ("f1", f"{m}_f1.csv"), ("per_class", f"{m}_pc.csv"), ("details", f"{m}.json")):
            files[key].append(tmp_path / name)
    write_report(files["auc"], files["f1"], tmp_path / "s.csv", tmp_path / "r.html", dataset="toy",
                 per_class_csvs=files["per_class"], details=files["details"])
    back = pd.read_csv(tmp_path / "s.csv", keep_default_na=False)
    left = back[back["metric"] == "left_out"]
    assert sorted(zip(left["method"], left["video"], left["status"])) == [
        ("adnet", corrupt["id"], "corrupt"), ("mlp", nofeat["id"], "no_features"), ("mlp", corrupt["id"], "corrupt")]
    assert set(left["error"]) == {corrupt["error"], nofeat["error"]}
    counts = back[back["metric"].str.startswith("n_videos")].set_index(["method", "metric"])["value"].astype(float)
    assert counts.to_dict() == {("adnet", "n_videos_evaluated"): 4, ("adnet", "n_videos_left_out"): 1,
                                ("mlp", "n_videos_evaluated"): 3, ("mlp", "n_videos_left_out"): 2}
    html = (tmp_path / "r.html").read_text()
    # the random-init warning names only the method with random-init features
    banner = html[html.index("class='warn'"):html.index("</div>")]
    assert "not comparable to published numbers" in banner.lower() and "adnet" in banner and "mlp" not in banner
    assert html.count("data:image/png;base64,") == 3  # ROC, PR, per-class heatmap
    assert corrupt["error"] in html and nofeat["error"] in html and "all methods" in html  # the corrupt one: both
    assert "0.9000" in html and "0.6000" in html  # per-class AUC table
    assert html.count("people: hog_person (person-only detector)") == 1  # the provenance row of the method with objects
    parser = Tables()
    parser.feed(html)
    assert len(parser.heads) == 6  # counts, left out, frame metrics, per-class, F1, provenance
    for head in parser.heads:
        assert len(head) == 1 and all(head[0]), head


def test_further_score_sets_are_rows_of_their_own(tmp_path):
    """svdd_cae's auc CSV holds one row per protocol; only the headline is the method's own row."""
    pd.DataFrame([{"method": "svdd_cae", "auc": a, "wavg_f1": f, "score_set": s, "headline": h}
                  for a, f, s, h in ((0.6, 0.7, "global", True), (0.5, 0.3, "agg", False), (0.58, 0.6, "bcae1_global", False))]
                 ).to_csv(tmp_path / "svdd_cae_auc.csv", index=False)
    pd.DataFrame([{"method": "svdd_cae", "report": "all", "k": 10, "f1": 50.0}]).to_csv(tmp_path / "svdd_cae_f1.csv", index=False)
    summary = write_report([tmp_path / "svdd_cae_auc.csv"], [tmp_path / "svdd_cae_f1.csv"], tmp_path / "s.csv", tmp_path / "r.html")
    val = summary.set_index(["method", "metric"])["value"]
    assert val["svdd_cae", "auc"] == 0.6 and val["svdd_cae:agg", "auc"] == 0.5 and val["svdd_cae:bcae1_global", "wavg_f1"] == 0.6
    assert "svdd_cae:agg" in (tmp_path / "r.html").read_text()
