"""The shipped review classifier: loading, batch prediction and explanations.

Model files are plain data and nothing in them is executed on load: numeric arrays through
`numpy.load(allow_pickle=False)` (which refuses object arrays, the only way a .npz can carry a
pickle) and metadata as JSON. The metadata records the SHA-256 of the array file; a file that
does not match is refused before it is parsed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from classifier.causes import CAUSES, SPECIFIC_CAUSES
from classifier.features import Analysed, Vectorizer, analyse, display_term, is_explainable
from classifier.normalize import normalize_with_offsets
from classifier.sarcasm import FLIP, MAX_TONE_CLAUSES, TONE, find_cue
from classifier.shipped import MODEL_NAME, model_dir, shipped_model_version

__all__ = [
    "MAX_TEXT_CHARS",
    "MODELS_DIR",
    "Complaint",
    "ModelError",
    "ModelIntegrityError",
    "Prediction",
    "ReviewClassifier",
    "Term",
    "get_classifier",
    "model_dir",
    "shipped_model_version",
]

MODELS_DIR = model_dir()
# Reviews beyond this are scored on their first part: the webhook caps text at 5,000 characters,
# and the cap bounds the cost of one pathological input in a batch.
MAX_TEXT_CHARS = 5000
TOP_TERMS = 5
# A review that reads as negative is a complaint (the guideline's `other`) even when no cause model
# is confident which kind.
OTHER_FROM_SENTIMENT = 0.5
# A clause is a complaint when it reads as negative on its own with at least this probability;
# it then makes the review a complaint whatever the review's overall tone ("味道不错，就是送得太慢了").
CLAUSE_NEGATIVE = 0.7
# A specific cause found in a clause (rather than in the whole review) needs this probability in
# the clause as well as the cause's own threshold: clauses are short, and short texts swing.
CLAUSE_CAUSE_FLOOR = 0.5
# A clause with no specific cause turns praise into a vague complaint (`other`) only when it is
# very clearly negative ("好评，下次还买，才怪"); "包装很用心，没有压坏" must not.
CLAUSE_OTHER = 0.9
# Clauses that voice a worry or an expectation rather than what happened ("本来担心是假货，结果是
# 正品") are never complaint clauses on their own.
_HYPOTHETICAL = re.compile("担心|以为|怕|本来|原本|听说|看评论|看评价|有人说|网上说")
# Output columns of the weight matrix: sentiment first, then the causes in CAUSES order.
OUTPUTS = ("negative", *CAUSES)


class ModelError(Exception):
    """The model files are missing or unreadable."""


class ModelIntegrityError(ModelError):
    """The model files do not match their recorded checksum or contain non-numeric data."""


@dataclass(frozen=True)
class Term:
    term: str
    weight: float  # contribution to the decision's logit; positive pushes towards it

    def to_json(self) -> dict[str, Any]:
        return {"term": self.term, "weight": round(self.weight, 4)}


class Complaint(NamedTuple):
    """A complaining clause: `text[start:end]` of the original review, with the cause it voices."""

    start: int
    end: int
    cause: str
    prob: float

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "cause": self.cause, "prob": round(self.prob, 4)}


@dataclass(frozen=True)
class Prediction:
    sentiment: str  # "negative" | "positive"
    negative_prob: float
    causes: tuple[str, ...]
    cause_probs: dict[str, float]
    terms: tuple[Term, ...] = ()  # what pushed the sentiment decision
    cause_terms: dict[str, tuple[Term, ...]] = field(default_factory=dict)
    # One entry per complaining clause and cause, in text order; `causes` is the union of their causes.
    complaints: tuple[Complaint, ...] = ()

    def to_json(self, review_id: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {} if review_id is None else {"id": review_id}
        out.update(
            sentiment=self.sentiment,
            negative_prob=round(self.negative_prob, 4),
            causes=list(self.causes),
            cause_probs={c: round(p, 4) for c, p in self.cause_probs.items()},
            terms=[t.to_json() for t in self.terms],
            cause_terms={c: [t.to_json() for t in ts] for c, ts in self.cause_terms.items()},
            complaints=[c.to_json() for c in self.complaints],
        )
        return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class ReviewClassifier:
    """Sentiment and complaint causes for batches of review texts."""

    def __init__(self, vectorizer: Vectorizer, weights: np.ndarray, bias: np.ndarray, meta: dict[str, Any],
                 explainable: np.ndarray | None = None) -> None:
        if weights.shape != (len(vectorizer.terms), len(OUTPUTS)) or bias.shape != (len(OUTPUTS),):
            raise ModelError(f"weight shapes {weights.shape}/{bias.shape} do not fit the vocabulary")
        self.vectorizer = vectorizer
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.bias = bias.astype(np.float32)
        self.meta = meta
        self.version: str = meta["version"]
        calibration = meta["calibration"]
        self._platt = (float(calibration["a"]), float(calibration["b"]))
        self.thresholds: dict[str, float] = {c: float(meta["thresholds"][c]) for c in CAUSES}
        self.positive_gate = float(meta.get("positive_gate", 0.5))
        self._explainable_mask = explainable
        self._display: dict[int, str] = {}

    # -- files ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: Path | str | None = None) -> ReviewClassifier:
        directory = Path(directory or model_dir())
        meta_path = directory / f"{MODEL_NAME}.json"
        arrays_path = directory / f"{MODEL_NAME}.npz"
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise ModelError(f"no model at {meta_path}; run `python -m classifier train`") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelIntegrityError(f"{meta_path} is not valid JSON: {exc}") from exc
        if not arrays_path.exists():
            raise ModelError(f"{arrays_path} is missing")
        if _sha256(arrays_path) != meta.get("arrays_sha256"):
            raise ModelIntegrityError(f"{arrays_path} does not match the checksum recorded in {meta_path.name}")
        try:
            with np.load(arrays_path, allow_pickle=False) as npz:
                terms = bytes(npz["terms"]).decode("utf-8").split("\n")
                tables = {k: npz[k].astype(np.int64) for k in Vectorizer.TABLES if k in npz.files}
                vectorizer = Vectorizer(terms, npz["idf"], tables)
                explainable = npz["explainable"].astype(bool) if "explainable" in npz.files else None
                return cls(vectorizer, npz["weights"], npz["bias"], meta, explainable)
        except ValueError as exc:  # object arrays (pickles) are refused here
            raise ModelIntegrityError(f"{arrays_path}: {exc}") from exc

    def save(self, directory: Path | str) -> dict[str, Any]:
        """Write the model; byte-identical for identical arrays (zip entries carry a fixed
        timestamp), and the version is named after the arrays' checksum. Returns the metadata."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {
            "terms": np.frombuffer("\n".join(self.vectorizer.terms).encode("utf-8"), dtype=np.uint8),
            "idf": self.vectorizer.idf,
            "weights": self.weights,
            "bias": self.bias,
            "explainable": self._explainable.astype(np.uint8),
            **self.vectorizer.table_arrays(),
        }
        path = directory / f"{MODEL_NAME}.npz"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, arr in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue())
        digest = _sha256(path)
        self.meta = dict(self.meta, arrays_sha256=digest, version=f"rc-{self.meta.get('date', 'undated')}-{digest[:10]}")
        self.version = self.meta["version"]
        (directory / f"{MODEL_NAME}.json").write_text(
            json.dumps(self.meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8"
        )
        return self.meta

    # -- prediction ----------------------------------------------------------------------------
    def analyse_many(self, texts: Sequence[str]) -> list[Analysed]:
        return [analyse((t or "")[:MAX_TEXT_CHARS]) for t in texts]

    def predict_many(self, texts: Sequence[str], *, explain: bool = True) -> list[Prediction]:
        """Score a batch; the result list is in input order. Deterministic for a given model."""
        return self.predict_analysed(self.analyse_many(texts), explain=explain)

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def predict_analysed(self, analysed: Sequence[Analysed], *, explain: bool = True) -> list[Prediction]:
        if not analysed:
            return []
        batch = self.vectorizer.transform_batch(analysed)
        X = batch.X
        neg_prob, cause_prob = self._scores(X)
        # Clause rows: one per clause of every review with two or more clauses.
        c_neg, c_cause = self._scores(batch.X_clauses)
        first_clause = np.searchsorted(batch.clause_review, np.arange(len(analysed) + 1))
        decided: list[tuple[float, tuple[str, ...], list[tuple[int, str, float]]]] = []
        for i, item in enumerate(analysed):
            lo, hi = int(first_clause[i]), int(first_clause[i + 1])
            if hi > lo:
                decided.append(self._combine(item, float(neg_prob[i]), cause_prob[i], c_neg[lo:hi], c_cause[lo:hi]))
            else:
                decided.append(self._combine(item, float(neg_prob[i]), cause_prob[i], neg_prob[i:i + 1],
                                             cause_prob[i:i + 1]))
        terms: list[tuple[Term, ...]] = [()] * len(analysed)
        cause_terms: list[dict[str, tuple[Term, ...]]] = [{} for _ in analysed]
        if explain:
            # Contributions towards the predicted sentiment: sign flips for positive reviews.
            final_neg = np.array([d[0] for d in decided], dtype=np.float32)
            sign = np.where(final_neg >= 0.5, 1.0, -1.0).astype(np.float32)
            terms = self._explain(X, 0, sign)
            for k, cause in enumerate(CAUSES, start=1):
                rows = [i for i, (_, causes, _) in enumerate(decided) if cause in causes]
                if rows:
                    for i, t in zip(rows, self._explain(X[rows], k, np.ones(len(rows), np.float32)), strict=True):
                        cause_terms[i][cause] = t
        results = []
        for i, item in enumerate(analysed):
            if not item.normalized:
                # Nothing to judge: an empty review is neither a complaint nor praise we can read.
                results.append(Prediction("positive", 0.0, (), dict.fromkeys(CAUSES, 0.0)))
                continue
            p_neg, causes, spans = decided[i]
            probs = {c: float(cause_prob[i, k]) for k, c in enumerate(CAUSES)}
            results.append(Prediction("negative" if p_neg >= 0.5 else "positive", p_neg, causes, probs,
                                      terms[i], cause_terms[i], self._complaints(item, spans)))
        return results

    def _scores(self, X) -> tuple[np.ndarray, np.ndarray]:
        if X.shape[0] == 0:
            return np.zeros(0, np.float32), np.zeros((0, len(CAUSES)), np.float32)
        logits = np.asarray(X @ self.weights) + self.bias
        a, b = self._platt
        return _sigmoid(a * logits[:, 0] + b), _sigmoid(logits[:, 1:])

    def _combine(self, item: Analysed, p_neg: float, probs: np.ndarray, clause_neg: np.ndarray,
                 clause_probs: np.ndarray) -> tuple[float, tuple[str, ...], list[tuple[int, str, float]]]:
        """The review's negative probability after sarcasm cues, its causes, and the clauses that
        carry them, as (clause, cause, prob).

        Review-level evidence decides as before (with the positive gate); a clause that reads as
        a confident complaint adds its own causes whatever the review's tone. Every cause is then
        pinned to the clause that voices it most strongly, so `causes` is the union of the spans'.
        """
        if not item.normalized:
            return 0.0, (), []
        # A review of punctuation alone has no clause: it is then its own single clause.
        clauses = item.seg.clauses or [(0, len(item.normalized))]
        cue = find_cue(item.normalized) if p_neg < 0.5 else None
        if cue and cue[0] == FLIP:
            p_neg = max(p_neg, 1.0 - p_neg)
        elif cue and cue[0] == TONE and len(clauses) <= MAX_TONE_CLAUSES:
            # The review takes the tone of its most negative clause other than the cue's own.
            others = [p for (a, b), p in zip(clauses, clause_neg.tolist(), strict=False) if b <= cue[1] or a >= cue[2]]
            if others and max(others) >= CLAUSE_NEGATIVE:
                p_neg = max(p_neg, max(others))
        if p_neg < 0.5 and float(clause_neg.max()) < CLAUSE_NEGATIVE and float(probs.max()) < self.positive_gate:
            return p_neg, (), []  # praise throughout: the common case, decided without the walk below
        review = self._decide_causes({c: float(probs[k]) for k, c in enumerate(CAUSES)}, p_neg)
        text = item.normalized
        complaining = [k for k, p in enumerate(clause_neg.tolist()) if p >= CLAUSE_NEGATIVE
                       and not _HYPOTHETICAL.search(text, clauses[k][0], clauses[k][1])]
        spans: list[tuple[int, str, float]] = []
        found: set[str] = set()
        for k in complaining:
            for j, c in enumerate(SPECIFIC_CAUSES):
                p = float(clause_probs[k, j])
                if p >= max(self.thresholds[c], CLAUSE_CAUSE_FLOOR):
                    spans.append((k, c, p))
                    found.add(c)
        specific: list[str] = []
        for j, c in enumerate(SPECIFIC_CAUSES):
            if c in found:
                specific.append(c)
            elif c in review:
                k = int(np.argmax(clause_probs[:, j]))
                # Praise that mentions a topic ("颜色和图片一样，尺码也标准", "本来担心是假货，结果是正品")
                # can score high on a cause as a whole; in a review that reads as positive, the
                # clause carrying the cause must itself read as a complaint.
                if p_neg < 0.5 and len(clauses) > 1 and (
                        clause_neg[k] < 0.5 or _HYPOTHETICAL.search(text, clauses[k][0], clauses[k][1])):
                    continue
                specific.append(c)
                spans.append((k, c, float(clause_probs[k, j])))
        if specific:
            return p_neg, tuple(specific), sorted(spans)
        review = tuple(c for c in review if c == "other")
        if not review:
            complaining = [k for k in complaining if clause_neg[k] >= CLAUSE_OTHER]
        if review or complaining:
            j = CAUSES.index("other")
            pool = complaining or [int(np.argmax(clause_neg))]
            spans = [(k, "other", max(float(clause_probs[k, j]), float(clause_neg[k]))) for k in pool]
            return p_neg, ("other",), sorted(spans)
        return p_neg, (), []

    def _decide_causes(self, probs: dict[str, float], p_neg: float) -> tuple[str, ...]:
        # A review that reads as praise needs stronger evidence for a complaint: a passing
        # "物流速度可以" must not become a logistics case, while "东西不错，就是物流太慢" still does
        # (through its clause, see `_combine`).
        floor = self.positive_gate if p_neg < 0.5 else 0.0
        specific = tuple(c for c in SPECIFIC_CAUSES if probs[c] >= max(self.thresholds[c], floor))
        if specific:
            return specific
        # `other` is residual by the guideline: a complaint none of the three explains. A clearly
        # negative review is a complaint even when the `other` model is unsure what kind.
        if probs["other"] >= max(self.thresholds["other"], floor) or p_neg >= OTHER_FROM_SENTIMENT:
            return ("other",)
        return ()

    def _complaints(self, item: Analysed, spans: list[tuple[int, str, float]]) -> tuple[Complaint, ...]:
        if not spans:
            return ()
        _, starts, ends = normalize_with_offsets(item.text, item.normalized)
        out = []
        for k, cause, prob in spans:
            a, b = item.seg.clauses[k] if item.seg.clauses else (0, len(item.normalized))
            out.append(Complaint(starts[a], ends[b - 1], cause, prob))
        return tuple(out)

    @property
    def _explainable(self) -> np.ndarray:
        # Computed at training time and shipped; derived here only for older model files.
        if self._explainable_mask is None:
            self._explainable_mask = np.fromiter(
                (is_explainable(t) for t in self.vectorizer.terms), dtype=bool, count=len(self.vectorizer.terms)
            )
        return self._explainable_mask

    def _term(self, index: int) -> str:
        term = self._display.get(index)
        if term is None:
            term = self._display[index] = display_term(self.vectorizer.terms[index])
        return term

    def _explain(self, X, column: int, sign: np.ndarray) -> list[tuple[Term, ...]]:
        """Top terms per row by contribution (tf-idf value x weight) to one output column.

        Vectorised over the batch: non-positive and unexplainable contributions are dropped, the
        rest sorted once by (row, -contribution); a short walk per row then skips terms that
        overlap an already listed one (a word inside a listed word pair, or the reverse).
        """
        counts = np.diff(X.indptr)
        contrib = X.data * self.weights[X.indices, column] * np.repeat(sign, counts)
        rows = np.repeat(np.arange(X.shape[0]), counts)
        keep = (contrib > 0) & self._explainable[X.indices]
        contrib, rows, cols = contrib[keep], rows[keep], X.indices[keep]
        order = np.lexsort((-contrib, rows))
        contrib, rows, cols = contrib[order], rows[order], cols[order]
        starts = np.searchsorted(rows, np.arange(X.shape[0] + 1)).tolist()
        cols, contrib = cols.tolist(), contrib.tolist()
        out: list[tuple[Term, ...]] = []
        for i in range(X.shape[0]):
            picked: list[Term] = []
            for j in range(starts[i], starts[i + 1]):
                term = self._term(cols[j])
                # One of 压坏 / 压坏了 is enough for the reader: the stronger one is already listed.
                if any(term in p.term or p.term in term for p in picked):
                    continue
                picked.append(Term(term, contrib[j]))
                if len(picked) >= TOP_TERMS:
                    break
            out.append(tuple(picked))
        return out


_lock = threading.Lock()
_cached: dict[str, ReviewClassifier] = {}


def get_classifier(directory: Path | str | None = None) -> ReviewClassifier:
    """The process-wide classifier: loaded once per process, then shared."""
    key = str(Path(directory or model_dir()).resolve())
    with _lock:
        if key not in _cached:
            _cached[key] = ReviewClassifier.load(key)
        return _cached[key]
