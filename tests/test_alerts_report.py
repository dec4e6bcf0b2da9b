"""The weekly report's alerts section (JSON extras and HTML)."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import datetime, timedelta

import pytest

from triage.db import open_db, transaction
from triage.reports.render import render_csv, render_html
from triage.reports.weekly import build_weekly
from triage.reports.weeks import IsoWeek
from triage.timeutil import UTC, to_db

WEEK = IsoWeek(2026, 48)  # Monday 2026-11-23 .. Sunday 11-29, Asia/Shanghai
MONDAY = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # 2026-11-23 00:00 in Shanghai
AFTER = MONDAY + timedelta(days=10)


@pytest.fixture()
def conn(tmp_path, migrated_template):
    shutil.copyfile(migrated_template, tmp_path / "r.db")  # migrating afresh costs ~0.2 s a test
    c = open_db(tmp_path / "r.db")
    yield c
    c.close()


def alert(conn, product, cause, opened, resolved=None, count=3):
    with transaction(conn):
        conn.execute(
            "INSERT INTO alerts (scope_key, product_id, category, cause, status, opened_at, updated_at, window_start,"
            " count, resolved_at) VALUES (?, ?, '家居', ?, ?, ?, ?, ?, ?, ?)",
            (f"p:{product}", product, cause, "resolved" if resolved else "open", to_db(opened), to_db(opened),
             to_db(opened), count, to_db(resolved) if resolved else None),
        )


@pytest.fixture()
def week_of_alerts(conn):
    alert(conn, "A", "defect", MONDAY + timedelta(days=1), MONDAY + timedelta(days=1, hours=6), count=7)
    alert(conn, "B", "description_mismatch", MONDAY + timedelta(days=2))  # still open
    alert(conn, "C", "logistics", MONDAY - timedelta(days=3), MONDAY + timedelta(days=1, hours=2))  # from last week
    alert(conn, "D", "other", MONDAY - timedelta(days=5))  # open since last week
    alert(conn, "E", "defect", MONDAY + timedelta(days=3), MONDAY + timedelta(days=9))  # resolved next week
    alert(conn, "F", "defect", MONDAY + timedelta(days=8))  # next week


def test_the_week_counts_opened_resolved_and_still_open(conn, week_of_alerts):
    section = build_weekly(conn, WEEK, "Asia/Shanghai", now=AFTER)["alerts"]
    assert section["opened"] == 3
    assert section["resolved"] == 2
    assert section["open_at_week_end"] == 3  # B, D, and E (resolved only after the week)
    assert section["listing_audits"] == 1
    assert section["by_cause"] == {"logistics": 0, "defect": 2, "description_mismatch": 1, "other": 0}


def test_median_time_to_resolve_is_over_the_weeks_resolves(conn, week_of_alerts):
    section = build_weekly(conn, WEEK, "Asia/Shanghai", now=AFTER)["alerts"]
    # A: 6 h; C: 4 days + 2 h = 98 h
    assert section["median_hours_to_resolve"] == pytest.approx(52.0)


def test_a_week_without_alerts_reports_zeros_and_no_median(conn):
    section = build_weekly(conn, WEEK, "Asia/Shanghai", now=AFTER)["alerts"]
    assert (section["opened"], section["resolved"], section["open_at_week_end"]) == (0, 0, 0)
    assert section["median_hours_to_resolve"] is None


def test_the_current_week_counts_open_alerts_as_of_now(conn, week_of_alerts):
    now = MONDAY + timedelta(days=2, hours=12)
    section = build_weekly(conn, WEEK, "Asia/Shanghai", now=now)["alerts"]
    assert section["open_at_week_end"] == 2  # B and D; E has not opened yet


def test_the_html_report_has_the_alerts_section(conn, week_of_alerts):
    html = render_html(build_weekly(conn, WEEK, "Asia/Shanghai", now=AFTER))
    assert "差评预警（本周）" in html
    assert 'data-alerts="opened">3<' in html
    assert 'data-alerts="median_hours_to_resolve">52.0<' in html


def test_a_report_published_before_alerts_existed_still_renders(conn):
    report = build_weekly(conn, WEEK, "Asia/Shanghai", now=AFTER)
    del report["alerts"]
    assert "差评预警（本周）" not in render_html(report)


def csv_rows(report):
    return list(csv.DictReader(io.StringIO(render_csv(report).decode("utf-8-sig"))))


def test_the_csv_report_has_the_alerts_section_in_the_tidy_layout(conn, week_of_alerts):
    rows = csv_rows(build_weekly(conn, WEEK, "Asia/Shanghai", now=AFTER))
    week = {r["metric"]: r["value"] for r in rows if r["section"] == "alerts"}
    assert week == {"opened": "3", "resolved": "2", "open_at_week_end": "3", "median_hours_to_resolve": "52.0",
                    "listing_audits": "1"}
    by_cause = {r["key"]: (r["label"], r["value"]) for r in rows if r["section"] == "alerts_by_cause"}
    assert by_cause["defect"] == ("质量问题", "2")
    assert by_cause["description_mismatch"] == ("描述不符", "1")
    items = [r for r in rows if r["section"] == "alerts_items"]
    assert {r["label"] for r in items} == {"A", "B", "E"}
    first = {r["metric"]: r["value"] for r in items if r["label"] == "A"}
    assert first == {"product_id": "A", "category": "家居", "cause": "defect", "count": "7", "status": "resolved"}


def test_a_csv_report_published_before_alerts_existed_has_no_alerts_rows(conn):
    report = build_weekly(conn, WEEK, "Asia/Shanghai", now=AFTER)
    del report["alerts"]
    assert not [r for r in csv_rows(report) if r["section"].startswith("alerts")]
