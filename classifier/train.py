"""Rebuild the shipped models from ../shared data plus the project's own labels.

Deterministic: the same inputs give byte-identical model arrays (fixed solver seeds, sorted
vocabulary, zip entries with fixed timestamps), so a model can be rebuilt and checked against
the committed one.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.causes import CAUSES, SPECIFIC_CAUSES
from classifier.data import (
    CorpusRow,
    Example,
    in_validation,
    read_cause_labels,
    read_corpus,
    read_own_examples,
    read_second_pass,
)
from classifier.features import Analysed, Vectorizer, analyse
from classifier.model import MODEL_NAME, OUTPUTS, ReviewClassifier
from classifier.weak import weak_causes

# Hyper-parameters, chosen once on an earlier content-hash split of the corpus (see the model card).
SENTIMENT_C = 8.0
CAUSE_C = 4.0
MIN_DF = 2
SENTIMENT_VAL_PERCENT = 10
OWN_VAL_PERCENT = 20
CAUSE_TEST_PERCENT = 20
OWN_WEIGHT = 3.0
WEAK_WEIGHT = 0.3
WEAK_POSITIVES = 3000
CV_FOLDS = 5
SEED = 20261126


@dataclass
class Item:
    example: Example
    analysed: Analysed
    row: int | None = None


def _progress(iterable, total: int, desc: str):
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit="review")
    return iterable


def _analyse_all(examples: Sequence[Example], desc: str) -> list[Analysed]:
    return [analyse(e.text) for e in _progress(examples, len(examples), desc)]


def _fit_lr(X, y: np.ndarray, weights: np.ndarray, C: float):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, solver="liblinear", max_iter=5000, random_state=SEED)
    model.fit(X, y, sample_weight=weights)
    return model


def _fit_platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    lr.fit(scores.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _prf(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    tp = int(np.sum(y_true & y_pred))
    fp = int(np.sum(~y_true & y_pred))
    fn = int(np.sum(y_true & ~y_pred))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": int(y_true.sum())}


def _best_threshold(probs: np.ndarray, y: np.ndarray) -> float:
    best, best_f = 0.5, -1.0
    for t in np.arange(0.1, 0.9, 0.02):
        f = _prf(y, probs >= t)["f1"]
        if f > best_f + 1e-9:
            best, best_f = float(round(t, 2)), f
    return best


def _cause_matrix(examples: Sequence[Example]) -> np.ndarray:
    return np.array([[c in (e.causes or ()) for c in CAUSES] for e in examples], dtype=bool)


def train(
    output_dir: Path,
    corpus: Sequence[CorpusRow] | None = None,
    cause_labels: dict[int, frozenset[str]] | None = None,
    own: Sequence[Example] | None = None,
    *,
    log=print,
) -> dict[str, Any]:
    """Train sentiment and cause models, write them to `output_dir`, and return the figures."""
    corpus = list(corpus if corpus is not None else read_corpus())
    cause_labels = dict(cause_labels if cause_labels is not None else read_cause_labels())
    own = list(own if own is not None else read_own_examples())

    corpus_examples = [
        Example(r.text, not r.positive, cause_labels.get(r.row), "corpus", r.category) for r in corpus
    ]
    log(f"analysing {len(corpus_examples)} corpus reviews and {len(own)} own examples")
    corpus_an = _analyse_all(corpus_examples, "corpus")
    own_an = _analyse_all(own, "own examples")

    # --- splits -------------------------------------------------------------------------------
    c_val = np.array([in_validation(a.normalized, SENTIMENT_VAL_PERCENT) for a in corpus_an])
    o_val = np.array([in_validation(e.text, OWN_VAL_PERCENT) for e in own], dtype=bool)
    # Cause test rows are drawn by row id, independently of the sentiment split.
    cause_rows = sorted(cause_labels)
    cause_test = {r for r in cause_rows if in_validation(f"cause-test:{r}", CAUSE_TEST_PERCENT)}

    train_feats = [a.features for a, v in zip(corpus_an, c_val, strict=True) if not v]
    train_feats += [a.features for a, v in zip(own_an, o_val, strict=True) if not v]
    vectorizer = Vectorizer.fit(train_feats, min_df=MIN_DF)
    log(f"vocabulary: {len(vectorizer.terms)} features")

    X_corpus = vectorizer.transform([a.features for a in corpus_an])
    X_own = vectorizer.transform([a.features for a in own_an]) if own else None
    y_corpus = np.array([e.negative for e in corpus_examples], dtype=bool)
    y_own = np.array([e.negative for e in own], dtype=bool)

    # --- sentiment ----------------------------------------------------------------------------
    import scipy.sparse as sp

    tr_parts, y_parts, w_parts = [X_corpus[~c_val]], [y_corpus[~c_val]], [np.ones(int((~c_val).sum()))]
    if own:
        tr_parts.append(X_own[~o_val])
        y_parts.append(y_own[~o_val])
        w_parts.append(np.full(int((~o_val).sum()), OWN_WEIGHT))
    sentiment = _fit_lr(sp.vstack(tr_parts).tocsr(), np.concatenate(y_parts), np.concatenate(w_parts), SENTIMENT_C)
    s_val = sentiment.decision_function(X_corpus[c_val])
    val_scores = [s_val]
    val_y = [y_corpus[c_val]]
    if own and o_val.any():
        val_scores.append(sentiment.decision_function(X_own[o_val]))
        val_y.append(y_own[o_val])
    platt = _fit_platt(np.concatenate(val_scores), np.concatenate(val_y))
    figures: dict[str, Any] = {"sentiment": {}}
    acc = float(np.mean((s_val > 0) == y_corpus[c_val]))
    figures["sentiment"]["validation_accuracy"] = round(acc, 4)
    figures["sentiment"]["validation_size"] = int(c_val.sum())
    cats = np.array([e.domain for e in corpus_examples])
    figures["sentiment"]["by_category"] = {
        cat: round(float(np.mean((s_val[cats[c_val] == cat] > 0) == y_corpus[c_val][cats[c_val] == cat])), 4)
        for cat in sorted(set(cats[c_val]))
    }
    if own and o_val.any():
        s_own = sentiment.decision_function(X_own[o_val])
        domains = np.array([e.domain for e in own])[o_val]
        food = domains == "food_delivery"
        figures["sentiment"]["own_validation_accuracy"] = round(float(np.mean((s_own > 0) == y_own[o_val])), 4)
        if food.any():
            figures["sentiment"]["own_food_delivery_accuracy"] = round(float(np.mean((s_own[food] > 0) == y_own[o_val][food])), 4)
            figures["sentiment"]["own_food_delivery_size"] = int(food.sum())
    log(f"sentiment validation accuracy {acc:.4f} on {int(c_val.sum())} reviews")

    # --- causes -------------------------------------------------------------------------------
    row_index = {r.row: i for i, r in enumerate(corpus)}
    hand_train = [row_index[r] for r in cause_rows if r not in cause_test and r in row_index]
    hand_test = [row_index[r] for r in cause_rows if r in cause_test and r in row_index]
    hand_ids = set(hand_train) | set(hand_test)
    # Weak supervision: labelling-function votes on unlabelled training rows, plus plain praise as
    # "no cause"; low weight, so the hand labels lead wherever they speak.
    weak_idx, weak_y = [], []
    rng = np.random.default_rng(SEED)
    praise_pool = []
    for i, (ex, an) in enumerate(zip(corpus_examples, corpus_an, strict=True)):
        if i in hand_ids or c_val[i]:
            continue
        votes = weak_causes(an.normalized)
        if votes:
            weak_idx.append(i)
            weak_y.append([c in votes for c in CAUSES])
        elif not ex.negative:
            praise_pool.append(i)
    praise = sorted(rng.choice(praise_pool, size=min(WEAK_POSITIVES, len(praise_pool)), replace=False).tolist())
    weak_idx += praise
    weak_y += [[False] * len(CAUSES)] * len(praise)
    log(f"causes: {len(hand_train)} hand-labelled training rows, {len(hand_test)} test rows, "
        f"{len(own)} own examples, {len(weak_idx)} weakly labelled rows")

    Y_hand_train = _cause_matrix([corpus_examples[i] for i in hand_train])
    Y_hand_test = _cause_matrix([corpus_examples[i] for i in hand_test])
    Y_own = _cause_matrix(own) if own else np.zeros((0, len(CAUSES)), bool)
    extra_X = [X_corpus[weak_idx]] + ([X_own] if own else [])
    extra_Y = np.vstack([np.array(weak_y, dtype=bool).reshape(-1, len(CAUSES)), Y_own])
    extra_w = np.concatenate([np.full(len(weak_idx), WEAK_WEIGHT), np.full(len(own), 1.0)])
    X_hand_train = X_corpus[hand_train]

    def fit_causes(train_rows: np.ndarray) -> list:
        X = sp.vstack([X_hand_train[train_rows], *extra_X]).tocsr()
        Y = np.vstack([Y_hand_train[train_rows], extra_Y])
        w = np.concatenate([np.ones(len(train_rows)), extra_w])
        return [_fit_lr(X, Y[:, k], w, CAUSE_C) for k in range(len(CAUSES))]

    # Out-of-fold probabilities on the hand-labelled training rows choose the thresholds.
    folds = np.arange(len(hand_train)) % CV_FOLDS
    rng.shuffle(folds)
    oof = np.zeros((len(hand_train), len(CAUSES)))
    oof_neg = sentiment.decision_function(X_hand_train)
    for f in range(CV_FOLDS):
        models = fit_causes(np.where(folds != f)[0])
        for k, m in enumerate(models):
            oof[folds == f, k] = m.predict_proba(X_hand_train[folds == f])[:, 1]
    thresholds = {c: _best_threshold(oof[:, k], Y_hand_train[:, k]) for k, c in enumerate(CAUSES)}
    log(f"cause thresholds (cross-validated): {thresholds}")

    final = fit_causes(np.arange(len(hand_train)))
    weights = np.column_stack([sentiment.coef_.ravel()] + [m.coef_.ravel() for m in final]).astype(np.float32)
    bias = np.array([sentiment.intercept_[0]] + [m.intercept_[0] for m in final], dtype=np.float32)
    assert weights.shape[1] == len(OUTPUTS)
    meta: dict[str, Any] = {
        "name": MODEL_NAME,
        "calibration": {"a": round(platt[0], 6), "b": round(platt[1], 6)},
        "thresholds": thresholds,
        "outputs": list(OUTPUTS),
        "features": {"min_df": MIN_DF, "n_features": len(vectorizer.terms)},
        "hyperparameters": {"sentiment_C": SENTIMENT_C, "cause_C": CAUSE_C, "own_weight": OWN_WEIGHT,
                            "weak_weight": WEAK_WEIGHT},
        "training": {
            "corpus_reviews": len(corpus),
            "sentiment_train": int((~c_val).sum()) + int((~o_val).sum()),
            "hand_labelled_rows": len(cause_rows),
            "hand_train": len(hand_train),
            "hand_test": len(hand_test),
            "own_examples": len(own),
            "weak_rows": len(weak_idx),
            "label_counts": {c: int(Y_hand_train[:, k].sum() + Y_hand_test[:, k].sum()) for k, c in enumerate(CAUSES)},
            "own_label_counts": {c: int(Y_own[:, k].sum()) for k, c in enumerate(CAUSES)},
        },
    }
    classifier = ReviewClassifier(vectorizer, weights, bias, dict(meta, version="pending"))

    # --- figures on the held-out hand-labelled rows, through the shipped decision rule ---------
    test_preds = classifier.predict_analysed([corpus_an[i] for i in hand_test], explain=False)
    pred = np.array([[c in p.causes for c in CAUSES] for p in test_preds], dtype=bool)
    per = {c: _prf(Y_hand_test[:, k], pred[:, k]) for k, c in enumerate(CAUSES)}
    macro = round(float(np.mean([per[c]["f1"] for c in SPECIFIC_CAUSES])), 4)
    figures["causes"] = {"test_size": len(hand_test), "per_class": per, "macro_f1_specific": macro}
    log(f"cause test macro F1 (logistics/defect/description_mismatch): {macro} on {len(hand_test)} rows")
    oof_pred = {c: _prf(Y_hand_train[:, k], oof[:, k] >= thresholds[c]) for k, c in enumerate(CAUSES)}
    figures["causes"]["cross_validated"] = oof_pred
    del oof_neg

    try:
        second = read_second_pass()
        first = read_cause_labels()
        figures["agreement"] = _agreement(first, second)
    except FileNotFoundError:
        pass

    meta["figures"] = figures
    date = dt.datetime.fromtimestamp(int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or dt.datetime.now(dt.UTC).timestamp(), dt.UTC)
    meta["date"] = date.date().isoformat()
    classifier.meta = meta
    _save_deterministic(classifier, output_dir)
    return meta


def _agreement(first: dict[int, frozenset[str]], second: dict[int, frozenset[str]]) -> dict[str, Any]:
    rows = [r for r in second if r in first]
    out: dict[str, Any] = {"rows": len(rows), "exact_match": round(float(np.mean([first[r] == second[r] for r in rows])), 4)}
    for c in CAUSES:
        a = np.array([c in first[r] for r in rows])
        b = np.array([c in second[r] for r in rows])
        po = float(np.mean(a == b))
        pe = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
        out[c] = {"agreement": round(po, 4), "cohen_kappa": round((po - pe) / (1 - pe), 4) if pe < 1 else 1.0}
    return out


def _save_deterministic(classifier: ReviewClassifier, output_dir: Path) -> None:
    """Write the arrays with fixed zip timestamps, then name the version after their content."""
    import hashlib
    import io
    import json
    import zipfile

    output_dir.mkdir(parents=True, exist_ok=True)
    arrays = {
        "terms": np.frombuffer("\n".join(classifier.vectorizer.terms).encode("utf-8"), dtype=np.uint8),
        "idf": classifier.vectorizer.idf,
        "weights": classifier.weights,
        "bias": classifier.bias,
    }
    path = output_dir / f"{MODEL_NAME}.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    meta = dict(classifier.meta, arrays_sha256=digest, version=f"rc-{classifier.meta['date']}-{digest[:10]}")
    classifier.meta = meta
    classifier.version = meta["version"]
    (output_dir / f"{MODEL_NAME}.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
