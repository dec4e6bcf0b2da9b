"""Validation of review objects as the contract's webhook table defines them. Pure: no I/O.

Every problem of every review is reported, as {"index", "field", "message"}, so a connector can
fix a whole batch in one round trip. Decisions where the contract is silent (docs/ingestion.md
lists them for connector developers):

- `null` means absent for optional fields; for required ones it is "is required".
- Every string must be valid Unicode: a lone surrogate (JSON `"\\ud800"`) is refused, since it
  cannot be stored or sent back as UTF-8. NUL (U+0000) is refused in every string field.
- "Blank" means nothing visible: whitespace, control, format (zero-width, BOM, bidi marks),
  combining-only and filler characters do not count as content. Trimming strips whitespace,
  control, format and filler characters from both ends.
- `review_id` is kept exactly as sent (ids are opaque keys, trimming could merge two), but it must
  read back through `GET /api/v1/reviews/<platform>/<review_id>`: no control, format or
  line-separator characters, and, split at `/`, no empty, `.` or `..` segment (HTTP clients and
  proxies rewrite those). `customer_id`, `product_id` and `order_id` follow the same character
  rule (not the `/` one) and are at most 128 characters.
- `platform` is normalised (trimmed, NFKC, lower-cased), so "tb", " TB " and "ＴＢ" are one
  platform; the result is 1–32 letters, digits, `.`, `_` or `-`, starting with a letter or digit
  (it is a URL path segment).
- `text` is stored trimmed; its 1–5000 limit counts characters (code points) after trimming. Tab,
  line feed and carriage return are its only allowed control characters.
- Optional display strings (`customer_name`, `product_name`, `category`) are trimmed, at most 200
  characters, one line (no control or line-separator characters); blank ones (and a blank
  `order_id`) are stored as absent.
- `rating` accepts an integral number written as a float (`4.0`): JSON has one number type and
  some serialisers print whole numbers that way. `4.5`, booleans and strings such as `"4"` are
  refused.
- `customer_ltv` must be a finite number ≥ 0 (booleans are refused).
- `created_at` must be RFC 3339 with a `T` (or space) between date and time and an offset (`Z`
  or ±hh:mm); it is stored in UTC. Leap seconds (`:60`) are refused. It must lie between
  2000-01-01T00:00:00Z and one day after the time of receipt: a review dated years ahead would
  pin its customer's "last seen" and the report weeks.
- The body `{"reviews": [...]}` is a batch (even with other keys beside it); any other object is
  one review. A batch holds 1–500 reviews, and one `(platform, review_id)` at most once.
- JSON objects with a repeated key are refused as invalid JSON: which value wins differs between
  parsers, so a signed body would not mean one thing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.errors import TooLarge, ValidationFailed
from triage.timeutil import UTC, parse_rfc3339, utcnow

__all__ = [
    "DEFAULT_PLATFORM",
    "EARLIEST_CREATED_AT",
    "FIELDS",
    "MAX_BATCH",
    "MAX_CREATED_AHEAD",
    "ErrorItem",
    "Review",
    "loads_json",
    "normalise_platform",
    "reviews_from_body",
    "validate_batch",
    "validate_review",
]

MAX_BATCH = 500
DEFAULT_PLATFORM = "default"
MAX_REVIEW_ID = 128
MAX_PLATFORM = 32
MAX_TEXT = 5000
MAX_ID = 128  # customer_id, product_id, order_id
MAX_NAME = 200  # customer_name, product_name, category
EARLIEST_CREATED_AT = dt.datetime(2000, 1, 1, tzinfo=UTC)
MAX_CREATED_AHEAD = dt.timedelta(days=1)

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
_NAMES = ("customer_name", "product_name", "category")

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls and DEL; text keeps tab, line feed and carriage return.
_NUL = re.compile("\x00")
_TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A platform is one URL path segment: word characters of any script, '.', '_' and '-'.
_PLATFORM = re.compile(r"[^\W_][\w.-]*")
# Letters that render as nothing (Hangul fillers, braille blank): blank, like whitespace.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Mn", "Me", "Zs", "Zl", "Zp"})
_TRIMMED_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# Not allowed anywhere in an id: controls, format characters (invisible, so two ids that look
# the same would differ; bidi controls spoof), surrogates, line and paragraph separators.
_ID_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Fast paths for ASCII strings (most ids, platforms, dates; a webhook validates a dozen strings per
# review): in ASCII the invisible, the trimmed and the id-forbidden characters are the C0 controls,
# space and DEL, or the controls alone (tests check these against the categories above), so
# str.strip and one regex decide what the per-character category walk would.
_ASCII_INVISIBLE = "".join(map(chr, range(0x21))) + "\x7f"
_ASCII_ID_FORBIDDEN = re.compile("[\x00-\x1f\x7f]")

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


# -- JSON -------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # !a: the key may hold a lone surrogate, which the error body could not encode.
            raise ValueError(f"duplicate key {key!a} in one object")
        result[key] = value
    return result


def loads_json(text: str) -> Any:
    """`json.loads`, refusing what JSON does not define: NaN and Infinity (Python accepts them)
    and repeated keys in one object (parsers disagree on which value wins)."""
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


# -- characters -------------------------------------------------------------------------------


def _u(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def _is_invisible(ch: str) -> bool:
    return ch.isspace() or ch in _FILLERS or unicodedata.category(ch) in _INVISIBLE_CATEGORIES


def _is_blank(value: str) -> bool:
    if value.isascii():
        return not value.strip(_ASCII_INVISIBLE)
    return all(_is_invisible(ch) for ch in value)


def _is_trimmed(ch: str) -> bool:
    return ch.isspace() or ch in _FILLERS or unicodedata.category(ch) in _TRIMMED_CATEGORIES


def _trim(value: str) -> str:
    if value.isascii():
        return value.strip(_ASCII_INVISIBLE)
    start, end = 0, len(value)
    while start < end and _is_trimmed(value[start]):
        start += 1
    while end > start and _is_trimmed(value[end - 1]):
        end -= 1
    return value[start:end]


def _unicode_problem(value: str) -> str | None:
    if value.isascii():
        return None
    found = _SURROGATE.search(value)
    if found:
        return (
            f"must be valid Unicode: unpaired surrogate {_u(found.group())} at character {found.start()} "
            "(a UTF-16 half without its partner)"
        )
    return None


def _forbidden(value: str, pattern: re.Pattern[str], what: str) -> str | None:
    found = pattern.search(value)
    if found is None:
        return None
    ch = found.group()
    name = "NUL" if ch == "\x00" else what
    return f"must not contain {name} {_u(ch)} (at character {found.start()})"


def _id_problem(value: str) -> str | None:
    if value.isascii() and _ASCII_ID_FORBIDDEN.search(value) is None:
        return None
    for i, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category in _ID_FORBIDDEN_CATEGORIES:
            kind = {"Cc": "control character", "Cf": "invisible format character"}.get(category, "line separator")
            if ch == "\x00":
                kind = "NUL"
            return f"must not contain {kind} {_u(ch)} (at character {i})"
    return None


# -- fields -----------------------------------------------------------------------------------


def _string(raw: Mapping[str, Any], field: str, errors: _Collector, *, required: bool) -> str | None:
    """The field's string value, checked for type, Unicode and blankness. None: absent or refused.

    A blank optional string counts as absent, unless it hides a NUL (refused in every field)."""
    value = raw.get(field)
    if value is None:
        if required:
            errors.add(field, "is required")
        return None
    if not isinstance(value, str):
        errors.add(field, "must be a string")
        return None
    problem = _unicode_problem(value)
    if problem:
        errors.add(field, problem)
        return None
    if _is_blank(value):
        if required:
            errors.add(field, "must not be blank")
        elif "\x00" in value:
            errors.add(field, _forbidden(value, _NUL, "NUL"))
        return None
    return value


def _bounded(value: str | None, field: str, limit: int, errors: _Collector) -> str | None:
    if value is not None and len(value) > limit:
        errors.add(field, f"must be at most {limit} characters")
        return None
    return value


def _identifier(raw: Mapping[str, Any], field: str, limit: int, errors: _Collector, *, required: bool) -> str | None:
    value = _bounded(_string(raw, field, errors, required=required), field, limit, errors)
    if value is None:
        return None
    problem = _id_problem(value)
    if problem:
        errors.add(field, problem)
        return None
    return value


def _review_id(raw: Mapping[str, Any], errors: _Collector) -> str | None:
    value = _identifier(raw, "review_id", MAX_REVIEW_ID, errors, required=True)
    if value is not None and any(segment in ("", ".", "..") for segment in value.split("/")):
        errors.add(
            "review_id",
            "must read back as a URL path: no leading or trailing '/', no '//', and no '.' or '..' between slashes",
        )
        return None
    return value


def normalise_platform(value: str) -> str:
    """The stored form of a platform name: trimmed, NFKC-folded, lower-case ("ＴＢ " -> "tb")."""
    return unicodedata.normalize("NFKC", _trim(value)).lower()


def _platform(raw: Mapping[str, Any], errors: _Collector) -> str | None:
    if raw.get("platform") is None:
        return DEFAULT_PLATFORM
    value = _string(raw, "platform", errors, required=True)
    if value is None:
        return None
    platform = normalise_platform(value)
    if len(platform) > MAX_PLATFORM:
        errors.add("platform", f"must be at most {MAX_PLATFORM} characters")
        return None
    if not _PLATFORM.fullmatch(platform):
        errors.add(
            "platform",
            "may hold only letters, digits, '.', '_' and '-', starting with a letter or digit "
            "(it is a path segment of the read URL)",
        )
        return None
    return platform


def _text(raw: Mapping[str, Any], errors: _Collector) -> str | None:
    value = _string(raw, "text", errors, required=True)
    if value is None:
        return None
    problem = _forbidden(value, _TEXT_CONTROL, "control character")
    if problem:
        errors.add("text", problem + "; tab, line feed and carriage return are the only ones allowed")
        return None
    return _bounded(_trim(value), "text", MAX_TEXT, errors)


def _name(raw: Mapping[str, Any], field: str, errors: _Collector) -> str | None:
    value = _string(raw, field, errors, required=False)
    if value is None:
        return None
    problem = _forbidden(value, _LINE_BREAK, "control or line-break character")
    if problem:
        errors.add(field, problem)
        return None
    return _bounded(_trim(value), field, MAX_NAME, errors)


def _is_number(value: Any) -> bool:
    # bool is an int subclass in Python; JSON true is not a number.
    return isinstance(value, int | float) and not isinstance(value, bool)


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


def _created_at(raw: Mapping[str, Any], errors: _Collector, now: dt.datetime) -> dt.datetime | None:
    value = raw.get("created_at")
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add("created_at", "must be an RFC 3339 string")
        return None
    if not _RFC3339.fullmatch(value.strip()):
        errors.add("created_at", "must be RFC 3339 with a UTC offset, e.g. 2026-11-26T13:05:00+08:00")
        return None
    too_early = "must not be before 2000-01-01T00:00:00Z"
    too_late = "must not be more than 1 day ahead of the server clock"
    # Years far out are refused before parsing: at 0001 or 9999 the UTC instant may not exist.
    year = int(value.strip()[:4])
    if year < EARLIEST_CREATED_AT.year - 1 or year > (now + MAX_CREATED_AHEAD).year + 1:
        errors.add("created_at", too_early if year < EARLIEST_CREATED_AT.year else too_late)
        return None
    try:
        moment = parse_rfc3339(value)
    except ValueError:
        errors.add("created_at", "is not a valid date and time")
        return None
    if moment < EARLIEST_CREATED_AT:
        errors.add("created_at", too_early)
        return None
    if moment > now + MAX_CREATED_AHEAD:
        errors.add("created_at", too_late)
        return None
    return moment


# -- reviews and batches ----------------------------------------------------------------------


def validate_review(
    raw: Any,
    index: int | None = 0,
    *,
    default_platform: str = DEFAULT_PLATFORM,
    now: dt.datetime | None = None,
) -> tuple[Review | None, list[ErrorItem]]:
    """(review, []) when valid, else (None, every problem). Unknown fields are ignored.

    `default_platform` fills an absent platform (the importer's --platform); `now` (aware, the
    time of receipt; default the current time) bounds how far ahead `created_at` may be."""
    errors = _Collector(index)
    if not isinstance(raw, Mapping):
        errors.add(None, "review must be a JSON object")
        return None, errors.items
    if raw.get("platform") is None and default_platform != DEFAULT_PLATFORM:
        raw = {**raw, "platform": default_platform}
    values = {
        "review_id": _review_id(raw, errors),
        "platform": _platform(raw, errors),
        "text": _text(raw, errors),
        "rating": _rating(raw, errors),
        "customer_id": _identifier(raw, "customer_id", MAX_ID, errors, required=True),
        "customer_ltv": _ltv(raw, errors),
        "product_id": _identifier(raw, "product_id", MAX_ID, errors, required=True),
        "order_id": _identifier(raw, "order_id", MAX_ID, errors, required=False),
        "created_at": _created_at(raw, errors, now or utcnow()),
    }
    for field in _NAMES:
        values[field] = _name(raw, field, errors)
    if errors.items:
        # Keep the report in the contract's field order, whatever order the checks ran in.
        order = {name: i for i, name in enumerate(FIELDS)}
        errors.items.sort(key=lambda item: order.get(item["field"], -1))
        return None, errors.items
    return Review(**values), []


def validate_batch(
    raws: Sequence[Any], *, default_platform: str = DEFAULT_PLATFORM, now: dt.datetime | None = None
) -> list[Review]:
    """All reviews valid, or ValidationFailed listing every problem of every review.

    A `(platform, review_id)` may repeat: ingest takes a batch in order, so an identical repeat is a
    duplicate of its first occurrence and a changed one an update of it."""
    now = now or utcnow()
    reviews: list[Review] = []
    items: list[ErrorItem] = []
    for index, raw in enumerate(raws):
        review, problems = validate_review(raw, index, default_platform=default_platform, now=now)
        if review is None:
            items.extend(problems)
            continue
        reviews.append(review)
    if items:
        raise ValidationFailed(items, f"{len({i['index'] for i in items})} of {len(raws)} reviews are invalid")
    return reviews


def reviews_from_body(payload: Any, *, now: dt.datetime | None = None) -> list[Review]:
    """A parsed webhook body (one review or {"reviews": [...]}) as valid reviews.

    Raises TooLarge over MAX_BATCH reviews (before looking at any of them), ValidationFailed
    for a body of the wrong shape, an empty batch or any invalid review."""
    if isinstance(payload, Mapping) and "reviews" in payload:
        raws = payload["reviews"]
        if not isinstance(raws, list):
            raise ValidationFailed(
                [{"index": None, "field": "reviews", "message": "must be a list of review objects"}]
            )
        if len(raws) > MAX_BATCH:
            raise TooLarge(f"{len(raws)} reviews in one request; at most {MAX_BATCH}")
        if not raws:
            raise ValidationFailed(
                [{"index": None, "field": "reviews", "message": "must hold at least one review"}]
            )
        return validate_batch(raws, now=now)
    if not isinstance(payload, Mapping):
        raise ValidationFailed(
            [{"index": None, "field": None, "message": 'body must be a review object or {"reviews": [...]}'}]
        )
    return validate_batch([payload], now=now)
