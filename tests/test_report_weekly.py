"""The weekly report's figures, from rows inserted with SQL into a real SQLite file.

Reference week: 2026-W48, Monday 23 to Sunday 29 November 2026 in Asia/Shanghai (UTC+8), i.e.
[2026-11-22T16:00Z, 2026-11-29T16:00Z). Reports are generated "now" = Monday 7 December.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from classifier.causes import CAUSES
from tests.report_rows import add_case, add_review, add_reviews
from triage.reports.weekly import TREND_WEEKS, build_weekly, classifier_version
from triage.reports.weeks import IsoWeek

TZ = "Asia/Shanghai"
W48 = IsoWeek(2026, 48)
NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
MID_W48 = "2026-11-25T12:00:00+08:00"
MID_W47 = "2026-11-18T12:00:00+08:00"


def report(db, week: IsoWeek = W48, **kwargs):
    return build_weekly(db, week, TZ, now=kwargs.pop("now", NOW), **kwargs)


# --------------------------------------------------------------------------------------------
# Week boundaries


@pytest.mark.parametrize(
    ("created_at", "in_w48"),
    [
        ("2026-11-23T00:00:00+08:00", True),  # Monday 00:00 local: first instant of the week
        ("2026-11-22T15:59:59.999999+00:00", False),  # one microsecond earlier, sent in UTC
        ("2026-11-22T16:00:00+00:00", True),  # the same Monday 00:00, sent in UTC
        ("2026-11-29T23:59:59+08:00", True),  # Sunday 23:59:59 local
        ("2026-11-29T15:59:59Z", True),  # the same Sunday 23:59:59, sent in UTC
        ("2026-11-30T00:00:00+08:00", False),  # Monday 00:00 local: next week
        ("2026-11-29T16:00:00+00:00", False),  # the same instant, sent in UTC
        ("2026-11-29T11:00:00-05:00", False),  # the same instant, from New York
        ("2026-11-29T10:59:59-05:00", True),
    ],
)
def test_a_review_counts_in_the_local_week_of_its_created_at(db, created_at, in_w48):
    add_review(db, created_at, sentiment="negative")
    assert report(db)["reviews"] == (1 if in_w48 else 0)


def test_the_report_states_its_bounds_in_the_zone(db):
    r = report(db)
    assert (r["week"], r["start"], r["end"], r["timezone"]) == (
        "2026-W48", "2026-11-23T00:00:00+08:00", "2026-11-30T00:00:00+08:00", TZ
    )


# --------------------------------------------------------------------------------------------
# Headline figures


def test_an_empty_week_reports_zeros_and_null_rates(db):
    add_review(db, MID_W47, sentiment="negative", rating=1)  # another week's data is not this week's
    r = report(db)
    assert (r["reviews"], r["negative"], r["scored"], r["rated"], r["hidden_complaints"]) == (0, 0, 0, 0, 0)
    assert (r["negative_rate"], r["rating_negative_rate"], r["hidden_complaint_rate"]) == (None, None, None)
    assert r["by_cause"] == dict.fromkeys(CAUSES, 0)
    assert (r["by_category"], r["top_products"], r["top_products_by_rate"]) == ([], [], [])
    assert r["cases"] == {"opened": 0, "first_contact_within_sla": 0, "resolved_within_sla": 0, "breached": 0,
                          "contacted": 0, "resolved": 0, "median_minutes_to_first_contact": None}


def test_negative_rate_divides_by_all_reviews_including_unscored(db):
    add_reviews(db, 3, MID_W48, sentiment="negative")
    add_reviews(db, 5, MID_W48, sentiment="positive")
    add_reviews(db, 2, MID_W48)  # pending
    r = report(db)
    assert (r["reviews"], r["negative"], r["scored"], r["negative_rate"]) == (10, 3, 8, 0.3)


def test_rating_negative_rate_counts_rated_reviews_only(db):
    for rating in (1, 2, 3, 5):
        add_review(db, MID_W48, sentiment="positive", rating=rating)
    add_reviews(db, 4, MID_W48, sentiment="negative")  # unrated
    r = report(db)
    assert (r["rated"], r["rating_negative"], r["rating_negative_rate"]) == (4, 2, 0.5)


def test_a_week_without_rated_reviews_has_a_null_rating_rate(db):
    add_reviews(db, 3, MID_W48, sentiment="negative")
    r = report(db)
    assert (r["rating_negative_rate"], r["negative_rate"]) == (None, 1.0)


def test_hidden_complaints_are_four_and_five_stars_scored_negative(db):
    add_review(db, MID_W48, sentiment="negative", rating=5)
    add_review(db, MID_W48, sentiment="negative", rating=4)
    add_review(db, MID_W48, sentiment="positive", rating=4)
    add_review(db, MID_W48, rating=5)  # pending: not (yet) a complaint
    add_review(db, MID_W48, sentiment="negative", rating=1)  # an open complaint, not a hidden one
    r = report(db)
    assert (r["hidden_complaints"], r["hidden_complaint_rate"]) == (2, 0.5)


# --------------------------------------------------------------------------------------------
# Causes, categories, products


def test_by_cause_counts_reviews_carrying_each_cause(db):
    add_review(db, MID_W48, sentiment="negative", causes=["logistics", "defect"])
    add_review(db, MID_W48, sentiment="negative", causes=["logistics"])
    add_review(db, MID_W48, sentiment="negative", causes=["other", "other"])  # counted once
    add_review(db, MID_W48, sentiment="positive", causes=[])
    add_review(db, MID_W48)  # pending: causes NULL
    add_review(db, MID_W47, sentiment="negative", causes=["description_mismatch"])
    assert report(db)["by_cause"] == {"logistics": 2, "defect": 1, "description_mismatch": 0, "other": 1}


def test_by_cause_lists_unknown_causes_after_the_known_ones(db):
    add_review(db, MID_W48, sentiment="negative", causes=["packaging"])
    assert list(report(db)["by_cause"].items())[-1] == ("packaging", 1)


def test_a_malformed_causes_value_does_not_break_the_report(db):
    pk = add_review(db, MID_W48, sentiment="negative", causes=["defect"])
    add_review(db, MID_W48, sentiment="negative", causes=["defect"])
    db.execute("UPDATE reviews SET causes = '[\"defect\"' WHERE id = ?", (pk,))
    assert report(db)["by_cause"]["defect"] == 1


def test_by_category_orders_by_negatives_and_keeps_uncategorised(db):
    add_reviews(db, 1, MID_W48, sentiment="negative", category="服装")
    add_reviews(db, 3, MID_W48, sentiment="positive", category="服装")
    add_reviews(db, 2, MID_W48, sentiment="negative", category="数码")
    add_reviews(db, 1, MID_W48, sentiment="negative")
    assert report(db)["by_category"] == [
        {"category": "数码", "reviews": 2, "negative": 2, "negative_rate": 1.0},
        {"category": "服装", "reviews": 4, "negative": 1, "negative_rate": 0.25},
        {"category": None, "reviews": 1, "negative": 1, "negative_rate": 1.0},
    ]


def test_top_products_rank_by_negative_count_and_skip_products_without_negatives(db):
    add_reviews(db, 3, MID_W48, sentiment="negative", product_id="a", product_name="保温杯")
    add_reviews(db, 5, MID_W48, sentiment="negative", product_id="b")
    add_reviews(db, 9, MID_W48, sentiment="positive", product_id="c")
    add_reviews(db, 1, MID_W48, sentiment="negative", product_id="d")
    top = report(db, top_n=2)["top_products"]
    assert [(p["product_id"], p["negative"]) for p in top] == [("b", 5), ("a", 3)]
    assert top[1] == {"product_id": "a", "product_name": "保温杯", "category": None, "reviews": 3,
                      "negative": 3, "negative_rate": 1.0}


def test_product_name_and_category_are_the_latest_given_in_the_week(db):
    add_review(db, "2026-11-24T12:00:00+08:00", sentiment="negative", product_id="a", product_name="旧名", category="家居")
    add_review(db, "2026-11-26T12:00:00+08:00", sentiment="negative", product_id="a", product_name="新名", category="厨具")
    add_review(db, "2026-11-27T12:00:00+08:00", sentiment="positive", product_id="a")  # names not given
    add_review(db, "2026-12-01T12:00:00+08:00", sentiment="positive", product_id="a", product_name="下周的名字")
    top = report(db)["top_products"][0]
    assert (top["product_name"], top["category"]) == ("新名", "厨具")


@pytest.mark.parametrize(
    ("min_reviews", "ranking"),
    [
        (1, ["one-bad-review", "c", "b"]),  # without a floor the single bad review tops the list
        (20, ["c", "b"]),
        (25, ["c"]),
        (26, []),
    ],
)
def test_top_products_by_rate_need_a_minimum_volume(db, min_reviews, ranking):
    add_review(db, MID_W48, sentiment="negative", product_id="one-bad-review")
    add_reviews(db, 5, MID_W48, sentiment="negative", product_id="b")
    add_reviews(db, 15, MID_W48, sentiment="positive", product_id="b")
    add_reviews(db, 10, MID_W48, sentiment="negative", product_id="c")
    add_reviews(db, 15, MID_W48, sentiment="positive", product_id="c")
    r = report(db, min_reviews_for_rate=min_reviews)
    assert [p["product_id"] for p in r["top_products_by_rate"]] == ranking
    assert r["top_products_min_reviews"] == min_reviews


# --------------------------------------------------------------------------------------------
# Cases (opened in the week; NOW = 2026-12-07T01:00Z)

OPEN = "2026-11-25T10:00:00+08:00"
DUE = "2026-11-25T18:00:00+08:00"
RES_DUE = "2026-11-27T18:00:00+08:00"
EARLY = "2026-11-25T11:00:00+08:00"
LATE = "2026-11-26T11:00:00+08:00"
FUTURE = "2026-12-09T00:00:00+08:00"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # (first_contact_within_sla, resolved_within_sla, breached)
        (dict(first_contact_due=DUE, first_contacted_at=EARLY, resolution_due=RES_DUE, resolved_at=LATE), (1, 1, 0)),
        (dict(first_contact_due=DUE, first_contacted_at=DUE, resolution_due=RES_DUE, resolved_at=RES_DUE), (1, 1, 0)),
        (dict(first_contact_due=DUE, first_contacted_at=LATE, resolution_due=RES_DUE, resolved_at=LATE), (0, 1, 1)),
        (dict(first_contact_due=DUE, resolution_due=RES_DUE), (0, 0, 1)),  # never contacted, due passed
        (dict(first_contact_due=FUTURE, resolution_due=FUTURE), (0, 0, 0)),  # not yet due at NOW
        (dict(first_contact_due=DUE, first_contacted_at=EARLY, resolution_due=RES_DUE), (1, 0, 1)),
        (dict(first_contact_due=None, first_contacted_at=EARLY, resolution_due=None), (1, 0, 0)),  # paused clocks
        (dict(first_contact_due=FUTURE, resolution_due=FUTURE, sla_first_contact="breached"), (0, 0, 1)),
    ],
)
def test_cases_block_classifies_each_case(db, case, expected):
    add_case(db, OPEN, **case)
    c = report(db)["cases"]
    assert c["opened"] == 1
    assert (c["first_contact_within_sla"], c["resolved_within_sla"], c["breached"]) == expected


@pytest.mark.parametrize(
    ("opened_at", "counted"),
    [
        ("2026-11-23T00:00:00+08:00", 1),
        ("2026-11-29T23:59:59+08:00", 1),
        ("2026-11-30T00:00:00+08:00", 0),
        ("2026-11-22T23:59:59+08:00", 0),
    ],
)
def test_cases_count_in_the_week_they_were_opened(db, opened_at, counted):
    add_case(db, opened_at, first_contact_due=FUTURE, resolution_due=FUTURE)
    assert report(db)["cases"]["opened"] == counted


@pytest.mark.parametrize(
    ("minutes", "median"),
    [([10], 10.0), ([10, 40, 20], 20.0), ([10, 20, 30, 40], 25.0), ([90, 0.5], 45.2)],
)
def test_median_minutes_to_first_contact(db, minutes, median):
    opened = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    for m in minutes:
        contacted = opened.timestamp() + m * 60
        add_case(db, opened.isoformat(), first_contacted_at=datetime.fromtimestamp(contacted, UTC).isoformat())
    add_case(db, opened.isoformat())  # not contacted: not part of the median
    c = report(db)["cases"]
    assert (c["median_minutes_to_first_contact"], c["contacted"]) == (median, len(minutes))


# --------------------------------------------------------------------------------------------
# Previous week, change and trend


def test_previous_week_and_change(db):
    add_reviews(db, 1, MID_W47, sentiment="negative", rating=1)
    add_reviews(db, 3, MID_W47, sentiment="positive", rating=5)
    add_reviews(db, 1, MID_W48, sentiment="negative", rating=5)
    add_reviews(db, 1, MID_W48, sentiment="positive", rating=5)
    r = report(db)
    assert r["previous"] == {"week": "2026-W47", "negative_rate": 0.25, "reviews": 4, "negative": 1,
                             "rating_negative_rate": 0.25, "hidden_complaint_rate": 0.0}
    assert r["change"] == {"reviews": -2, "negative_rate": 0.25, "rating_negative_rate": -0.25,
                           "hidden_complaint_rate": 0.5}


def test_change_is_null_when_the_previous_week_was_empty(db):
    add_review(db, MID_W48, sentiment="negative")
    r = report(db)
    assert (r["previous"]["negative_rate"], r["change"]["negative_rate"], r["change"]["reviews"]) == (None, None, 1)


@pytest.mark.parametrize(
    ("week", "previous", "previous_review_at"),
    [
        ("2027-W01", "2026-W53", "2026-12-31T12:00:00+08:00"),  # 2026 has 53 ISO weeks
        ("2026-W53", "2026-W52", "2026-12-24T12:00:00+08:00"),
        ("2026-W01", "2025-W52", "2025-12-28T23:00:00+08:00"),  # 2025 has 52
    ],
)
def test_previous_week_across_the_year_end(db, week, previous, previous_review_at):
    add_review(db, previous_review_at, sentiment="negative")
    add_review(db, previous_review_at, sentiment="positive")
    r = report(db, IsoWeek.parse(week), now=datetime(2027, 2, 1, tzinfo=UTC))
    assert r["previous"]["week"] == previous
    assert r["previous"]["negative_rate"] == 0.5


def test_trend_holds_twelve_weeks_oldest_first_with_empty_weeks(db):
    add_reviews(db, 2, "2026-09-08T12:00:00+08:00", sentiment="negative")  # 2026-W37, the oldest shown
    add_reviews(db, 1, "2026-09-01T12:00:00+08:00", sentiment="negative")  # 2026-W36, too old
    add_reviews(db, 1, MID_W48, sentiment="negative")
    add_reviews(db, 3, MID_W48, sentiment="positive")
    trend = report(db)["trend"]
    assert len(trend) == TREND_WEEKS
    assert [t["week"] for t in (trend[0], trend[1], trend[-1])] == ["2026-W37", "2026-W38", "2026-W48"]
    assert [(t["reviews"], t["negative_rate"]) for t in (trend[0], trend[1], trend[-1])] == [
        (2, 1.0), (0, None), (4, 0.25)
    ]
    assert trend[0]["start"] == "2026-09-07T00:00:00+08:00"


def test_trend_crosses_the_53_week_year_end(db):
    add_review(db, "2026-12-29T12:00:00+08:00", sentiment="negative")  # 2026-W53
    trend = report(db, IsoWeek(2027, 2), now=datetime(2027, 2, 1, tzinfo=UTC))["trend"]
    assert [t["week"] for t in trend[-3:]] == ["2026-W53", "2027-W01", "2027-W02"]
    assert trend[-3]["reviews"] == 1


def test_the_figures_take_a_fixed_number_of_queries_not_one_per_week(db):
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    report(db)
    db.set_trace_callback(None)
    selects = [s for s in statements if "SELECT" in s.upper()]
    # 7 for the review figures, 1 for categories by rate, 1 for SLA by priority, 2 for the breached
    # list (count and page), 1 for alerts; and for each week of the CS section (this and the last),
    # 3 per period plus at most 4 per day not in the day cache yet (all 7 here: a fresh database).
    assert len(selects) <= 12 + 2 * (3 + 4 * 7)
    # The whole 12-week trend in one grouped query (the other VALUES tables are the CS section's shift spans).
    assert sum("VALUES" in s and "seg(" not in s and "a(agent)" not in s for s in selects) == 1


def test_no_report_query_reads_all_reviews(db):
    """Every access to reviews is a range SEARCH on an index, never a SCAN of the whole table or
    index: what keeps a million-review week at seconds (bench/report_bench.py measures it)."""
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    report(db)
    db.set_trace_callback(None)
    details = [row[3] for s in statements if "SELECT" in s.upper() for row in db.execute("EXPLAIN QUERY PLAN " + s)]
    assert any("COVERING INDEX reviews_report_week" in d for d in details)
    assert [d for d in details if re.match(r"SCAN (reviews|r)\b", d)] == []


# --------------------------------------------------------------------------------------------
# Model version, completeness


def test_model_version_is_the_weeks_most_common(db):
    add_reviews(db, 2, MID_W48, sentiment="negative", model_version="m-old")
    add_reviews(db, 3, MID_W48, sentiment="positive", model_version="m-new")
    add_reviews(db, 9, MID_W47, sentiment="positive", model_version="m-older")
    assert report(db)["model_version"] == "m-new"


def test_model_version_falls_back_to_the_shipped_classifier(db):
    import json

    from classifier.model import MODEL_NAME, MODELS_DIR

    shipped = json.loads((MODELS_DIR / f"{MODEL_NAME}.json").read_text("utf-8"))["version"]
    assert classifier_version() == shipped
    assert report(db)["model_version"] == shipped


@pytest.mark.parametrize(
    ("now", "complete"),
    [(datetime(2026, 11, 29, 15, 59, 59, tzinfo=UTC), False), (datetime(2026, 11, 29, 16, tzinfo=UTC), True)],
)
def test_a_report_says_whether_its_week_has_ended(db, now, complete):
    r = report(db, now=now)
    assert (r["complete"], r["generated_at"]) == (complete, now.astimezone(ZoneInfo(TZ)).isoformat(timespec="seconds"))
