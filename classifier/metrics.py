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


BOOTSTRAP = 1000
BOOTSTRAP_SEED = 20261201


def _f1(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """F1 per column of stacked boolean (resamples x items) arrays."""
    tp = (t & p).sum(axis=-1)
    denom = t.sum(axis=-1) + p.sum(axis=-1)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def bootstrap_f1(truth: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """95% percentile-bootstrap intervals of per-cause F1 and of the macro F1 over the specific
    causes; `truth`/`pred` are (items x causes) boolean arrays in CAUSES order. Seeded: the same
    data gives the same interval."""
    n = truth.shape[0]
    if n == 0:
        return {}
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    out: dict[str, Any] = {}
    f1s = []
    for k, c in enumerate(CAUSES):
        f = np.empty(BOOTSTRAP)
        for start in range(0, BOOTSTRAP, 100):
            idx = rng.integers(0, n, size=(min(100, BOOTSTRAP - start), n))
            f[start:start + len(idx)] = _f1(truth[idx, k], pred[idx, k])
        f1s.append(f)
        out[c] = (round(float(np.percentile(f, 2.5)), 4), round(float(np.percentile(f, 97.5)), 4))
    macro = np.mean([f1s[CAUSES.index(c)] for c in SPECIFIC_CAUSES], axis=0)
    out["macro_specific"] = (round(float(np.percentile(macro, 2.5)), 4), round(float(np.percentile(macro, 97.5)), 4))
    return out


def sentiment_figures(model: ReviewClassifier, analysed: Sequence[Analysed], negative: np.ndarray,
                      groups: Sequence[str] | None = None) -> dict[str, Any]:
    """Accuracy with its Wilson 95% interval, overall and per group (`by_group`: accuracy only;
    `groups`: accuracy, size and interval)."""
    preds = model.predict_analysed(analysed, explain=False)
    pred_neg = np.array([p.sentiment == "negative" for p in preds], dtype=bool)
    correct = pred_neg == np.asarray(negative, dtype=bool)
    out: dict[str, Any] = {"accuracy": round(float(correct.mean()), 4) if len(correct) else None, "size": len(correct),
                           "ci95": wilson(int(correct.sum()), len(correct))}
    if groups is not None:
        g = np.asarray(groups)
        out["by_group"] = {k: round(float(correct[g == k].mean()), 4) for k in sorted(set(g))}
        out["groups"] = {k: {"accuracy": round(float(correct[g == k].mean()), 4), "size": int((g == k).sum()),
                             "ci95": wilson(int(correct[g == k].sum()), int((g == k).sum()))} for k in sorted(set(g))}
    return out


def cause_figures(model: ReviewClassifier, analysed: Sequence[Analysed], truth: Sequence[frozenset[str]],
                  groups: Sequence[str] | None = None) -> dict[str, Any]:
    """Per-cause precision/recall/F1 (F1 with a bootstrap 95% interval) and the macro F1 over
    the specific causes; with `groups`, the same per group."""
    preds = model.predict_analysed(analysed, explain=False)
    T = np.array([[c in t for c in CAUSES] for t in truth], dtype=bool).reshape(-1, len(CAUSES))
    P = np.array([[c in p.causes for c in CAUSES] for p in preds], dtype=bool).reshape(-1, len(CAUSES))
    out = _cause_block(T, P)
    out["exact_match"] = round(float(np.mean([set(p.causes) == set(t) for p, t in zip(preds, truth, strict=True)])),
                               4) if truth else None
    if groups is not None:
        g = np.asarray(groups)
        out["groups"] = {k: _cause_block(T[g == k], P[g == k]) for k in sorted(set(g))}
    return out


def _cause_block(T: np.ndarray, P: np.ndarray) -> dict[str, Any]:
    per = {c: prf(T[:, k], P[:, k]) for k, c in enumerate(CAUSES)}
    ci = bootstrap_f1(T, P)
    for c in CAUSES:
        per[c]["f1_ci95"] = ci.get(c)
    return {
        "size": int(T.shape[0]),
        "per_class": per,
        "macro_f1_specific": round(float(np.mean([per[c]["f1"] for c in SPECIFIC_CAUSES])), 4),
        "macro_f1_ci95": ci.get("macro_specific"),
    }
