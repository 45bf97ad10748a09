"""Literal port of yabufarha/ms-tcn ``eval.py`` (``get_labels_start_end_time``, ``f_score``).

The per-frame Python walk that the vectorised F1@k must agree with; used by the property
test and by ``benchmarks/metrics.py`` as the slow baseline. Kept verbatim in logic,
including its crash on a video without GT segments (bug B1 of docs/metrics.md).
"""
import numpy as np


# --------------------------------------------------------------------------------------
def ref_get_labels_start_end_time(frame_wise_labels, bg_class=["background"]):  # noqa: B006
    labels = []
    starts = []
    ends = []
    last_label = frame_wise_labels[0]
    if frame_wise_labels[0] not in bg_class:
        labels.append(frame_wise_labels[0])
        starts.append(0)
    for i in range(len(frame_wise_labels)):
        if frame_wise_labels[i] != last_label:
            if frame_wise_labels[i] not in bg_class:
                labels.append(frame_wise_labels[i])
                starts.append(i)
            if last_label not in bg_class:
                ends.append(i)
            last_label = frame_wise_labels[i]
    if last_label not in bg_class:
        ends.append(i + 1)
    return labels, starts, ends


def ref_f_score(recognized, ground_truth, overlap, bg_class=["background"]):  # noqa: B006
    p_label, p_start, p_end = ref_get_labels_start_end_time(recognized, bg_class)
    y_label, y_start, y_end = ref_get_labels_start_end_time(ground_truth, bg_class)
    tp = 0
    fp = 0
    hits = np.zeros(len(y_label))
    for j in range(len(p_label)):
        intersection = np.minimum(p_end[j], y_end) - np.maximum(p_start[j], y_start)
        union = np.maximum(p_end[j], y_end) - np.minimum(p_start[j], y_start)
        IoU = (1.0 * intersection / union) * ([p_label[j] == y_label[x] for x in range(len(y_label))])
        idx = np.array(IoU).argmax()
        if IoU[idx] >= overlap and not hits[idx]:
            tp += 1
            hits[idx] = 1
        else:
            fp += 1
    fn = len(y_label) - sum(hits)
    return float(tp), float(fp), float(fn)
