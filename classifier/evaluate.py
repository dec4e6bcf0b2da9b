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
    LABELS_DIR,
    OWN_VAL_PERCENT,
    SENTIMENT_VAL_PERCENT,
    DataError,
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


UNSEEN = LABELS_DIR / "eval_unseen.jsonl"


def read_labelled(path: Path) -> list[tuple[str, bool | None, frozenset[str] | None, str]]:
    """A labelled evaluation file, JSON Lines `{"text", "sentiment", "causes", "category"|"domain"}`:
    (text, negative or None, causes or None, category). Unknown parts are left out of the figures."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                sentiment = rec.get("sentiment")
                causes = rec.get("causes")
                out.append((rec["text"], None if sentiment is None else sentiment == "negative",
                            None if causes is None else parse_causes(";".join(causes)),
                            str(rec.get("category") or rec.get("domain") or "")))
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}:{lineno}: {exc}") from exc
    return out


def labelled_figures(model: ReviewClassifier, path: Path) -> dict[str, Any]:
    """Sentiment and causes on a labelled file, overall, per category and per cause, with 95%
    intervals (Wilson for accuracy, bootstrap for F1)."""
    rows = read_labelled(path)
    an = [analyse(text) for text, _, _, _ in rows]
    sent = [i for i, r in enumerate(rows) if r[1] is not None]
    caused = [i for i, r in enumerate(rows) if r[2] is not None]
    return {
        "file": path.name,
        "size": len(rows),
        "sentiment": sentiment_figures(model, [an[i] for i in sent], np.array([rows[i][1] for i in sent], dtype=bool),
                                       [rows[i][3] for i in sent]),
        "causes": cause_figures(model, [an[i] for i in caused], [rows[i][2] for i in caused],
                                [rows[i][3] for i in caused]),
    }


def evaluate(models_dir: Path, labelled: str | None = None, unseen: Path | None = None) -> dict[str, Any]:
    """Figures of the shipped model on the held-out splits (and optionally on a labelled file, and
    on the independent unseen-category test set)."""
    model = ReviewClassifier.load(models_dir)
    report: dict[str, Any] = {"version": model.version}
    if unseen is not None:
        # The unseen-category set is measured on its own: it is read by nothing else, never trained
        # or tuned on, and the figures go to the model card once per final model.
        report["unseen"] = labelled_figures(model, unseen)
        return report
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
        report["input"] = labelled_figures(model, Path(labelled))
    return report
