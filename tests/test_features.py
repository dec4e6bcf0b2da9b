"""The batch featurizer computes exactly the features `features_of` spells out, per review and per clause."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from classifier.features import Vectorizer, analyse, features_of

TEXTS = ["东西不错，就是物流太慢了", "物流太慢了，等了一个星期", "质量很好，很满意", "很不满意，质量太差了",
         "快递很快 东西不错", "颜色不错，可惜有色差", "", "好", "  👍👍 ", "發錯貨了！！！", "c#语言 #好评#"] * 2


def _reference(vec: Vectorizer, docs: list[list[str]]) -> sp.csr_matrix:
    index = vec.index
    rows, cols = [], []
    for i, feats in enumerate(docs):
        for f in feats:
            if f in index:
                rows.append(i)
                cols.append(index[f])
    X = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(docs), len(vec.terms)))
    X.sum_duplicates()
    X.data = (np.log(X.data) + 1) * vec.idf[X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return sp.csr_matrix(sp.diags(1 / norms) @ X)


def test_review_matrix_matches_the_feature_strings() -> None:
    analysed = [analyse(t) for t in TEXTS]
    vec = Vectorizer.fit([a.features for a in analysed], min_df=2)
    X = vec.transform_batch(analysed).X
    assert abs(X - _reference(vec, [a.features for a in analysed])).max() < 1e-6


def test_clause_matrix_matches_the_clauses_feature_strings() -> None:
    analysed = [analyse(t) for t in TEXTS]
    vec = Vectorizer.fit([a.features for a in analysed], min_df=2)
    batch = vec.transform_batch(analysed)
    docs = []
    for a in analysed:
        if len(a.seg.clauses) < 2:
            continue
        for k, (start, end) in enumerate(a.seg.clauses):
            tokens = [t for t, c in zip(a.seg.tokens, a.seg.token_clause, strict=True) if c == k]
            docs.append(features_of(a.normalized[start:end], tokens))
    assert batch.X_clauses.shape[0] == len(docs) == len(batch.clause_review)
    assert abs(batch.X_clauses - _reference(vec, docs)).max() < 1e-6
