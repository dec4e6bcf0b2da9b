"""Figures of a model through the shipped decision rule: sentiment accuracy and cause
precision/recall/F1, with Wilson 95% confidence intervals where a figure is a proportion."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from classifier.causes import CAUSES, SPECIFIC_CAUSES
from classifier.features import Analysed
from classifier.model import ReviewClassifier


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval of a proportion (None for n == 0)."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def prf(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    tp = int(np.sum(y_true & y_pred))
    fp = int(np.sum(~y_true & y_pred))
    fn = int(np.sum(y_true & ~y_pred))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": int(y_true.sum())}


def sentiment_figures(model: ReviewClassifier, analysed: Sequence[Analysed], negative: np.ndarray,
                      groups: Sequence[str] | None = None) -> dict[str, Any]:
    preds = model.predict_analysed(analysed, explain=False)
    pred_neg = np.array([p.sentiment == "negative" for p in preds])
    correct = pred_neg == np.asarray(negative, dtype=bool)
    out: dict[str, Any] = {"accuracy": round(float(correct.mean()), 4) if len(correct) else None, "size": len(correct)}
    if groups is not None:
        g = np.asarray(groups)
        out["by_group"] = {k: round(float(correct[g == k].mean()), 4) for k in sorted(set(g))}
    return out


def cause_figures(model: ReviewClassifier, analysed: Sequence[Analysed], truth: Sequence[frozenset[str]]) -> dict[str, Any]:
    preds = model.predict_analysed(analysed, explain=False)
    per = {}
    for c in CAUSES:
        per[c] = prf(np.array([c in t for t in truth]), np.array([c in p.causes for p in preds]))
    return {
        "size": len(truth),
        "per_class": per,
        "macro_f1_specific": round(float(np.mean([per[c]["f1"] for c in SPECIFIC_CAUSES])), 4),
        "exact_match": round(float(np.mean([set(p.causes) == set(t) for p, t in zip(preds, truth, strict=True)])), 4)
        if truth else None,
    }


