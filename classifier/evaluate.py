"""Measure a model: sentiment accuracy and cause precision/recall/F1 through the shipped decision rule.

`evaluate()` re-creates the validation splits that `train` held out (by content hash and row id,
so they are the same rows every time) and scores them with the model as shipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from classifier.causes import parse_causes
from classifier.data import (
    CAUSE_TEST_PERCENT,
    OWN_VAL_PERCENT,
    SENTIMENT_VAL_PERCENT,
    in_validation,
    is_cause_test_row,
    read_cause_labels,
    read_corpus,
    read_own_examples,
    train_only_rows,
)
from classifier.features import analyse
from classifier.metrics import cause_figures, prf, sentiment_figures
from classifier.model import ReviewClassifier
from classifier.normalize import normalize

__all__ = ["cause_figures", "evaluate", "prf", "sentiment_figures"]


def evaluate(models_dir: Path, labelled: str | None = None) -> dict[str, Any]:
    """Figures of the shipped model on the held-out splits (and optionally on a labelled file)."""
    model = ReviewClassifier.load(models_dir)
    report: dict[str, Any] = {"version": model.version}
    corpus = read_corpus()
    # The split is by normalised text (as in train); normalising is cheap, tokenizing is not.
    val_rows = [r for r in corpus if in_validation(normalize(r.text), SENTIMENT_VAL_PERCENT)]
    an = [analyse(r.text) for r in val_rows]
    report["sentiment_validation"] = sentiment_figures(model, an, np.array([not r.positive for r in val_rows]),
                                                       [r.category for r in val_rows])
    own = [e for e in read_own_examples() if in_validation(e.text, OWN_VAL_PERCENT)]
    if own:
        report["own_validation"] = sentiment_figures(model, [analyse(e.text) for e in own],
                                                     np.array([e.negative for e in own]), [e.domain for e in own])
    labels = read_cause_labels()
    train_only = train_only_rows()
    test_rows = {r for r in labels if is_cause_test_row(r, train_only, CAUSE_TEST_PERCENT)}
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
