"""Feature extraction: jieba words, word bigrams and character uni/bigrams, TF-IDF weighted.

A review's features are its tokens, its adjacent token pairs, its characters and adjacent
character pairs (spaces removed). `features_of` spells them out as strings, which is how the
vocabulary is fitted and stored; `Vectorizer.transform` computes the same counts without building
a string per feature: tokens are looked up once, and pairs and characters become integer keys
(two vocabulary ids, or two code points) matched against sorted key arrays in numpy, for a whole
batch at once. That is the hot path of every scoring job, and it also yields the per-clause
matrix that complaint spans are scored on, from the same arrays. `fit_vocabulary` mirrors
`TfidfVectorizer(min_df=..., sublinear_tf=True, norm="l2", smooth_idf=True)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain, pairwise, repeat

import numpy as np
import scipy.sparse as sp

from classifier.normalize import normalize
from classifier.tokenize import NEGATION_MARK, Segmented, segment

__all__ = ["Analysed", "Vectorizer", "analyse", "display_term", "features_of"]

# Character n-grams are prefixed so that the single-character word 好 and the character 好 stay
# separate features (normalisation removes "#" from the text, so no word starts with it); word
# bigrams are joined by a space, which no token contains.
CHAR_PREFIX = "#"
# Code points fit in 21 bits: a character pair is one int64 key.
_CP_BITS = 21


class Analysed:
    """One review after normalisation, tokenization and clause splitting."""

    __slots__ = ("normalized", "seg", "text")

    def __init__(self, text: str, normalized: str, seg: Segmented) -> None:
        self.text = text
        self.normalized = normalized
        self.seg = seg

    @property
    def tokens(self) -> list[str]:
        return self.seg.tokens

    @property
    def features(self) -> list[str]:
        return features_of(self.normalized, self.seg.tokens)


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
    return Analysed(text, normalized, segment(normalized))


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


def _lookup(keys: np.ndarray, table_keys: np.ndarray, table_cols: np.ndarray) -> np.ndarray:
    """Column of each key in a sorted key table, -1 where absent."""
    if not len(table_keys) or not len(keys):
        return np.full(len(keys), -1, dtype=np.int64)
    pos = np.searchsorted(table_keys, keys)
    pos[pos >= len(table_keys)] = 0
    return np.where(table_keys[pos] == keys, table_cols[pos], -1)


class Batch:
    """Feature matrices of a batch: one row per review, and one row per clause of the reviews
    that have more than one clause (`clause_review[k]` is the review of clause row k,
    `clause_index[k]` its position among that review's clauses)."""

    __slots__ = ("X", "X_clauses", "clause_index", "clause_review")

    def __init__(self, X: sp.csr_matrix, X_clauses: sp.csr_matrix, clause_review: np.ndarray,
                 clause_index: np.ndarray) -> None:
        self.X = X
        self.X_clauses = X_clauses
        self.clause_review = clause_review
        self.clause_index = clause_index


class Vectorizer:
    """Vocabulary plus inverse document frequencies; turns analysed reviews into CSR matrices."""

    # Lookup tables derived from the vocabulary, saved with the model so that loading does not
    # re-parse 300k feature strings (~1.5 s): columns of the words, and sorted integer keys with
    # their columns for word pairs (two word columns), characters and character pairs (code points).
    TABLES = ("word_cols", "word_pair_keys", "word_pair_cols", "char_keys", "char_cols",
              "char_pair_keys", "char_pair_cols")

    def __init__(self, terms: Sequence[str], idf: np.ndarray, tables: dict[str, np.ndarray] | None = None) -> None:
        if len(terms) != len(idf):
            raise ValueError("vocabulary and idf lengths differ")
        self.terms = list(terms)
        self.idf = np.asarray(idf, dtype=np.float32)
        self._arrays = tables if tables is not None and all(k in tables for k in self.TABLES) else None
        self._tables: tuple | None = None

    @property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.terms)}

    def table_arrays(self) -> dict[str, np.ndarray]:
        """The lookup tables as plain integer arrays (saved in the model file)."""
        if self._arrays is None:
            self._arrays = self._derive_tables()
        return self._arrays

    def _derive_tables(self) -> dict[str, np.ndarray]:
        words: dict[str, int] = {}
        pairs: list[tuple[str, str, int]] = []
        cu_keys: list[int] = []
        cu_cols: list[int] = []
        cb_keys: list[int] = []
        cb_cols: list[int] = []
        for i, t in enumerate(self.terms):
            if t.startswith(CHAR_PREFIX) and len(t) in (2, 3):
                if len(t) == 2:
                    cu_keys.append(ord(t[1]))
                    cu_cols.append(i)
                else:
                    cb_keys.append((ord(t[1]) << _CP_BITS) | ord(t[2]))
                    cb_cols.append(i)
            elif " " in t:
                a, _, b = t.partition(" ")
                pairs.append((a, b, i))
            else:
                words[t] = i
        n = len(self.terms)
        wb_keys: list[int] = []
        wb_cols: list[int] = []
        for a, b, i in pairs:
            ia, ib = words.get(a), words.get(b)
            if ia is not None and ib is not None:
                wb_keys.append(ia * n + ib)
                wb_cols.append(i)

        def table(keys: list[int], cols: list[int]) -> tuple[np.ndarray, np.ndarray]:
            k = np.asarray(keys, dtype=np.int64)
            order = np.argsort(k, kind="stable")
            return k[order], np.asarray(cols, dtype=np.int64)[order]

        out = {"word_cols": np.fromiter(words.values(), dtype=np.int64, count=len(words))}
        out["word_pair_keys"], out["word_pair_cols"] = table(wb_keys, wb_cols)
        out["char_keys"], out["char_cols"] = table(cu_keys, cu_cols)
        out["char_pair_keys"], out["char_pair_cols"] = table(cb_keys, cb_cols)
        return out

    def _build_tables(self) -> tuple:
        t = self.table_arrays()
        terms = self.terms
        words = {terms[i]: i for i in t["word_cols"].tolist()}
        self._tables = (words, (t["word_pair_keys"], t["word_pair_cols"]), (t["char_keys"], t["char_cols"]),
                        (t["char_pair_keys"], t["char_pair_cols"]))
        return self._tables

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

    def transform(self, docs: Sequence[Analysed]) -> sp.csr_matrix:
        return self.transform_batch(docs, clauses=False).X

    def transform_batch(self, docs: Sequence[Analysed], *, clauses: bool = True) -> Batch:
        words, (wb_k, wb_c), (cu_k, cu_c), (cb_k, cb_c) = self._tables or self._build_tables()
        n_terms = len(self.terms)
        n_docs = len(docs)
        segs = [d.seg for d in docs]

        # Clause rows exist only for reviews with two or more clauses: a one-clause review is its clause.
        n_clauses = np.fromiter((len(s.clauses) for s in segs), dtype=np.int64, count=n_docs)
        multi = n_clauses >= 2 if clauses else np.zeros(n_docs, dtype=bool)
        base = np.cumsum(np.where(multi, n_clauses, 0)) - np.where(multi, n_clauses, 0)
        clause_review = np.repeat(np.arange(n_docs, dtype=np.int64), np.where(multi, n_clauses, 0))
        clause_index = np.arange(len(clause_review), dtype=np.int64) - np.repeat(base, np.where(multi, n_clauses, 0))
        n_rows_c = len(clause_review)

        # --- words and word pairs ----------------------------------------------------------------
        n_tok = np.fromiter((len(s.tokens) for s in segs), dtype=np.int64, count=n_docs)
        total_tok = int(n_tok.sum())
        wid = np.fromiter(map(words.get, chain.from_iterable(s.tokens for s in segs), repeat(-1, total_tok)),
                          dtype=np.int64, count=total_tok)
        tok_doc = np.repeat(np.arange(n_docs, dtype=np.int64), n_tok)
        rows = [tok_doc]
        cols = [wid]
        same = tok_doc[1:] == tok_doc[:-1]
        pair_col = _lookup(wid[:-1] * n_terms + wid[1:], wb_k, wb_c)
        pair_col[~same | (wid[:-1] < 0) | (wid[1:] < 0)] = -1
        rows.append(tok_doc[:-1])
        cols.append(pair_col)
        c_rows: list[np.ndarray] = []
        c_cols: list[np.ndarray] = []
        if n_rows_c:
            tok_clause = np.fromiter(chain.from_iterable(s.token_clause for s in segs), dtype=np.int64, count=total_tok)
            tok_clause = np.where(np.repeat(multi, n_tok) & (tok_clause >= 0), tok_clause + np.repeat(base, n_tok), -1)
            c_rows.append(tok_clause)
            c_cols.append(wid)
            same_c = (tok_clause[1:] == tok_clause[:-1]) & (tok_clause[1:] >= 0)
            c_rows.append(np.where(same_c, tok_clause[:-1], -1))
            c_cols.append(pair_col)

        # --- characters and character pairs (spaces removed) --------------------------------------
        lengths = np.fromiter((len(d.normalized) for d in docs), dtype=np.int64, count=n_docs)
        cps = np.frombuffer("".join(d.normalized for d in docs).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ch_doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        keep = cps != 32
        if n_rows_c:
            raw_len = np.fromiter(chain.from_iterable(s.raw_lengths for s in segs), dtype=np.int64)
            raw_clause = np.fromiter(chain.from_iterable(s.raw_clause for s in segs), dtype=np.int64)
            n_raw = np.fromiter((len(s.raw_lengths) for s in segs), dtype=np.int64, count=n_docs)
            raw_clause = np.where(np.repeat(multi, n_raw) & (raw_clause >= 0), raw_clause + np.repeat(base, n_raw), -1)
            ch_clause = np.repeat(raw_clause, raw_len)[keep]
        cps, ch_doc = cps[keep], ch_doc[keep]
        ch_col = _lookup(cps, cu_k, cu_c)
        rows.append(ch_doc)
        cols.append(ch_col)
        same = ch_doc[1:] == ch_doc[:-1]
        cpair_col = _lookup((cps[:-1] << _CP_BITS) | cps[1:], cb_k, cb_c)
        cpair_col[~same] = -1
        rows.append(ch_doc[:-1])
        cols.append(cpair_col)
        if n_rows_c:
            c_rows.append(ch_clause)
            c_cols.append(ch_col)
            same_c = (ch_clause[1:] == ch_clause[:-1]) & (ch_clause[1:] >= 0)
            c_rows.append(np.where(same_c, ch_clause[:-1], -1))
            c_cols.append(cpair_col)

        X = self._tfidf(rows, cols, n_docs)
        X_clauses = self._tfidf(c_rows, c_cols, n_rows_c) if n_rows_c else sp.csr_matrix((0, n_terms), dtype=np.float32)
        return Batch(X, X_clauses, clause_review, clause_index)

    def _tfidf(self, rows: list[np.ndarray], cols: list[np.ndarray], n_rows: int) -> sp.csr_matrix:
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        known = (c >= 0) & (r >= 0)
        r, c = r[known], c[known]
        X = sp.csr_matrix((np.ones(len(c), dtype=np.float32), (r, c)), shape=(n_rows, len(self.terms)))
        X.sum_duplicates()
        # Sublinear tf, idf weighting and l2 row norms, as TfidfVectorizer(sublinear_tf=True) does.
        np.log(X.data, out=X.data)
        X.data += 1.0
        X.data *= self.idf[X.indices]
        per_row = np.diff(X.indptr)
        row_of = np.repeat(np.arange(n_rows), per_row)
        norms = np.sqrt(np.bincount(row_of, weights=X.data * X.data, minlength=n_rows)).astype(np.float32)
        norms[norms == 0] = 1.0
        X.data /= norms[row_of]
        return X
