"""What to highlight in a review's ORIGINAL text: complaint spans, else the model's explanation terms.

Complaint spans (`reviews.complaints`) already carry offsets into the original text. Explanation
terms do not: the model reads normalised text (full-width folded, traditional characters
simplified, lower-cased), so "快遞太慢" was explained by the term "快递". To find a term in the
original, each original character is normalised on its own with the classifier's own `normalize`
(so the two can never disagree about a character), giving a normalised string plus, for each of
its characters, the original character it came from. A term found in that string maps back to the
original characters it spans. Rules that work across characters (collapsing "好好好好") only ever
shorten runs, so a term is still found where it stands in the original.

Pure: text and stored JSON in, segments out. Templates escape each segment's text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from classifier.causes import CAUSE_NAMES_ZH
from classifier.normalize import normalize

__all__ = ["Segment", "highlight", "normalized_map", "term_spans"]


@dataclass(frozen=True)
class Segment:
    text: str
    kind: str | None = None     # None (plain), "complaint" or "term"
    cause: str | None = None    # for complaint spans
    title: str | None = None    # tooltip: why it is marked


@lru_cache(maxsize=8192)
def _char(ch: str) -> str:
    return normalize(ch)


def normalized_map(text: str) -> tuple[str, list[int]]:
    """(normalised text, owner) where owner[i] is the index in `text` of the character that
    produced normalised character i. Whitespace normalises to nothing and is skipped."""
    out: list[str] = []
    owner: list[int] = []
    for index, ch in enumerate(text):
        for produced in _char(ch):
            out.append(produced)
            owner.append(index)
    return "".join(out), owner


def term_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int, str]]:
    """(start, end, term) in `text` for every occurrence of each term, overlaps merged."""
    norm, owner = normalized_map(text)
    found: list[tuple[int, int, str]] = []
    for term in {t for t in terms if t}:
        target = _char_join(term)
        start = norm.find(target)
        while start != -1:
            end = start + len(target)
            found.append((owner[start], owner[end - 1] + 1, term))
            start = norm.find(target, start + 1)
    return _merge(found)


def _char_join(term: str) -> str:
    # Terms are already normalised; passing them through per character keeps both sides identical.
    return "".join(_char(ch) for ch in term)


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    merged: list[tuple[int, int, str]] = []
    for start, end, term in sorted(spans):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            terms = last[2] if term in last[2].split("、") else f"{last[2]}、{term}"
            merged[-1] = (last[0], max(last[1], end), terms)
        else:
            merged.append((start, end, term))
    return merged


def _complaint_spans(text: str, complaints: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, str, float]]:
    spans = []
    for c in complaints:
        try:
            start, end = int(c["start"]), int(c["end"])
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= start < end <= len(text):
            spans.append((start, end, str(c.get("cause") or "other"), float(c.get("prob") or 0.0)))
    spans.sort()
    out: list[tuple[int, int, str, float]] = []
    for span in spans:  # overlapping spans: the first wins, the rest is trimmed
        if out and span[0] < out[-1][1]:
            if span[1] <= out[-1][1]:
                continue
            span = (out[-1][1], *span[1:])
        out.append(span)
    return out


def _explained_terms(terms_json: Any, causes: Sequence[str]) -> list[str]:
    data = _loads(terms_json)
    if not isinstance(data, Mapping):
        return []
    words = [t.get("term") for t in data.get("sentiment") or [] if isinstance(t, Mapping) and (t.get("weight") or 0) > 0]
    by_cause = data.get("causes") or {}
    if isinstance(by_cause, Mapping):
        for cause in causes:
            words += [t.get("term") for t in by_cause.get(cause) or [] if isinstance(t, Mapping)]
    return [w for w in words if isinstance(w, str) and w]


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def highlight(text: str, complaints: Any = None, terms: Any = None, causes: Any = None) -> list[Segment]:
    """The review text cut into segments: complaint spans where the model gave them, else the
    explanation terms found in the original text. Arguments may be the stored JSON strings."""
    spans = _complaint_spans(text, _loads(complaints) or [])
    marks: list[tuple[int, int, Segment]] = []
    if spans:
        for start, end, cause, prob in spans:
            label = CAUSE_NAMES_ZH.get(cause, cause)
            marks.append((start, end, Segment(text[start:end], "complaint", cause, f"投诉：{label}（{prob:.0%}）")))
    else:
        cause_list = [c for c in (_loads(causes) or []) if isinstance(c, str)]
        for start, end, term in term_spans(text, _explained_terms(terms, cause_list)):
            marks.append((start, end, Segment(text[start:end], "term", None, f"模型依据：{term}")))
    segments: list[Segment] = []
    at = 0
    for start, end, seg in marks:
        if start > at:
            segments.append(Segment(text[at:start]))
        segments.append(seg)
        at = end
    if at < len(text):
        segments.append(Segment(text[at:]))
    return segments
