"""Validation of review objects as the contract's webhook table defines them. Pure: no I/O.

Every problem of every review is reported, as {"index", "field", "message"}, so a connector can
fix a whole batch in one round trip. Decisions where the contract is silent:

- `null` means absent for optional fields; for required ones it is "is required".
- `review_id` is kept exactly as sent (ids are opaque keys, trimming could merge two), but a
  blank one is refused. `text` is stored trimmed; its 1–5000 limit counts characters (code
  points), not bytes. `customer_id` and `product_id` must not be blank.
- Optional strings (`customer_name`, `product_name`, `category`, `order_id`) that are empty or
  blank are stored as absent.
- `rating` accepts an integral number written as a float (`4.0`): JSON has one number type and
  some serialisers print whole numbers that way. `4.5`, booleans and strings such as `"4"` are
  refused.
- `customer_ltv` must be a finite number ≥ 0 (booleans are refused).
- `created_at` must be RFC 3339 with a `T` (or space) between date and time and an offset (`Z`
  or ±hh:mm); it is stored in UTC. Leap seconds (`:60`) are refused.
- The body `{"reviews": [...]}` is a batch (even with other keys beside it); any other object is
  one review. An empty batch is valid and stores nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.errors import TooLarge, ValidationFailed
from triage.timeutil import parse_rfc3339

__all__ = [
    "DEFAULT_PLATFORM",
    "FIELDS",
    "MAX_BATCH",
    "ErrorItem",
    "Review",
    "loads_json",
    "reviews_from_body",
    "validate_batch",
    "validate_review",
]

MAX_BATCH = 500
DEFAULT_PLATFORM = "default"
MAX_REVIEW_ID = 128
MAX_PLATFORM = 32
MAX_TEXT = 5000

# The review fields the contract names, in its order (the importer's CSV columns too).
FIELDS = (
    "review_id",
    "platform",
    "text",
    "rating",
    "customer_id",
    "customer_name",
    "customer_ltv",
    "product_id",
    "product_name",
    "category",
    "order_id",
    "created_at",
)
_OPTIONAL_STRINGS = ("customer_name", "product_name", "category", "order_id")

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
)

ErrorItem = dict[str, Any]


@dataclass(frozen=True)
class Review:
    """One valid review, normalised. `created_at` None means "time of receipt"."""

    platform: str
    review_id: str
    text: str
    customer_id: str
    product_id: str
    rating: int | None = None
    customer_name: str | None = None
    customer_ltv: float | None = None
    product_name: str | None = None
    category: str | None = None
    order_id: str | None = None
    created_at: dt.datetime | None = None


class _Collector:
    def __init__(self, index: int | None) -> None:
        self.index = index
        self.items: list[ErrorItem] = []

    def add(self, field: str | None, message: str) -> None:
        self.items.append({"index": self.index, "field": field, "message": message})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads_json(text: str) -> Any:
    """`json.loads`, but refusing NaN and Infinity (Python accepts them; JSON does not)."""
    return json.loads(text, parse_constant=_reject_constant)


def _is_number(value: Any) -> bool:
    # bool is an int subclass in Python; JSON true is not a number.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _required_string(raw: Mapping[str, Any], field: str, errors: _Collector) -> str | None:
    value = raw.get(field)
    if value is None:
        errors.add(field, "is required")
        return None
    if not isinstance(value, str):
        errors.add(field, "must be a string")
        return None
    if not value.strip():
        errors.add(field, "must not be blank")
        return None
    return value


def _bounded(value: str | None, field: str, limit: int, errors: _Collector) -> str | None:
    if value is not None and len(value) > limit:
        errors.add(field, f"must be at most {limit} characters")
        return None
    return value


def _platform(raw: Mapping[str, Any], errors: _Collector) -> str | None:
    if raw.get("platform") is None:
        return DEFAULT_PLATFORM
    return _bounded(_required_string(raw, "platform", errors), "platform", MAX_PLATFORM, errors)


def _text(raw: Mapping[str, Any], errors: _Collector) -> str | None:
    value = _required_string(raw, "text", errors)
    if value is None:
        return None
    return _bounded(value.strip(), "text", MAX_TEXT, errors)


def _rating(raw: Mapping[str, Any], errors: _Collector) -> int | None:
    value = raw.get("rating")
    if value is None:
        return None
    if not _is_number(value) or (isinstance(value, float) and not value.is_integer()) or not 1 <= value <= 5:
        errors.add("rating", "must be an integer from 1 to 5")
        return None
    return int(value)


def _ltv(raw: Mapping[str, Any], errors: _Collector) -> float | None:
    value = raw.get("customer_ltv")
    if value is None:
        return None
    if not _is_number(value):
        errors.add("customer_ltv", "must be a number")
        return None
    try:
        number = float(value)  # an integer with hundreds of digits has no float: OverflowError
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        errors.add("customer_ltv", "must be a number")
        return None
    if number < 0:
        errors.add("customer_ltv", "must be at least 0")
        return None
    return number


def _optional_string(raw: Mapping[str, Any], field: str, errors: _Collector) -> str | None:
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(field, "must be a string")
        return None
    return value if value.strip() else None


def _created_at(raw: Mapping[str, Any], errors: _Collector) -> dt.datetime | None:
    value = raw.get("created_at")
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add("created_at", "must be an RFC 3339 string")
        return None
    if not _RFC3339.fullmatch(value.strip()):
        errors.add("created_at", "must be RFC 3339 with a UTC offset, e.g. 2026-11-26T13:05:00+08:00")
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        errors.add("created_at", "is not a valid date and time")
        return None


def validate_review(
    raw: Any, index: int | None = 0, *, default_platform: str = DEFAULT_PLATFORM
) -> tuple[Review | None, list[ErrorItem]]:
    """(review, []) when valid, else (None, every problem). Unknown fields are ignored.

    `default_platform` fills an absent platform (the importer's --platform)."""
    errors = _Collector(index)
    if not isinstance(raw, Mapping):
        errors.add(None, "review must be a JSON object")
        return None, errors.items
    if raw.get("platform") is None and default_platform != DEFAULT_PLATFORM:
        raw = {**raw, "platform": default_platform}
    values = {
        "review_id": _bounded(_required_string(raw, "review_id", errors), "review_id", MAX_REVIEW_ID, errors),
        "platform": _platform(raw, errors),
        "text": _text(raw, errors),
        "rating": _rating(raw, errors),
        "customer_id": _required_string(raw, "customer_id", errors),
        "customer_ltv": _ltv(raw, errors),
        "product_id": _required_string(raw, "product_id", errors),
        "created_at": _created_at(raw, errors),
    }
    for field in _OPTIONAL_STRINGS:
        values[field] = _optional_string(raw, field, errors)
    if errors.items:
        # Keep the report in the contract's field order, whatever order the checks ran in.
        order = {name: i for i, name in enumerate(FIELDS)}
        errors.items.sort(key=lambda item: order.get(item["field"], -1))
        return None, errors.items
    return Review(**values), []


def validate_batch(raws: Sequence[Any], *, default_platform: str = DEFAULT_PLATFORM) -> list[Review]:
    """All reviews valid, or ValidationFailed listing every problem of every review."""
    reviews: list[Review] = []
    items: list[ErrorItem] = []
    for index, raw in enumerate(raws):
        review, problems = validate_review(raw, index, default_platform=default_platform)
        if review is None:
            items.extend(problems)
        else:
            reviews.append(review)
    if items:
        raise ValidationFailed(items, f"{len({i['index'] for i in items})} of {len(raws)} reviews are invalid")
    return reviews


def reviews_from_body(payload: Any) -> list[Review]:
    """A parsed webhook body (one review or {"reviews": [...]}) as valid reviews.

    Raises TooLarge over MAX_BATCH reviews (before looking at any of them), ValidationFailed
    for a body of the wrong shape or any invalid review."""
    if isinstance(payload, Mapping) and "reviews" in payload:
        raws = payload["reviews"]
        if not isinstance(raws, list):
            raise ValidationFailed(
                [{"index": None, "field": "reviews", "message": "must be a list of review objects"}]
            )
        if len(raws) > MAX_BATCH:
            raise TooLarge(f"{len(raws)} reviews in one request; at most {MAX_BATCH}")
        return validate_batch(raws)
    if not isinstance(payload, Mapping):
        raise ValidationFailed(
            [{"index": None, "field": None, "message": 'body must be a review object or {"reviews": [...]}'}]
        )
    return validate_batch([payload])
