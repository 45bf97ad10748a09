"""Evaluation jobs: one method's metrics from its scores.h5 against labels.h5, and the summary
over methods (summary.csv, report.html). They read files only: no method is imported, so
every method is judged by the same code."""
from __future__ import annotations

import json
import logging
from typing import Any, Sequence

log = logging.getLogger("vadflow")


def evaluate(cfg: dict[str, Any], method: str, manifest: str, labels: str, scores: str, auc: str, f1: str, per_video: str,
             per_class: str, details: str, timelines: str) -> None:
    import pandas as pd

    from vadflow.data.manifest import read_label_attrs, read_labels, read_manifest
    from vadflow.evaluation.plots import plot_timelines
    from vadflow.evaluation.tables import align_to_labels, headline_metric, left_out
    from vadflow.evaluation.tables import evaluate as tables_of
    from vadflow.io import atomic_path
    from vadflow.stores.scores import read_score_attrs, read_score_sets, read_scores, read_skipped

    table = read_manifest(manifest)
    frame_scores = read_scores(scores)
    skipped = read_skipped(scores)
    attrs = read_score_attrs(scores)
    test = table[(table["split"] == "test") & table["id"].isin(list(frame_scores))]
    unscored = left_out(table, list(frame_scores), json.loads(attrs.pop("left_out", "{}")))
    if len(unscored):
        log.warning("%d test videos have no scores (status %s) and are left out of the metrics",
                    len(unscored), unscored["status"].value_counts().to_dict())
    videos = test[["id", "cls", "anomalous", "fps", "classes"]].reset_index(drop=True)
    gt = read_labels(labels, list(videos["id"]))
    label_attrs = read_label_attrs(labels)
    policy, headline = label_attrs["label_policy"], headline_metric(label_attrs["kind"])
    # XD-Violence's GT covers 16·⌊(n−1)/16⌋ of n decoded frames: the scores of the tail it drops
    # are left out, each video warned about (tables.align_to_labels); nothing else is trimmed
    frame_scores, cut = align_to_labels(gt, frame_scores, policy)

    def judged(sc: dict) -> dict:
        return tables_of(gt, align_to_labels(gt, sc, policy)[0], videos, cfg, skipped=skipped["test"],
                         skipped_train=skipped["train"], headline=headline)

    tables = judged(frame_scores)
    # One auc row per score set: the headline (what `score` returned), then a method's other
    # protocols (e.g. svdd_cae's per-video "agg"), each judged by the same code.
    tables["auc"] = tables["auc"].assign(score_set=attrs.pop("main_set", "main"), headline=True)
    extra = [judged(sc)["auc"].assign(score_set=name, headline=False) for name, sc in read_score_sets(scores).items()]
    tables["auc"] = pd.concat([tables["auc"], *extra], ignore_index=True)
    # How the model's checkpoint was chosen travels with every number it produces: test_best
    # (the papers' test-set selection) is marked in the CSVs, the summary and the report.
    selection = attrs.get("selection", "")
    for key in ("auc", "f1"):
        tables[key]["selection"] = selection
        tables[key]["test_selected"] = selection == "test_best"
    for key, path in (("auc", auc), ("f1", f1), ("per_video", per_video), ("per_class", per_class)):
        df = tables[key]
        df.insert(0, "method", method)
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False, float_format="%.6g")
    doc = {"method": method, "n_evaluated": len(videos), "left_out": unscored.to_dict("records"),
           "provenance": attrs, "label_policy": policy, "scores_cut": cut, "headline_metric": headline, **tables["curves"]}
    if cut:
        log.warning("%d test videos: scores cut to the frames their labels cover (label policy %s); evaluation.json "
                    "lists them (scores_cut)", len(cut), policy)
    with atomic_path(details) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    plot_timelines(gt, frame_scores, videos, timelines, n=int(cfg.get("plot_videos", 6)),
                   threshold=float(cfg.get("threshold", 0.5)), title=method)
    log.info("%s: %s", method, tables["auc"].iloc[0].to_dict())


