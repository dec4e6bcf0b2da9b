"""The JSON columns of a scored review, as the score job ships them and `triage.apply` stores them.

Pure (no database): the scoring machines import it, so serialising happens where the work scales
out, not in the single database writer. Written with orjson, compact: the columns are read as JSON
(by value), never compared as text, so rows written by the standard library's encoder (with
spaces) and by this one mean the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["stored_from_prediction", "stored_json"]


def _text(value: Any) -> str:
    return orjson.dumps(value).decode()


def stored_json(result: Mapping[str, Any]) -> dict[str, str]:
    """{"causes", "cause_probs", "terms", "complaints"}: the reviews columns' JSON text for one score
    result in its dict form (`Prediction.to_json()`, or a result queued by an older scoring host)."""
    return {
        "causes": _text(list(result["causes"])),
        "cause_probs": _text(result.get("cause_probs") or {}),
        "terms": _text({"sentiment": result.get("terms") or [], "causes": result.get("cause_terms") or {}}),
        "complaints": _text(list(result.get("complaints") or [])),
    }


def _terms(terms: Any) -> list[dict[str, Any]]:
    return [{"term": t.term, "weight": round(t.weight, 4)} for t in terms]


def stored_from_prediction(prediction: Any) -> dict[str, str]:
    """The same columns, straight from a `classifier.Prediction` (no intermediate dicts): what
    ``stored_json(prediction.to_json())`` gives, by value."""
    return {
        "causes": _text(list(prediction.causes)),
        "cause_probs": _text({c: round(p, 4) for c, p in prediction.cause_probs.items()}),
        "terms": _text({"sentiment": _terms(prediction.terms),
                        "causes": {c: _terms(ts) for c, ts in prediction.cause_terms.items()}}),
        "complaints": _text([{"start": c.start, "end": c.end, "cause": c.cause, "prob": round(c.prob, 4)}
                             for c in prediction.complaints]),
    }
