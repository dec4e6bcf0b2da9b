"""Measure a model: sentiment accuracy and cause precision/recall/F1 through the shipped decision rule.

`evaluate()` re-creates the validation splits that `train` held out (by content hash and row id,
so they are the same rows every time) and scores them with the model as shipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from classifier.causes import CAUSES, SPECIFIC_CAUSES, parse_causes
from classifier.features import Analysed, analyse
from classifier.model import ReviewClassifier
from classifier.normalize import normalize


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


def evaluate(models_dir: Path, labelled: str | None = None) -> dict[str, Any]:
    """Figures of the shipped model on the held-out splits (and optionally on a labelled file)."""
    from classifier import train as t
    from classifier.data import (
        in_validation,
        is_cause_test_row,
        read_cause_labels,
        read_corpus,
        read_own_examples,
        train_only_rows,
    )

    model = ReviewClassifier.load(models_dir)
    report: dict[str, Any] = {"version": model.version}
    corpus = read_corpus()
    # The split is by normalised text (as in train); normalising is cheap, tokenizing is not.
    val_rows = [r for r in corpus if in_validation(normalize(r.text), t.SENTIMENT_VAL_PERCENT)]
    an = [analyse(r.text) for r in val_rows]
    report["sentiment_validation"] = sentiment_figures(model, an, np.array([not r.positive for r in val_rows]),
                                                       [r.category for r in val_rows])
    own = [e for e in read_own_examples() if in_validation(e.text, t.OWN_VAL_PERCENT)]
    if own:
        report["own_validation"] = sentiment_figures(model, [analyse(e.text) for e in own],
                                                     np.array([e.negative for e in own]), [e.domain for e in own])
    labels = read_cause_labels()
    train_only = train_only_rows()
    test_rows = {r for r in labels if is_cause_test_row(r, train_only, t.CAUSE_TEST_PERCENT)}
    by_row = {r.row: r for r in corpus}
    rows = sorted(r for r in test_rows if r in by_row)
    report["cause_test"] = cause_figures(model, [analyse(by_row[r].text) for r in rows], [labels[r] for r in rows])
    if labelled:
        texts, neg, causes = [], [], []
        with open(labelled, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    texts.append(rec["text"])
                    neg.append(rec.get("sentiment") == "negative")
                    causes.append(parse_causes(";".join(rec.get("causes", []))))
        an = [analyse(x) for x in texts]
        report["input"] = {"sentiment": sentiment_figures(model, an, np.array(neg)), "causes": cause_figures(model, an, causes)}
    return report