def summary(dataset: str, auc: Sequence[str], f1: Sequence[str], out_csv: str, out_html: str, per_class: Sequence[str] = (),
            details: Sequence[str] = (), images: Sequence[str] = (), thesis: Sequence[str] = (),
            video_level: Sequence[str] = (), resources: Sequence[str] = (), info: dict[str, Any] | None = None,
            protocols: dict[str, dict[str, str]] | None = None, published: str | None = None,
            out_reproduction: str | None = None) -> None:
    """summary.csv and report.html over methods; with ``published``, also reproduction.csv: every
    published figure that applies to the dataset beside ours (docs/reproduction.md)."""
    from vadflow.evaluation.report import skipped_notes, write_report

    for note in skipped_notes(auc):
        log.warning("%s", note)
    fragment = None
    if published and out_reproduction:
        from vadflow.evaluation.reproduction import table_fragment, write_reproduction

        table = reproduction(auc, f1, details, thesis, video_level, info or {}, protocols or {}, published)
        write_reproduction(table, out_reproduction, None, f"vadflow reproduction: {dataset}")
        fragment = table_fragment(table)
        log.info("reproduction: %d published figures, %s", len(table), table["flag"].value_counts().to_dict())
    write_report(auc, f1, out_csv, out_html, images=images, dataset=dataset, thesis_csvs=thesis, per_class_csvs=per_class,
                 details=details, video_level=video_level, resources=resources, reproduction_html=fragment)


def reproduction(auc: Sequence[str], f1: Sequence[str], details: Sequence[str], thesis: Sequence[str], video_level: Sequence[str],
                 info: dict[str, Any], protocols: dict[str, dict[str, str]], published: str, group: str | None = None):
    """The reproduction table of one dataset (or one published group): our mean ± std of every
    metric a published figure names, and our protocol (features, crops, checkpoint selection,
    test set) beside the paper's."""
    import pandas as pd

    from vadflow.evaluation.report import summarise
    from vadflow.evaluation.reproduction import (STANDS_FOR, applicable, load_published, ours_from_summary, reproduction_table,
                                                 test_set_token)

    docs = [json.loads(open(p).read()) for p in details]
    table = summarise(auc, f1, thesis, docs)
    seeds = {}
    for p in thesis:
        df = pd.read_csv(p, dtype={"seed": str})
        seeds[str(df["method"].iloc[0])] = int((df["seed"] != "mean").sum())
    ours = ours_from_summary(table, seeds)
    for p in video_level:  # the real-time method's SAS decisions: its vl_* columns, as published.yaml names them
        for rec in pd.read_csv(p).to_dict("records"):
            ours.update({(rec["method"], f"sas_{k}"): {"mean": float(v), "std": float("nan"), "n": 1}
                         for k, v in rec.items() if k.startswith("vl_")})
    kind, subset = info.get("kind", ""), info.get("subset")
    protos: dict[Any, dict[str, str]] = {}
    for d in docs:
        m = d["method"]
        prov = d.get("provenance") or {}
        mine = {**protocols.get(m, {}), "selection": str(prov.get("selection") or "last"),
                "test_set": test_set_token(STANDS_FOR.get(kind, kind), subset, int(d["n_evaluated"]))}
        protos[m] = mine
        protos[(m, "thesis_snippet_auc")] = {**mine, "test_set": "ucf_crime_thesis_snippets"}  # LOF's own protocol
    entries = applicable(load_published(published), kind, subset, methods=list(protocols) or None, group=group)
    return reproduction_table(entries, ours, protos, synthetic=bool(info.get("synthetic")))


def reproduce(dataset: str, group: str, auc: Sequence[str], f1: Sequence[str], details: Sequence[str], thesis: Sequence[str],
              video_level: Sequence[str], info: dict[str, Any], protocols: dict[str, dict[str, str]], published: str,
              out_csv: str, out_html: str) -> None:
    """One published group's table (a seed document's or a paper's headline figures), ours beside theirs."""
    from vadflow.evaluation.reproduction import write_reproduction

    table = reproduction(auc, f1, details, thesis, video_level, info, protocols, published, group=group)
    title = f"vadflow: {group} on {dataset}" + (" (synthetic: not comparable)" if info.get("synthetic") else "")
    write_reproduction(table, out_csv, out_html, title)
    log.info("%s on %s: %d published figures, %s", group, dataset, len(table), table["flag"].value_counts().to_dict())
