"""Feature extraction: jieba words, word bigrams and character uni/bigrams, TF-IDF weighted.

Written against plain numpy/scipy instead of `TfidfVectorizer.transform` because this is the
hot path of every scoring job: one `map(vocabulary.get, ...)` per review and a single sparse
matrix build per batch is several times faster than scikit-learn's per-n-gram Python loop, and
it keeps scikit-learn out of the worker's import time. Training still uses scikit-learn for the
estimators; `fit_vocabulary` mirrors `TfidfVectorizer(min_df=..., sublinear_tf=True, norm="l2",
smooth_idf=True)` so the two agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise, repeat

import numpy as np
import scipy.sparse as sp

from classifier.normalize import normalize
from classifier.tokenize import NEGATION_MARK, tokenize_normalized

__all__ = ["Analysed", "Vectorizer", "analyse", "display_term", "features_of"]

# Character n-grams are prefixed so that the single-character word 好 and the character 好 stay
# separate features; word bigrams are joined by a space, which no token contains.
CHAR_PREFIX = "#"


class Analysed:
    """One review after normalisation and tokenization, ready for featurization."""

    __slots__ = ("features", "normalized", "tokens")

    def __init__(self, normalized: str, tokens: list[str]) -> None:
        self.normalized = normalized
        self.tokens = tokens
        self.features = features_of(normalized, tokens)


def features_of(normalized: str, tokens: list[str]) -> list[str]:
    """Feature strings of one review (repeats count as term frequency)."""
    feats = list(tokens)
    feats += [a + " " + b for a, b in pairwise(tokens)]
    chars = normalized.replace(" ", "")
    feats += [CHAR_PREFIX + c for c in chars]
    feats += [CHAR_PREFIX + a + b for a, b in pairwise(chars)]
    return feats


def analyse(text: str) -> Analysed:
    normalized = normalize(text)
    return Analysed(normalized, tokenize_normalized(normalized))


def is_explainable(feature: str) -> bool:
    """Whether a feature reads as a term to an agent: a jieba word or word pair of two or more
    characters without punctuation. Character n-grams help the model but straddle word
    boundaries ("递太" of 快递太慢), so they are never shown."""
    if feature.startswith(CHAR_PREFIX):
        return False
    term = display_term(feature)
    return len(term) >= 2 and all(ch.isalnum() for ch in term)


def display_term(feature: str) -> str:
    """Human-readable form of a feature, as agents see it highlighted in the review."""
    if feature.startswith(CHAR_PREFIX):
        feature = feature[len(CHAR_PREFIX):]
    return feature.replace(NEGATION_MARK, "不").replace(" ", "")


class Vectorizer:
    """Vocabulary plus inverse document frequencies; turns feature lists into a CSR matrix."""

    def __init__(self, terms: Sequence[str], idf: np.ndarray) -> None:
        if len(terms) != len(idf):
            raise ValueError("vocabulary and idf lengths differ")
        self.terms = list(terms)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.index = {t: i for i, t in enumerate(self.terms)}

    @classmethod
    def fit(cls, docs: Iterable[list[str]], min_df: int = 2) -> Vectorizer:
        df: Counter[str] = Counter()
        n_docs = 0
        for feats in docs:
            df.update(set(feats))
            n_docs += 1
        terms = sorted(t for t, c in df.items() if c >= min_df)
        counts = np.array([df[t] for t in terms], dtype=np.float64)
        idf = np.log((1 + n_docs) / (1 + counts)) + 1.0
        return cls(terms, idf.astype(np.float32))

    def transform(self, docs: Sequence[list[str]]) -> sp.csr_matrix:
        get = self.index.get
        cols: list[int] = []
        lengths = np.empty(len(docs), dtype=np.int64)
        # Unknown features map to -1 and are dropped below in one vectorised step: `map` with a
        # default keeps the per-feature work in C.
        for i, feats in enumerate(docs):
            cols.extend(map(get, feats, repeat(-1, len(feats))))
            lengths[i] = len(feats)
        col_arr = np.asarray(cols, dtype=np.int64)
        rows = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        known = col_arr >= 0
        col_arr, rows = col_arr[known], rows[known]
        data = np.ones(len(col_arr), dtype=np.float32)
        X = sp.csr_matrix((data, (rows, col_arr)), shape=(len(docs), len(self.terms)))
        X.sum_duplicates()
        # Sublinear tf, idf weighting and l2 row norms, as TfidfVectorizer(sublinear_tf=True) does.
        np.log(X.data, out=X.data)
        X.data += 1.0
        X.data *= self.idf[X.indices]
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        X.data /= np.repeat(norms, np.diff(X.indptr)).astype(np.float32)
        return X
