"""The weekly report's additions: the CS section (per shift and agent, week on week), SLA by
priority, the breached list with links, n beside every rate, minimum samples for rankings and
the trend, and the same figures in the tidy CSV. The contract's fields stay as they were."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from tests.report_rows import add_case, add_reviews
from triage.reports.render import render_csv, render_html
from triage.reports.weekly import build_weekly
from triage.reports.weeks import IsoWeek

TZ = "Asia/Shanghai"
W48 = IsoWeek(2026, 48)
NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
CONTRACT_FIELDS = {"week", "start", "end", "timezone", "reviews", "negative", "negative_rate", "rating_negative_rate",
                   "previous", "by_cause", "by_category", "top_products", "cases"}


def case(db, opened: str, agent: str | None = None, **kw) -> int:
    case_id = add_case(db, opened, **kw)
    if agent:
        db.execute("UPDATE cases SET assignee = ?, resolved_by = CASE WHEN resolved_at IS NOT NULL THEN ? END"
                   " WHERE id = ?", (agent, agent, case_id))
    return case_id


@pytest.fixture()
def week(db):
    # W48: a day case contacted after 30 min and resolved in time, a night case contacted after
    # 10 h and resolved late; W47: one day case, not resolved.
    case(db, "2026-11-24T10:00:00+08:00", "li", first_contact_due="2026-11-24T12:00:00+08:00",
         first_contacted_at="2026-11-24T10:30:00+08:00", resolution_due="2026-11-25T10:00:00+08:00",
         resolved_at="2026-11-24T15:00:00+08:00", sla_first_contact="met", sla_resolution="met")
    night = case(db, "2026-11-25T23:00:00+08:00", "wang", first_contact_due="2026-11-26T11:00:00+08:00",
                 first_contacted_at="2026-11-26T09:00:00+08:00", resolution_due="2026-11-27T09:00:00+08:00",
                 resolved_at="2026-11-28T09:00:00+08:00", sla_first_contact="met", sla_resolution="breached")
    case(db, "2026-11-17T10:00:00+08:00", "li", first_contact_due="2026-11-17T12:00:00+08:00")
    add_reviews(db, 30, "2026-11-25T12:00:00+08:00", sentiment="positive", rating=5, category="数码")
    add_reviews(db, 2, "2026-11-25T12:00:00+08:00", sentiment="negative", rating=1, category="小众")
    return night


def build(db):
    return build_weekly(db, W48, TZ, now=NOW)


def test_the_contract_fields_stay_and_cs_comes_as_extras(db, week):
    report = build(db)
    assert CONTRACT_FIELDS <= set(report)
    assert set(report["cases"]) >= {"opened", "first_contact_within_sla", "resolved_within_sla", "breached"}
    assert {"cs", "sla_by_priority", "breached_cases", "rates_n", "categories_by_rate"} <= set(report)


def test_cs_by_shift_puts_day_and_night_side_by_side_with_last_week(db, week):
    cs = build(db)["cs"]
    day, night = cs["by_shift"]
    assert (day["key"], day["label"], night["key"]) == ("白班", "白班 09:00–21:00", "夜班")
    assert (day["cases_handled"], night["cases_handled"]) == (1, 1)
    assert night["first_contact_minutes"]["median"] == 600.0
    assert day["previous"]["cases_handled"] == 1  # W47's day case
    assert day["change"]["resolution_rate"] == 1.0  # 1/1 now, 0/1 last week
    assert night["change"]["resolution_rate"] is None  # no night case last week
    assert night["rates"]["resolution_within_sla"] == {"count": 0, "n": 1, "rate": 0.0}


def test_cs_by_agent_and_overall(db, week):
    cs = build(db)["cs"]
    agents = {g["key"]: g for g in cs["by_agent"]}
    assert agents["li"]["resolved_within_sla"] == 1 and agents["wang"]["resolved"] == 1
    assert cs["overall"]["cases_handled"] == 2 and cs["overall"]["previous"]["cases_handled"] == 1


def test_sla_by_priority_gives_each_rate_with_its_n(db, week):
    p2 = {item["priority"]: item for item in build(db)["sla_by_priority"]}["P2"]
    assert p2["opened"] == 2
    assert p2["resolved_within_sla"] == {"count": 1, "n": 2, "rate": 0.5}
    assert p2["breached"] == 1


def test_breached_cases_are_listed_with_links_to_the_case_page(db, week):
    breached = build(db)["breached_cases"]
    assert breached["total"] == 1
    assert breached["items"][0]["url"] == f"/cases/{week}"
    assert breached["items"][0]["clock"] == "resolution"
    html = render_html(build(db))
    assert f'href="/cases/{week}"' in html


def test_headline_rates_carry_their_n(db, week):
    report = build(db)
    assert report["rates_n"] == {"negative_rate": 32, "rating_negative_rate": 32, "hidden_complaint_rate": 30}
    assert "n=32" in render_html(report)


def test_a_category_with_few_reviews_is_not_ranked_by_rate(db, week):
    report = build(db)
    # 小众: 2 reviews, both negative — the worst rate, but too few to rank.
    assert [c["category"] for c in report["categories_by_rate"]] == ["数码"]
    assert "小众" in [c["category"] for c in report["by_category"]]


def test_the_trend_marks_weeks_with_too_few_reviews(db, week):
    report = build(db)
    assert report["trend"][-1]["enough"] is True
    assert report["trend"][-2]["enough"] is False  # W47: no reviews
    html = render_html(report)
    assert "W47*" in html and "不宜解读" in html


def test_small_samples_never_show_as_a_bare_percentage(db, week):
    html = render_html(build(db))
    cs_part = html[html.index("客服绩效"):html.index("各优先级")]
    assert "100.00%" not in cs_part and "100.0%" not in cs_part
    assert "1/1（样本少）" in cs_part


def test_the_csv_holds_the_cs_figures_one_row_per_section_key_metric(db, week):
    rows = list(csv.DictReader(io.StringIO(render_csv(build(db)).decode("utf-8-sig"))))
    keys = [(r["section"], r["key"], r["metric"]) for r in rows]
    assert len(keys) == len(set(keys))  # tidy: each (section, key, metric) once
    table = {(r["section"], r["key"], r["metric"]): r["value"] for r in rows}
    assert table[("cs_shift", "夜班", "first_contact_minutes_median")] == "600.0"
    assert table[("cs_shift", "白班", "resolution_within_sla_n")] == "1"
    assert table[("cs_agent", "li", "resolution_rate")] == "1.0"
    assert table[("cs_agent", "wang", "revised_upward_count")] == "0"
    assert table[("sla_by_priority", "P2", "resolved_within_sla_rate")] == "0.5"
    assert table[("breached_cases", str(week), "clock")] == "resolution"
    assert table[("summary", "", "negative_rate_n")] == "32"


def test_a_report_published_before_these_additions_still_renders(db, week):
    old = {k: v for k, v in build(db).items()
           if k not in ("cs", "sla_by_priority", "breached_cases", "rates_n", "categories_by_rate",
                        "category_min_reviews")}
    old["trend"] = [{k: v for k, v in item.items() if k != "enough"} for item in old["trend"]]
    assert "差评周报" in render_html(old)
    assert render_csv(old).startswith(b"\xef\xbb\xbfsection,key,label,metric,value")
