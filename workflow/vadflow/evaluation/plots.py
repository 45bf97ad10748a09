"""Evaluation figures: score timelines with GT shading, and the pooled ROC curve.

Figures are built with ``matplotlib.figure.Figure`` directly (Agg canvas), never through
pyplot, so no global backend state is touched and parallel jobs cannot interfere.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vadflow.evaluation.frame_metrics import DEFAULT_FPS, fps_or_default
from vadflow.evaluation.segments import segments
from vadflow.io import atomic_path


def _save(fig: Figure, path: str | Path) -> None:
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        # The temp name has no .png suffix, so the format must be explicit.
        fig.savefig(tmp, format="png", dpi=100)


def _events(g: np.ndarray) -> list[tuple[int, int]]:
    s, e, v = segments(np.asarray(g) != 0)
    return [(int(a), int(b)) for a, b, x in zip(s, e, v) if x]


def _spread(items: list[int], m: int) -> list[int]:
    """``m`` items spread evenly over the list (deterministic, covers its whole range)."""
    if m <= 0 or not items:
        return []
    if m >= len(items):
        return list(items)
    return [items[i] for i in np.unique(np.linspace(0, len(items) - 1, m).round().astype(int))]


def choose_videos(labels: Mapping[str, np.ndarray], videos: pd.DataFrame, n: int = 6) -> list[int]:
    """Row positions of ``videos`` to plot: the first video with two or more GT events (if
    any), anomalous videos spread over the manifest, and about a third normal videos."""
    anom = [i for i, a in enumerate(videos["anomalous"].astype(bool)) if a]
    norm = [i for i, a in enumerate(videos["anomalous"].astype(bool)) if not a]
    ids = [str(v) for v in videos["id"]]
    n = min(n, len(ids))
    n_norm = min(len(norm), max(1, n // 3)) if norm else 0
    n_anom = min(len(anom), n - n_norm)
    n_norm = min(len(norm), n - n_anom)  # fill with normal videos if anomalous ones run out
    chosen: list[int] = []
    multi = [i for i in anom if len(_events(labels[ids[i]])) >= 2]
    if multi and n_anom:
        chosen.append(multi[0])
    rest = [i for i in anom if i not in chosen]
    chosen += _spread(rest, n_anom - len(chosen))
    chosen += _spread(norm, n_norm)
    return sorted(chosen)


def plot_timelines(
    labels: Mapping[str, np.ndarray],
    scores: Mapping[str, np.ndarray],
    videos: pd.DataFrame,
    path: str | Path,
    n: int = 6,
    threshold: float = 0.5,
    title: str = "",
) -> list[str]:
    """One panel per chosen test video: GT events shaded, score curve, threshold line.

    The x axis is seconds (``fps`` column, default 30). Returns the plotted video ids.
    """
    rows = choose_videos(labels, videos, n)
    if not rows:
        raise ValueError("plot_timelines: no videos to plot")
    ids = [str(v) for v in videos["id"]]
    height = 1.7 * len(rows) + 0.6
    fig = Figure(figsize=(10, height))
    # A fixed layout: constrained_layout solved the same panels again in every evaluate job
    # (~1 s of a job's few), and the panels' labels are the same size whatever the scores.
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.45 / height, top=1 - (0.55 if title else 0.3) / height, hspace=0.75)
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    all_s = np.concatenate([np.asarray(scores[ids[i]], dtype=float) for i in rows])
    lo, hi = min(0.0, float(all_s.min())), max(1.0, float(all_s.max()))
    for ax, i in zip(axes, rows):
        vid = ids[i]
        g, s = np.asarray(labels[vid]), np.asarray(scores[vid], dtype=float)
        fps = fps_or_default(videos["fps"].iloc[i]) if "fps" in videos.columns else DEFAULT_FPS
        t = np.arange(s.size) / fps
        for a, b in _events(g):
            ax.axvspan(a / fps, b / fps, color="tab:red", alpha=0.18, lw=0, label="GT anomaly")
        ax.plot(t, s, color="tab:blue", lw=1.0, label="score")
        ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"τ = {threshold:g}")
        ax.set_xlim(0, s.size / fps)
        ax.set_ylim(lo, hi + 0.05 * (hi - lo))
        cls = videos["cls"].iloc[i] if "cls" in videos.columns else ""
        ax.set_title(f"{vid} ({cls})", fontsize=9, loc="left")
        ax.set_ylabel("score", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("time [s]")
    handles, names = [], []
    for ax in axes:  # one legend entry per kind, wherever it first appears
        for h, nm in zip(*ax.get_legend_handles_labels()):
            if nm not in names:
                handles.append(h)
                names.append(nm)
    axes[0].legend(handles, names, loc="upper right", fontsize=7, ncol=3)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return [ids[i] for i in rows]


def plot_roc(
    labels: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    scores: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    path: str | Path,
    title: str = "",
) -> float:
    """Pooled frame-level ROC curve with the AUC in the legend; returns the AUC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    if isinstance(labels, Mapping):
        keys = [k for k in labels if k in scores]  # type: ignore[operator]
        gs = [labels[k] for k in keys]
        ss = [scores[k] for k in keys]  # type: ignore[index]
    else:
        gs, ss = list(labels), list(scores)  # type: ignore[arg-type]
    g = np.concatenate([np.asarray(x).reshape(-1) for x in gs]) != 0
    s = np.concatenate([np.asarray(x, dtype=float).reshape(-1) for x in ss])
    fpr, tpr, _ = roc_curve(g, s)
    a = float(roc_auc_score(g, s))
    fig = Figure(figsize=(4.5, 4.5), constrained_layout=True)
    ax = fig.subplots()
    ax.plot(fpr, tpr, lw=1.5, label=f"AUC = {a:.4f}")
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    _save(fig, path)
    return a


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (report.html embeds its figures)."""
    import io

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _style(i: int) -> dict[str, object]:
    """Colour and line style of the i-th method: ten colours, then the next line style."""
    return {"color": f"C{i % 10}", "ls": ("-", "--", ":", "-.")[(i // 10) % 4]}


def curves_figure(details: Sequence[Mapping[str, object]], kind: str) -> Figure:
    """Every method's pooled ROC (``kind="roc"``) or precision-recall (``"pr"``) curve on one
    axes, from the ``roc``/``pr`` entries of the evaluation details (:func:`pooled_curves`)."""
    fig = Figure(figsize=(5.5, 5), constrained_layout=True)
    ax = fig.subplots()
    for i, d in enumerate(details):
        if kind == "roc":
            x, y = d["roc"]["fpr"], d["roc"]["tpr"]  # type: ignore[index]
        else:
            x, y = d["pr"]["recall"], d["pr"]["precision"]  # type: ignore[index]
        ax.plot(x, y, lw=1.4, label=str(d["method"]), **_style(i))
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=0.8)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title("ROC (frame level, pooled)")
    else:
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title("Precision-recall (frame level, pooled)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right" if kind == "roc" else "upper right", fontsize=8)
    return fig


def per_class_figure(grid: pd.DataFrame) -> Figure:
    """Heatmap of a classes x methods AUC table, each cell annotated; NaN (a class without
    both labels) is left blank."""
    values = grid.to_numpy(dtype=float)
    n_cls, n_met = values.shape
    fig = Figure(figsize=(1.2 + 0.9 * n_met, 1.0 + 0.4 * n_cls), constrained_layout=True)
    ax = fig.subplots()
    im = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(n_met), [str(c) for c in grid.columns], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n_cls), [str(c) for c in grid.index], fontsize=8)
    for r in range(n_cls):
        for c in range(n_met):
            if np.isfinite(values[r, c]):
                ax.text(c, r, f"{values[r, c]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if values[r, c] < 0.6 else "black")
    fig.colorbar(im, ax=ax, label="frame AUC")
    return fig
