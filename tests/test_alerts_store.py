"""Alerts in the database: counters, the incremental detection run, joins, resolves and actions."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from triage.alerts import store
from triage.alerts.store import AlertActionError, act, alert_json, detect, get_alert, record_reviews
from triage.db import open_db, transaction
from triage.timeutil import to_db

NOW = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)
_ids = count(1)


@pytest.fixture()
def conn(tmp_path, migrated_template):
    shutil.copyfile(migrated_template, tmp_path / "alerts.db")  # migrating afresh costs ~0.2 s a test
    c = open_db(tmp_path / "alerts.db")
    yield c
    c.close()


def add(conn: sqlite3.Connection, at: datetime | list[datetime], *, product: str = "P1", category: str | None = "服装",
        causes: tuple[str, ...] | list[tuple[str, ...]] = (), text: str = "还行", n: int = 1) -> list[int]:
    """Scored reviews stored as the apply path leaves them, then counted (one transaction).

    `at` and `causes` may be lists, one entry per review."""
    times = at if isinstance(at, list) else [at] * n
    each = causes if isinstance(causes, list) else [causes] * len(times)
    pks = []
    with transaction(conn):
        for when, these in zip(times, each, strict=True):
            i = next(_ids)
            cur = conn.execute(
                "INSERT INTO reviews (platform, review_id, text, customer_id, product_id, category, created_at,"
                " received_at, status, sentiment, causes, terms) VALUES ('tmall', ?, ?, ?, ?, ?, ?, ?, 'scored', ?, ?, ?)",
                (f"r{i}", text, f"c{i}", product, category, to_db(when), to_db(when),
                 "negative" if these else "positive", json.dumps(list(these)), json.dumps({"causes": {}})),
            )
            pks.append(cur.lastrowid)
        record_reviews(conn, pks, max(times))
    return pks


def history(conn, product="P1", category="服装", days=35, per_day=6, complaint_every=100, cause="defect"):
    """`days` of quiet history before NOW: one complaint of `cause` every `complaint_every` reviews."""
    times = [NOW - timedelta(days=d) + timedelta(hours=h) for d in range(days, 0, -1) for h in range(per_day)]
    causes = [(cause,) if (k + 1) % complaint_every == 0 else () for k in range(len(times))]
    add(conn, times, product=product, category=category, causes=causes)


def burst(conn, n=4, product="P1", category="服装", cause="defect", text="拉链坏了，质量太差", start=NOW - timedelta(hours=3)):
    return [add(conn, start + timedelta(minutes=20 * i), product=product, category=category, causes=(cause,),
                text=text)[0] for i in range(n)]


def week_complaints(conn, cause="defect", product="P1"):
    """Complaints of the quiet history inside the 7 days before the burst."""
    return conn.execute(
        "SELECT COUNT(*) FROM reviews WHERE product_id = ? AND causes = ? AND created_at >= ? AND created_at < ?",
        (product, json.dumps([cause]), to_db(store.floor_hour(NOW - timedelta(days=7))),
         to_db(NOW - timedelta(hours=3))),
    ).fetchone()[0]


def counter(conn, scope, cause, at):
    row = conn.execute("SELECT n FROM alert_counters WHERE scope = ? AND cause = ? AND hour = ?",
                       (scope, cause, to_db(store.floor_hour(at)))).fetchone()
    return row[0] if row else 0


def test_a_scored_review_counts_for_its_product_category_and_overall_hour(conn):
    add(conn, NOW, causes=("defect", "logistics"))
    for scope in ("p:P1", "c:服装", "all"):
        assert counter(conn, scope, "", NOW) == 1
        assert counter(conn, scope, "defect", NOW) == 1
        assert counter(conn, scope, "logistics", NOW) == 1
    assert counter(conn, "p:P1", "other", NOW) == 0


def test_counting_the_same_review_twice_changes_nothing(conn):
    [pk] = add(conn, NOW, causes=("defect",))
    with transaction(conn):
        assert record_reviews(conn, [pk], NOW) == 0
    assert counter(conn, "p:P1", "defect", NOW) == 1


def test_a_rescored_review_moves_its_counts(conn):
    [pk] = add(conn, NOW, causes=("defect",))
    with transaction(conn):
        conn.execute("UPDATE reviews SET causes = ? WHERE id = ?", ('["logistics"]', pk))
        record_reviews(conn, [pk], NOW)
    assert counter(conn, "p:P1", "defect", NOW) == 0
    assert counter(conn, "p:P1", "logistics", NOW) == 1
    assert counter(conn, "p:P1", "", NOW) == 1


def test_counting_marks_the_product_and_its_category_dirty(conn):
    add(conn, NOW, causes=("defect",))
    assert {r[0] for r in conn.execute("SELECT scope FROM alert_dirty")} == {"p:P1", "c:服装"}


def test_one_complaining_review_never_opens_an_alert(conn):
    add(conn, NOW, causes=("defect",))
    outcome = detect(conn, NOW)
    assert outcome.opened == []
    assert outcome.scopes == 2
    assert conn.execute("SELECT COUNT(*) FROM alert_dirty").fetchone()[0] == 0


def test_a_burst_on_a_quiet_product_opens_one_alert_with_its_reviews(conn):
    history(conn)
    pks = burst(conn, 4)
    outcome = detect(conn, NOW)
    assert len(outcome.opened) == 1
    alert = alert_json(conn, get_alert(conn, outcome.opened[0]))
    assert (alert["product_id"], alert["category"], alert["cause"], alert["status"]) == ("P1", "服装", "defect", "open")
    burst_ids = [conn.execute("SELECT review_id FROM reviews WHERE id = ?", (pk,)).fetchone()[0] for pk in pks]
    # The alert holds every complaint of its cause in the 7-day window: the burst, and any before it.
    assert alert["review_ids"][-4:] == burst_ids
    assert alert["count"] == len(alert["review_ids"]) == 4 + week_complaints(conn)
    assert alert["baseline_rate"] == pytest.approx(0.01, abs=0.01)
    assert alert["rate"] == pytest.approx(alert["count"] / alert["window_reviews"], abs=1e-6)
    assert alert["rate"] > 5 * alert["baseline_rate"]
    assert alert["opened_at"].endswith("+00:00")


def test_the_same_complaints_on_a_chronically_bad_product_do_not_alert(conn):
    history(conn, complaint_every=2)  # half of its reviews complain, always
    burst(conn, 4)
    assert detect(conn, NOW).opened == []


def test_new_matching_reviews_join_the_open_alert(conn):
    history(conn)
    burst(conn, 4)
    [alert_id] = detect(conn, NOW).opened
    later = NOW + timedelta(hours=2)
    add(conn, later, causes=("defect",), text="又坏了")
    add(conn, later, causes=("logistics",), text="快递慢")
    before = alert_json(conn, get_alert(conn, alert_id))["count"]
    outcome = detect(conn, later)
    assert outcome.opened == []
    assert outcome.joined == 1
    alert = alert_json(conn, get_alert(conn, alert_id), detail=True)
    assert alert["count"] == before + 1
    assert [e["kind"] for e in alert["events"]] == ["opened", "reviews_joined"]


def test_the_database_refuses_a_second_active_alert_for_a_product_and_cause(conn):
    history(conn)
    burst(conn, 4)
    detect(conn, NOW)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO alerts (scope_key, product_id, cause, opened_at, updated_at, window_start)"
                     " VALUES ('p:P1', 'P1', 'defect', ?, ?, ?)", (to_db(NOW),) * 3)


def test_a_resolved_alert_does_not_reopen_on_the_complaints_that_made_it(conn):
    history(conn)
    burst(conn, 4)
    [alert_id] = detect(conn, NOW).opened
    act(conn, alert_id, "resolve", actor="lead", now=NOW + timedelta(minutes=10), resolution="supplier_qc")
    add(conn, NOW + timedelta(hours=2), causes=())  # any review makes the product dirty again
    assert detect(conn, NOW + timedelta(hours=2)).opened == []


def test_a_resolved_alert_reopens_as_a_new_alert_when_complaints_spike_again(conn):
    history(conn)
    burst(conn, 4)
    [first] = detect(conn, NOW).opened
    act(conn, first, "resolve", actor="lead", now=NOW + timedelta(minutes=10), resolution="supplier_qc")
    burst(conn, 4, start=NOW + timedelta(hours=2))
    [second] = detect(conn, NOW + timedelta(hours=4)).opened
    assert second != first
    alert = alert_json(conn, get_alert(conn, second), detail=True)
    assert alert["count"] == 4
    assert alert["events"][0]["detail"]["after_alert"] == first


def test_acknowledge_then_resolve_records_who_and_why(conn):
    history(conn)
    burst(conn, 4)
    [alert_id] = detect(conn, NOW).opened
    act(conn, alert_id, "acknowledge", actor="lead", now=NOW, note="在查")
    row = act(conn, alert_id, "resolve", actor="lead", now=NOW + timedelta(hours=1), resolution="listing_fixed",
              note="详情页颜色图已更新")
    alert = alert_json(conn, row, detail=True)
    assert alert["status"] == "resolved"
    assert alert["resolution"] == "listing_fixed"
    assert [(e["kind"], e["actor"]) for e in alert["events"]][-2:] == [("acknowledged", "lead"), ("resolved", "lead")]


@pytest.mark.parametrize(
    ("action", "fields", "field"),
    [("close", {}, "action"), ("resolve", {}, "resolution"), ("resolve", {"resolution": "refund"}, "resolution"),
     ("acknowledge", {"resolution": "other"}, "resolution"), ("acknowledge", {"note": "x" * 2001}, "note")],
)
def test_bad_action_fields_are_refused_and_change_nothing(conn, action, fields, field):
    history(conn)
    burst(conn, 4)
    [alert_id] = detect(conn, NOW).opened
    with pytest.raises(AlertActionError) as refused:
        act(conn, alert_id, action, actor="lead", now=NOW, **fields)
    assert refused.value.field == field
    assert get_alert(conn, alert_id)["status"] == "open"


def test_acting_on_a_resolved_alert_is_a_conflict(conn):
    history(conn)
    burst(conn, 4)
    [alert_id] = detect(conn, NOW).opened
    act(conn, alert_id, "resolve", actor="lead", now=NOW, resolution="other")
    with pytest.raises(AlertActionError) as refused:
        act(conn, alert_id, "acknowledge", actor="lead", now=NOW)
    assert refused.value.conflict


def test_complaints_spread_over_a_category_open_a_category_alert(conn):
    for p in ("A", "B", "C", "D", "E", "F"):
        history(conn, product=p, category="家居", days=35, per_day=4, complaint_every=40, cause="logistics")
    for i, p in enumerate(("A", "B", "C", "D", "E", "F") * 2):
        add(conn, NOW - timedelta(hours=5) + timedelta(minutes=25 * i), product=p, category="家居",
            causes=("logistics",), text="快递太慢了")
    opened = [get_alert(conn, a) for a in detect(conn, NOW).opened]
    assert [(a["scope_key"], a["product_id"]) for a in opened] == [("c:家居", None)]
    assert alert_json(conn, opened[0])["count"] >= 12


def test_one_bad_product_raises_a_product_alert_and_not_a_category_alert_too(conn):
    for p in ("A", "B", "C"):
        history(conn, product=p, category="家居", days=35, per_day=4, complaint_every=40, cause="logistics")
    burst(conn, 6, product="A", category="家居", cause="logistics", text="快递太慢了")
    opened = [get_alert(conn, a)["scope_key"] for a in detect(conn, NOW).opened]
    assert opened == ["p:A"]


def test_the_alert_names_the_terms_its_reviews_share(conn):
    history(conn)
    # Four in a few hours: a day's window, like the short ones, alerts from four complaints on.
    for i, text in enumerate(("衣服有色差，和图片不一样", "颜色色差很大", "实物色差严重，退了", "色差太明显")):
        add(conn, NOW - timedelta(hours=2) + timedelta(minutes=10 * i), causes=("description_mismatch",), text=text)
    [alert_id] = detect(conn, NOW).opened
    alert = alert_json(conn, get_alert(conn, alert_id))
    assert alert["terms"][0] == "色差"
    assert alert["kind"] == "listing_audit"


def test_daily_counts_cover_the_last_days_in_the_local_zone(conn):
    history(conn, days=3)
    burst(conn, 4)
    [alert_id] = detect(conn, NOW).opened
    days = store.daily_counts(conn, get_alert(conn, alert_id), NOW, ZoneInfo("Asia/Shanghai"), days=5)
    assert len(days) == 5
    assert days[-1][0] == "2026-11-30"
    assert days[-1][1] == 4
    assert sum(n for _, _, n in days) == 3 * 6 + 4
