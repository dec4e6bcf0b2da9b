"""Times on the wire are RFC 3339 with a ±hh:mm offset, even where history gave a zone an offset in seconds."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.reports.weeks import IsoWeek
from triage.timeutil import from_db, parse_rfc3339, to_db, to_wire, utcnow, wire_from_db

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


# A stored time goes to the wire without being parsed (the case list writes a dozen per case):
# held here to the general path, `to_wire(from_db(...))`, for any instant.
_PROPERTY = settings(max_examples=100, deadline=None, database=None)


@pytest.mark.slow
@_PROPERTY
@given(moment=st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC)),
       zone=st.sampled_from(("UTC", "Asia/Shanghai", "America/St_Johns", "Europe/Berlin")))
def test_a_stored_time_goes_to_the_wire_as_the_general_path_writes_it(moment, zone):
    local = moment.astimezone(ZoneInfo(zone))
    assert wire_from_db(to_db(local)) == to_wire(from_db(to_db(local))) == to_wire(local)
    general = local.astimezone(dt.timezone(dt.timedelta(0)))  # UTC, but not the UTC object: no shortcut
    assert to_wire(moment) == to_wire(general)


def test_a_stored_time_in_another_form_still_reads():
    assert wire_from_db("2026-11-26T13:05:00.5+08:00") == "2026-11-26T05:05:00+00:00"
    assert wire_from_db(None) is None
