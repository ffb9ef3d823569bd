"""
Serving metrics of the paper's §6.2: real-time accuracy / F1 and excess examples.

Real-time accuracy (§6.2.3) compares each prediction, made at time ``t``, with the
last known label at ``t`` (the label with the largest timestamp ``<= t``): a late
prediction is judged against the world as it is when it is issued.
"""

import bisect
from typing import Any, List, Sequence, Tuple

import numpy as np


def real_time_pairs(predictions: Sequence[Tuple[float, Any]], labels: Sequence[Tuple[float, Any]]
                    ) -> Tuple[List[Any], List[Any]]:
    """
    Return ``(y_true, y_pred)`` pairing each prediction with the last known label.

    Predictions made before the first label are skipped.

    :param predictions: ``(t, predicted_label)`` pairs, any order.
    :param labels: ``(t, true_label)`` pairs (the ground-truth stream), any order.
    """
    ordered = sorted(labels, key=lambda p: p[0])
    times = [t for t, _ in ordered]
    y_true, y_pred = [], []
    for t, pred in predictions:
        i = bisect.bisect_right(times, t) - 1
        if i >= 0:
            y_true.append(ordered[i][1])
            y_pred.append(pred)
    return y_true, y_pred


def real_time_accuracy(predictions: Sequence[Tuple[float, Any]],
                       labels: Sequence[Tuple[float, Any]]) -> float:
    """Fraction of predictions equal to the last known label at prediction time (0 if none)."""
    y_true, y_pred = real_time_pairs(predictions, labels)
    if not y_true:
        return 0.0
    return float(np.mean([a == b for a, b in zip(y_true, y_pred)]))


def macro_f1(y_true: Sequence[Any], y_pred: Sequence[Any]) -> float:
    """Macro-averaged F1 over the labels present in ``y_true`` or ``y_pred``."""
    labels = sorted(set(y_true) | set(y_pred), key=lambda v: (str(type(v)), str(v)))
    if not labels:
        return 0.0
    scores = []
    for lab in labels:
        tp = sum(1 for a, b in zip(y_true, y_pred) if a == lab and b == lab)
        fp = sum(1 for a, b in zip(y_true, y_pred) if a != lab and b == lab)
        fn = sum(1 for a, b in zip(y_true, y_pred) if a == lab and b != lab)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def real_time_f1(predictions: Sequence[Tuple[float, Any]],
                 labels: Sequence[Tuple[float, Any]]) -> float:
    """Macro-F1 of predictions against the last known label at prediction time (Table 2)."""
    return macro_f1(*real_time_pairs(predictions, labels))


def excess_examples(n_processed: int, n_input: int) -> int:
    """Examples processed beyond the input count (§6.2.4); negative means downsampling."""
    return int(n_processed) - int(n_input)
