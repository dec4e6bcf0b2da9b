"""Times on the wire are RFC 3339 with a ±hh:mm offset, even where history gave a zone an offset in seconds."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from zoneinfo import ZoneInfo

import pytest

from triage.reports.weeks import IsoWeek
from triage.timeutil import parse_rfc3339, to_db, to_wire, utcnow

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
TIMESTAMP_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T")

# Zones whose offset was not a whole number of minutes at the given (local) time.
LOCAL_MEAN_TIMES = [
    ("Asia/Shanghai", dt.datetime(1900, 1, 1)),  # +08:05:43
    ("Africa/Monrovia", dt.datetime(1970, 1, 5)),  # -00:44:30, so .5 minutes: rounding direction matters
    ("Europe/Amsterdam", dt.datetime(1930, 6, 2)),  # +01:19:32 (summer)
    ("America/New_York", dt.datetime(1880, 1, 1)),  # -04:56:02
    ("America/St_Johns", dt.datetime(1900, 1, 1)),  # -03:30:52: rounding to nearest would go back a day
    ("Pacific/Kiritimati", dt.datetime(1900, 1, 1)),  # -10:29:20
]


@pytest.mark.parametrize(("zone", "local"), LOCAL_MEAN_TIMES, ids=[z for z, _ in LOCAL_MEAN_TIMES])
def test_an_offset_with_seconds_is_written_as_whole_minutes_for_the_same_instant(zone, local):
    moment = local.replace(tzinfo=ZoneInfo(zone))
    assert moment.utcoffset() % dt.timedelta(minutes=1), "the example must have an offset with seconds"
    wire = to_wire(moment, ZoneInfo(zone))
    assert RFC3339.fullmatch(wire)
    assert parse_rfc3339(wire) == moment  # the instant is unchanged
    assert dt.datetime.fromisoformat(wire).date() == local.date()  # and so is the local date


def test_shanghai_1900_reads_plus_08_06():
    moment = dt.datetime(1900, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert to_wire(moment, ZoneInfo("Asia/Shanghai")) == "1900-01-01T00:00:17+08:06"


def test_whole_minute_offsets_are_written_as_they_are():
    moment = dt.datetime(2026, 11, 23, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert to_wire(moment, ZoneInfo("Asia/Kolkata")) == "2026-11-23T00:00:00+05:30"


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_parsing_a_time_with_no_utc_instant_is_a_value_error(value):
    with pytest.raises(ValueError, match="range"):
        parse_rfc3339(value)


def _times(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _times(item)
    elif isinstance(value, list):
        for item in value:
            yield from _times(item)
    elif isinstance(value, str) and TIMESTAMP_TEXT.match(value):
        yield value


def test_the_weekly_report_of_1900_w01_in_shanghai_has_rfc3339_times(settings, db):
    from web import create_app

    token = "trg_wire-times"
    db.execute(
        "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?)",
        ("wire", hashlib.sha256(token.encode()).hexdigest(), to_db(utcnow())),
    )
    client = create_app(settings).test_client()
    response = client.get("/api/v1/reports/weekly?week=1900-W01", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.get_json()
    times = list(_times(body))
    assert body["start"] in times and body["end"] in times
    assert [t for t in times if not RFC3339.fullmatch(t)] == []
    start, end = IsoWeek(1900, 1).bounds(ZoneInfo("Asia/Shanghai"))
    assert (parse_rfc3339(body["start"]), parse_rfc3339(body["end"])) == (start, end)
