"""Time at the edges: the database stores UTC instants as fixed-width ISO 8601 text.

`2026-11-26T05:33:27.000000+00:00` sorts lexicographically in time order, so SQL range filters
and ORDER BY work on the text column directly.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

UTC = dt.UTC


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def to_db(moment: dt.datetime) -> str:
    """Canonical stored form of an aware datetime; naive datetimes are a programming error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: store only aware datetimes")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"stored time without offset: {value!r}")
    return moment.astimezone(UTC)


def parse_rfc3339(value: str) -> dt.datetime:
    """Parse an RFC 3339 timestamp; the offset is required (a bare local time is ambiguous)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamp needs a UTC offset, e.g. 2026-11-26T13:05:00+08:00")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        # 9999-12-31T23:59:59-14:00 or 0001-01-01T00:00:00+14:00: valid text, no UTC instant.
        raise ValueError(f"{value!r} is outside the representable range of dates") from exc


def to_wire(moment: dt.datetime | None, zone: ZoneInfo | None = None) -> str | None:
    """RFC 3339 with offset, as the contract requires on the wire (UTC unless a zone is given).

    RFC 3339 offsets are whole minutes (±hh:mm), but historical zone data has offsets with
    seconds: Asia/Shanghai before 1901 is local mean time, +08:05:43. Such an offset is rounded up
    to the next whole minute and the clock reading moves forward with it (by under a minute), so
    the instant is unchanged and a local midnight, such as a report week's start, keeps its date
    (1900-01-01T00:00:00+08:05:43 -> 1900-01-01T00:00:17+08:06)."""
    if moment is None:
        return None
    if zone is None and moment.tzinfo is UTC:  # the common case: already the wire's zone
        return moment.isoformat(timespec="seconds")
    local = moment.astimezone(zone or UTC)
    offset = local.utcoffset()
    if offset is not None and offset % dt.timedelta(minutes=1):
        minutes = -(-offset // dt.timedelta(minutes=1))  # ceiling: the clock reading only moves forward
        local = moment.astimezone(dt.timezone(dt.timedelta(minutes=minutes)))
    return local.isoformat(timespec="seconds")


# to_db's own form. Its wire form is its first 19 characters (the seconds: isoformat truncates)
# and the UTC offset, so a case list's dozen times per row need no datetime at all.
_STORED_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00")


def wire_from_db(value: str | None) -> str | None:
    if value is None:
        return None
    if _STORED_UTC.fullmatch(value):
        return value[:19] + "+00:00"
    return to_wire(from_db(value))
