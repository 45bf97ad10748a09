"""The published figures (workflow/published.yaml) and the reproduction table (evaluation/reproduction.py):
issue 24, docs/reproduction.md."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT
from vadflow.evaluation import reproduction as rp
from vadflow.evaluation.report import AUC_METRICS, THESIS_METRICS
from vadflow.evaluation.tables import AUC_COLUMNS

PUBLISHED = rp.load_published()
BY_ID = {e["id"]: e for e in PUBLISHED}
DOCS = ROOT / "docs" / "methods"
#: the doc pages each group's numbers are copied from
PAGES = {"seed000": ["lof"], "sultani": ["mil"], "seed001": ["mil"], "seed002": ["adnet", "ador"],
         "seed003": ["realtime"], "seed004": ["svdd_cae"], "rtfm": ["rtfm"], "urdmu": ["urdmu"], "mgfn": ["mgfn"]}


def entries(**match):
    return [e for e in PUBLISHED if all(e.get(k) == v for k, v in match.items())]


# --------------------------------------------------------------------------- the data file


def test_default_path_is_the_workflow_data_file():
    assert rp.DEFAULT_PATH == ROOT / "workflow" / "published.yaml"


def test_every_group_the_issue_lists_is_covered():
    assert set(PAGES) <= {e["group"] for e in PUBLISHED}
    assert entries(group="seed000", metric="thesis_snippet_auc", method="lof")
    assert {e["source"].split(", ")[-1].split(" (")[0] for e in entries(group="seed001")} >= {"Table 2", "Table 3", "Table 4"}
    assert {e["method"] for e in entries(group="seed001")} >= {"mil", "mil_xlstm"}
    assert entries(group="sultani", method="mil", metric="auc")
    for method in ("adnet", "ador"):
        for k in (10, 25, 50):
            assert entries(group="seed002", method=method, metric=f"f1@{k}_abnormal"), (method, k)
    s003 = entries(group="seed003")
    assert s003 and all(e.get("not_comparable") for e in s003)
    assert all("not the 290-video UCF-Crime test set" in e["not_comparable"] for e in s003)
    assert any("UCFCrime2Local" in e["not_comparable"] for e in s003)
    assert entries(group="seed004", dataset_kind="ucsd", subset="ped2", metric="auc")
    assert entries(group="seed004", dataset_kind="avenue", metric="auc")
    for group in ("rtfm", "urdmu", "mgfn"):
        assert entries(group=group, dataset_kind="ucf_crime", metric="auc"), group
        assert entries(group=group, dataset_kind="xd_violence"), group
        assert all(e["protocol"]["selection"] == "test_best" for e in entries(group=group))


@pytest.mark.parametrize("id_, value, scale", [
    ("sultani_mil_auc", 75.41, "percent"),
    ("rtfm_ucf_crime_auc", 84.30, "percent"),
    ("rtfm_xd_violence_ap", 77.81, "percent"),
    ("urdmu_ucf_crime_auc", 86.97, "percent"),
    ("urdmu_xd_violence_ap", 81.66, "percent"),
    ("mgfn_ucf_crime_auc", 86.98, "percent"),
    ("mgfn_xd_violence_ap", 79.19, "percent"),
    ("seed000_t3_4_lof_thesis_snippet_auc", 0.748, "fraction"),
    ("seed001_t3_xl1024_auc", 0.7504, "fraction"),
    ("seed001_t2_original_tn", 902433, "count"),
    ("seed002_t4_6_adnet_f1_25_abnormal", 18.71, "percent"),
    ("seed002_t5_5_ador_f1_10_abnormal", 33.94, "percent"),
    ("seed003_t1_realtime_bag_ha_auc", 83.7, "percent"),
    ("seed004_t4_9_svdd_ped2_auc", 88.85, "percent"),
    ("seed004_t4_9_svdd_avenue_auc", 84.56, "percent"),
])
def test_spot_checks_against_the_docs(id_, value, scale):
    e = BY_ID[id_]
    assert e["value"] == value and e["scale"] == scale


def test_printed_digits_are_kept():
    assert BY_ID["rtfm_ucf_crime_auc"]["decimals"] == 2  # printed 84.30
    assert BY_ID["seed003_t1_realtime_bag_ha_auc"]["decimals"] == 1
    assert BY_ID["seed001_t2_original_tn"]["decimals"] == 0


def test_every_value_is_printed_verbatim_in_its_doc_page():
    doc = yaml.load(rp.DEFAULT_PATH.read_text(encoding="utf-8"), Loader=rp._Loader)
    for e in doc["published"]:
        text = "".join((DOCS / f"{p}.md").read_text(encoding="utf-8") for p in PAGES[e["group"]])
        printed = e["value"].text
        assert re.search(r"(?<![\d.])" + re.escape(printed) + r"(?![\d])", text), (e["id"], printed)
        if "spread" in e:
            assert f"± {e['spread']['value'].text}" in text, e["id"]


def _doc_table(page: str, starts: str) -> list[list[str]]:
    """The body rows of the first markdown table after the line starting with ``starts``."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(starts))
    rows: list[list[str]] = []
    for line in lines[i + 1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows[2:]


def test_table_cells_match_the_docs():
    """Every cell of the main tables, read from the doc pages, is the entry's value."""
    n = 0
    kinds = {"Baseline": "mil", "MLP": "mlp", "ED-TCN": "edtcn", "ADNet": "adnet"}
    for row in _doc_table("adnet.md", "Table 4.6"):
        for report, cell in zip(("abnormal", "normal", "all"), row[1:]):
            for k, v in zip((10, 25, 50), cell.split(" / ")):
                assert BY_ID[f"seed002_t4_6_{kinds[row[0].split()[0]]}_f1_{k}_{report}"]["value"] == float(v)
                n += 1
    models = {"Original": "original", "Replica": "replica", "XL-1024": "xl1024", "XL-768": "xl768", "XL-512": "xl512"}
    for row in _doc_table("mil.md", "Table 2 (frame"):
        for col, v in zip(("tn", "fp", "fn", "tp"), row[1:]):
            assert BY_ID[f"seed001_t2_{models[row[0]]}_{col}"]["value"] == float(v)
            n += 1
    for row in _doc_table("mil.md", "Table 3 (frame"):
        for col, v in zip(("frame_accuracy", "auc", "frame_f1", "eer", "ap"), row[1:6]):
            assert BY_ID[f"seed001_t3_{models[row[0]]}_{col}"]["value"] == float(v)
            n += 1
        for col, v in zip(("alarms_normal_pct", "alarms_anomalous_pct"), row[6:]):
            assert BY_ID[f"seed001_t4_{models[row[0]]}_{col}"]["value"] == float(v)
            n += 1
    sets = {"Avenue": "avenue", "UCSD Ped1": "ped1", "UCSD Ped2": "ped2"}
    for row in _doc_table("svdd_cae.md", "## 8. Reported numbers"):
        if row[0] in sets:
            model = "bcae1" if row[1] == "BCAE1" else "svdd"
            for col, v in zip(("auc", "eer", "wavg_precision", "wavg_recall", "wavg_f1"), row[2:]):
                assert BY_ID[f"seed004_t4_9_{model}_{sets[row[0]]}_{col}"]["value"] == float(v.strip("*"))
                n += 1
    encoders = {"Action": "ador_action", "Object": "ador_object", "ADOR": "ador"}
    for row in _doc_table("ador.md", "Table 5.1"):
        for report, cell in zip(("abnormal", "normal"), row[1:]):
            for k, v in zip((25, 50, 75), cell.split(" / ")):
                assert BY_ID[f"seed002_t5_1_{encoders[row[0].split()[0]]}_f1_{k}_{report}"]["value"] == float(v)
                n += 1
    assert n == 36 + 20 + 35 + 30 + 18


def test_metric_names_are_our_columns():
    """The metric vocabulary is the evaluation's: the auc CSV's columns, LOF's thesis AUC, F1@k, and
    the real-time method's SAS video-level columns."""
    plain = {m for m in rp.METRIC_SCALES if not m.startswith("sas_vl_")} - {THESIS_METRICS[0]}
    assert plain <= set(AUC_COLUMNS)
    assert THESIS_METRICS[0] in rp.METRIC_SCALES
    assert {"auc", "ap", "vl_f1", "far", "frame_f1"} <= set(AUC_METRICS) & set(rp.METRIC_SCALES)
    for e in PUBLISHED:
        assert e["metric"] in rp.METRIC_SCALES or re.match(r"^f1@\d+_(abnormal|normal|all)$", e["metric"]), e["id"]


def test_methods_name_config_instances_or_say_how_to_define_them():
    instances = set()
    for name in ("config.yaml", "ucf_crime.yaml", "benchmarks.yaml"):
        instances |= set((yaml.safe_load((ROOT / "config" / name).read_text()) or {}).get("methods", {}) or {})
    instances.add("mgfn")  # a registered kind that runs where a config defines it (docs/methods/weak.md)
    for e in PUBLISHED:
        if e["method"] not in instances:
            assert "define" in e.get("notes", ""), f"{e['id']}: {e['method']} is in no config and no note says how to define it"


def test_applicable_filters_dataset_subset_methods_and_group():
    ucf = rp.applicable(PUBLISHED, "ucf_crime", subset="v1")
    assert ucf and all(e["dataset_kind"] == "ucf_crime" and e.get("subset") in (None, "v1") for e in ucf)
    assert not any(e.get("subset") == "v2" for e in ucf)
    assert any(e["id"] == "seed003_t1_realtime_auc" for e in ucf)  # no subset: every version
    assert {e["id"] for e in rp.applicable(PUBLISHED, "synthetic", subset="v1")} == {e["id"] for e in ucf}
    ped2 = rp.applicable(PUBLISHED, "ucsd", subset="ped2")
    assert len(ped2) == 10 and all(e["subset"] == "ped2" for e in ped2)
    assert len(rp.applicable(PUBLISHED, "ucsd")) == 20
    only = rp.applicable(PUBLISHED, "ucf_crime", methods=["adnet", "mil"], group="seed002")
    assert only and {e["method"] for e in only} == {"adnet", "mil"} and {e["group"] for e in only} == {"seed002"}
    xd = rp.applicable(PUBLISHED, "xd_violence")
    assert {e["group"] for e in xd} == {"rtfm", "urdmu", "mgfn"}
    assert rp.applicable(PUBLISHED, "ucf_crime", methods=[]) == []


# --------------------------------------------------------------------------- validation


GOOD = {"id": "x_auc", "group": "x", "source": "X 2020, Table 1", "dataset_kind": "ucf_crime", "method": "m",
        "metric": "auc", "value": 80.0, "scale": "percent",
        "protocol": {"features": "i3d_resnet50", "crops": "all", "selection": "test_best", "test_set": "ucf_crime_test_290"}}


def _with(**kw):
    e = {**GOOD, "protocol": dict(GOOD["protocol"])}
    for k, v in kw.items():
        if k.startswith("protocol_"):
            e["protocol"][k[len("protocol_"):]] = v
        elif v is None:
            e.pop(k)
        else:
            e[k] = v
    return e


@pytest.mark.parametrize("change, key", [
    ({"value": None}, "value"),
    ({"value": "high"}, "value"),
    ({"scale": "permille"}, "scale"),
    ({"scale": "count"}, "scale"),
    ({"metric": "aucc"}, "metric"),
    ({"dataset_kind": "ucf-crime"}, "dataset_kind"),
    ({"protocol_selection": "best"}, "protocol.selection"),
    ({"protocol_crops": "ten"}, "protocol.crops"),
    ({"spread": {"value": 0.3}}, "spread"),
    ({"tolerance": -1}, "tolerance"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_entry_is_an_error_naming_its_id_and_key(change, key):
    with pytest.raises(rp.PublishedError, match=rf"entry 'x_auc': key '{re.escape(key)}'"):
        rp.check_entry(_with(**change))


def test_a_bad_entry_in_the_file_names_its_id_and_key(tmp_path):
    bad = dict(GOOD, protocol={k: v for k, v in GOOD["protocol"].items() if k != "test_set"})
    path = tmp_path / "published.yaml"
    path.write_text(yaml.safe_dump({"published": [_with(id="ok_one"), bad]}, allow_unicode=True))
    with pytest.raises(rp.PublishedError, match=r"entry 'x_auc': key 'protocol.test_set': missing"):
        rp.load_published(path)
    path.write_text(yaml.safe_dump({"published": [GOOD, GOOD]}))
    with pytest.raises(rp.PublishedError, match=r"entry 'x_auc': key 'id': the id is used twice"):
        rp.load_published(path)
    path.write_text(yaml.safe_dump({"published": [{k: v for k, v in GOOD.items() if k != "id"}]}))
    with pytest.raises(rp.PublishedError, match=r"entry #1: key 'id': missing"):
        rp.load_published(path)


# --------------------------------------------------------------------------- the flag rule

SAME = dict(GOOD["protocol"])


def table(entry, mean, std=math.nan, n=1, protocol=SAME, synthetic=False, key=("m", "auc")):
    ours = {} if mean is None else {key: {"mean": mean, "std": std, "n": n}}
    return rp.reproduction_table([entry], ours, {"m": protocol}, synthetic=synthetic).iloc[0]


def test_columns():
    row = table(GOOD, 0.8)
    assert list(row.index) == rp.COLUMNS


def test_within_spread_and_same_protocol_is_not_flagged():
    e = _with(spread={"value": 1.0, "kind": "std over 5 seeds"})
    row = table(e, 0.809, std=0.002, n=5)  # 80.9 against 80.0 ± 1.0
    assert row["flag"] == rp.FLAG_OK and row["why"] == ""
    assert row["gap"] == pytest.approx(0.9) and row["n_repeats"] == 5
    assert row["spread"] == pytest.approx(1.0 + 0.05)  # max(0.2, 1.0) + half of the printed 80.0's last digit


def test_gap_beyond_spread_is_flagged_and_why_says_gap():
    e = _with(spread={"value": 1.0, "kind": "std"})
    row = table(e, 0.83, std=0.004, n=3)  # gap +3.0, spread max(0.4, 1.0) + 0.05
    assert row["flag"] == rp.FLAG_FLAGGED
    assert row["why"].startswith("gap +3 beyond spread 1.05")
    assert "published ±1" in row["why"] and "over 3 repeats" in row["why"]
    assert "selection" not in row["why"]


def test_our_std_widens_the_spread():
    row = table(GOOD, 0.83, std=0.04, n=3)  # our std 4 points > gap 3
    assert row["flag"] == rp.FLAG_OK and row["spread"] == pytest.approx(4.05)


def test_tolerance_widens_the_spread():
    assert table(_with(tolerance=2), 0.819)["flag"] == rp.FLAG_OK
    assert table(_with(tolerance=2), 0.821)["flag"] == rp.FLAG_FLAGGED


@pytest.mark.parametrize("field, ours", [("selection", "val_best"), ("features", "i3d_inception"),
                                         ("crops", "mean"), ("test_set", "ucf_crime_v2_test")])
def test_protocol_differs_is_flagged_even_with_zero_gap(field, ours):
    row = table(GOOD, 0.80, protocol={**SAME, field: ours})
    assert row["gap"] == 0 and row["flag"] == rp.FLAG_FLAGGED
    assert row["why"] == f"{field}: theirs {GOOD['protocol'][field]}, ours {ours}"


def test_missing_protocol_on_our_side_differs_and_names_the_field():
    row = table(GOOD, 0.80, protocol={k: v for k, v in SAME.items() if k != "crops"})
    assert row["flag"] == rp.FLAG_FLAGGED and row["why"] == "crops: theirs all, ours not stated"
    row = rp.reproduction_table([GOOD], {("m", "auc"): {"mean": 0.8, "std": math.nan, "n": 1}}, {}).iloc[0]
    assert row["flag"] == rp.FLAG_FLAGGED and row["why"].count("ours not stated") == 4


def test_a_field_the_source_does_not_state_is_not_compared():
    e = _with(protocol_crops="not stated", protocol_selection="not stated")
    assert table(e, 0.80, protocol={**SAME, "crops": "center", "selection": "last"})["flag"] == rp.FLAG_OK


def test_protocol_comparison_ignores_case_and_spaces():
    assert table(GOOD, 0.80, protocol={**SAME, "features": " I3D_ResNet50 "})["flag"] == rp.FLAG_OK


def test_not_comparable_entry_is_always_flagged():
    row = table(_with(not_comparable="UCFCrime2Local's test half"), 0.80)
    assert row["flag"] == rp.FLAG_FLAGGED and row["why"] == "not comparable: UCFCrime2Local's test half"


def test_n1_zero_spread_flags_any_gap_beyond_the_printed_rounding():
    e = _with(value=75.41)  # printed with 2 decimals: half a unit is 0.005
    row = table(e, 0.7541)
    assert row["flag"] == rp.FLAG_OK and math.isnan(row["ours_std"]) and row["n_repeats"] == 1
    assert row["spread"] == pytest.approx(0.005)
    assert table(e, 0.75412)["flag"] == rp.FLAG_OK  # 75.412 rounds to the printed 75.41
    flagged = table(e, 0.7547)
    assert flagged["flag"] == rp.FLAG_FLAGGED and "(n = 1, printed rounding 0.005)" in flagged["why"]
    assert table(e, 0.7541, std=0.0, n=1)["flag"] == rp.FLAG_OK  # std 0 for n = 1 works the same


def test_explicit_decimals_override_the_printed_ones():
    e = _with(value=0, decimals=2, metric="f1@50_abnormal")
    assert table(e, 0.004, key=("m", "f1@50_abnormal"))["flag"] == rp.FLAG_OK
    assert table(e, 0.006, key=("m", "f1@50_abnormal"))["flag"] == rp.FLAG_FLAGGED


def test_unit_conversion_percent_and_fraction():
    # a fraction-scale published AUC against our fraction: no conversion
    row = table(_with(value=0.748, scale="fraction"), 0.7452, std=0.001, n=5)
    assert row["ours_mean"] == pytest.approx(0.7452) and row["gap"] == pytest.approx(-0.0028)
    # a percent published AUC: our fraction x 100, std too
    row = table(GOOD, 0.7452, std=0.001, n=5)
    assert row["ours_mean"] == pytest.approx(74.52) and row["ours_std"] == pytest.approx(0.1)
    assert row["gap"] == pytest.approx(-5.48)
    # F1@k is percent on both sides; a fraction-scale published F1 divides ours by 100
    f1 = _with(metric="f1@25_abnormal", value=18.71)
    assert table(f1, 18.0, key=("m", "f1@25_abnormal"))["gap"] == pytest.approx(-0.71)
    f1_frac = _with(metric="f1@25_abnormal", value=0.1871, scale="fraction")
    assert table(f1_frac, 18.71, key=("m", "f1@25_abnormal"))["gap"] == pytest.approx(0.0)
    # counts are compared as they are
    counts = _with(metric="tn", value=902433, scale="count")
    assert table(counts, 902433.0, key=("m", "tn"))["flag"] == rp.FLAG_OK
    assert rp.our_scale("f1@10_all") == "percent" and rp.our_scale("alarms_normal_pct") == "percent"
    assert rp.our_scale("thesis_snippet_auc") == "fraction" and rp.our_scale("tp") == "count"


def test_synthetic_marks_every_row_not_comparable():
    ucf = rp.applicable(PUBLISHED, "synthetic", subset="v1")
    ours = {(rp.ours_key(e), e["metric"]): {"mean": 0.5, "std": 0.01, "n": 3} for e in ucf}
    df = rp.reproduction_table(ucf, ours, {}, synthetic=True)
    assert len(df) == len(ucf) and (df["flag"] == rp.FLAG_SYNTHETIC).all()
    assert df["why"].str.startswith("synthetic data").all()
    assert df["published"].tolist() == [e["value"] for e in ucf]  # the published column is kept
    assert df["gap"].isna().all() and df["ours_mean"].notna().all()


def test_no_result_of_ours():
    row = rp.reproduction_table([GOOD], {}, {"m": SAME}).iloc[0]
    assert row["flag"] == rp.FLAG_MISSING and row["why"] == "no result of ours for m auc" and math.isnan(row["gap"])


def test_score_set_entries_look_up_method_colon_set():
    e = BY_ID["seed004_t4_9_svdd_ped2_auc"]
    assert rp.ours_key(e) == "svdd_cae:agg"
    proto = {"features": "pixels_gray_128", "crops": "region:ped2", "selection": "test_tuned", "test_set": "ped2_test_12"}
    row = rp.reproduction_table([e], {("svdd_cae:agg", "auc"): {"mean": 0.87, "std": 0.01, "n": 3}},
                                {"svdd_cae": proto}).iloc[0]
    assert row["method"] == "svdd_cae:agg" and row["flag"] == rp.FLAG_OK  # 87.0 within 88.85 ± 2 (tolerance)


def test_a_hand_built_bad_entry_is_refused_by_the_table():
    with pytest.raises(rp.PublishedError, match="entry 'x_auc': key 'scale'"):
        rp.reproduction_table([_with(scale="ratio")], {}, {})


# --------------------------------------------------------------------------- our protocol tokens


def test_feature_and_crop_tokens_of_our_extractors():
    assert rp.feature_token({"backbone": "i3d", "weights": "data/weights/model_rgb.pth"}) == "i3d_inception"
    assert rp.feature_token({"backbone": "i3d", "weights": "random"}) == "random_init:i3d_inception"
    assert rp.feature_token({"backbone": "c3d", "weights": "c3d.pickle"}) == "c3d_sports1m"
    assert rp.feature_token({"backbone": "flow"}) == "flow"
    assert rp.feature_token({"source": "import", "format": "rtfm_npy"}) == "i3d_resnet50"
    assert rp.feature_token({"source": "lstm", "hidden": 768}) == "xception_imagenet_lstm768"
    assert rp.feature_token({"preset": "ped2", "size": 128}) == "pixels_gray_128"
    assert rp.feature_token({"preset": "avenue", "size": 128}) == "pixels_rgb_128"
    assert rp.crop_token({"source": "import", "format": "rtfm_npy", "crops": "all"}) == "all"
    assert rp.crop_token({"source": "import", "format": "rtfm_npy"}) == "mean"
    assert rp.crop_token({"source": "import", "format": "crop_npy", "crops": 0}) == "crop:0"
    assert rp.crop_token({"backbone": "i3d", "resize": 256, "crop": 224}) == "center"
    assert rp.crop_token({"backbone": "xception", "resize": [299, 299], "crop": 299}) == "none"
    assert rp.crop_token({"backbone": "resnet50_2d", "resize": [224, 224]}) == "none"
    assert rp.crop_token({"preset": "ped2", "size": 128}) == "region:ped2"
    for e in PUBLISHED:  # every published crop token is one the helper or the vocabulary knows
        assert rp._CROP_RE.match(e["protocol"]["crops"])


# --------------------------------------------------------------------------- writing


def test_write_reproduction_csv_and_html(tmp_path):
    es = [GOOD, _with(id="y_auc", value=70.0), _with(id="z_auc", method="other")]
    ours = {("m", "auc"): {"mean": 0.80, "std": 0.0, "n": 2}}
    df = rp.reproduction_table(es, ours, {"m": SAME})
    assert df["flag"].tolist() == [rp.FLAG_OK, rp.FLAG_FLAGGED, rp.FLAG_MISSING]
    csv, page = tmp_path / "r" / "reproduction.csv", tmp_path / "r" / "reproduce_x.html"
    rp.write_reproduction(df, csv, page, "Reproduction <x>")
    back = pd.read_csv(csv, keep_default_na=True)
    assert back["id"].tolist() == ["x_auc", "y_auc", "z_auc"] and list(back.columns) == rp.COLUMNS
    assert back.loc[1, "gap"] == pytest.approx(10.0)
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "Reproduction &lt;x&gt;" in text
    assert text.count("<tr class='flagged'") == 1 and "is <b>flagged</b> when" in text
    assert "80.00 ± 0.00 (n = 2)" in text and "src=" not in text  # self-contained: nothing loaded from elsewhere
    assert not list(tmp_path.glob("r/.*.tmp"))
    rp.write_reproduction(rp.reproduction_table(es, ours, {}, synthetic=True), csv, None, "t")
    assert (pd.read_csv(csv)["flag"] == rp.FLAG_SYNTHETIC).all()


def test_synthetic_page_says_not_comparable(tmp_path):
    df = rp.reproduction_table([GOOD], {("m", "auc"): 0.6}, {}, synthetic=True)
    rp.write_reproduction(df, tmp_path / "r.csv", tmp_path / "r.html", "t")
    assert "synthetic" in (tmp_path / "r.html").read_text() and df.iloc[0]["n_repeats"] == 1


def test_module_imports_only_what_the_evaluation_may():
    src = (ROOT / "workflow" / "vadflow" / "evaluation" / "reproduction.py").read_text()
    ours = set(re.findall(r"^(?:from|import) (vadflow[\w.]*)", src, flags=re.MULTILINE))
    assert ours == {"vadflow.io"}
    assert Path(rp.__file__).name == "reproduction.py"


def test_docs_give_the_entry_count_of_every_group():
    text = (ROOT / "docs" / "reproduction.md").read_text(encoding="utf-8")
    stated = {g: int(n) for g, n in re.findall(r"^- \*\*(\w+)\*\* \((\d+)\)", text, flags=re.MULTILINE)}
    counts: dict[str, int] = {}
    for e in PUBLISHED:
        counts[e["group"]] = counts.get(e["group"], 0) + 1
    assert stated == counts
