"""Alerts in the pipeline: counted on apply, judged by the debounced job, delivered through the outbox
to a signed webhook and an enterprise WeChat robot (a stand-in server on 127.0.0.1 checks both)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import json
import threading

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from tests.pipeline_support import add_reviews, drain, make_scheduled_due, review
from triage import cases, timers
from triage.alerts.jobs import run_detection
from triage.alerts.store import get_alert, list_alerts, record_reviews
from triage.db import transaction
from triage.escalation import MAX_DELIVERY_ATTEMPTS, deliver_due
from triage.jobs import enqueue
from triage.signing import verify
from triage.sla import default_policy
from triage.timeutil import to_db, utcnow

POLICY = default_policy("Asia/Shanghai")
DEFECTS = (
    "用了两天就坏了，质量太差",
    "拉链坏了，质量太差了",
    "刚用就坏了，做工太差",
    "收到就是坏的，质量很差",
)


class StandIn:
    """A receiver on 127.0.0.1: records every POST; answers with the next queued reply (default 200 + errcode 0)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.replies: list[tuple[int, dict]] = []
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stand_in.received.append((self.path, dict(self.headers), body))
                status, answer = stand_in.replies.pop(0) if stand_in.replies else (200, {"errcode": 0, "errmsg": "ok"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def bodies(self, path: str) -> list[dict]:
        return [json.loads(body) for p, _, body in self.received if p.startswith(path)]


@pytest.fixture()
def stand_in():
    server = StandIn()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture()
def hooked(settings, stand_in):
    return dataclasses.replace(settings, alert_webhook_url=stand_in.url("/alerts"),
                               wecom_webhook_url=stand_in.url("/cgi-bin/webhook/send?key=test"))


def scored_burst(db, now, product="p9", category="箱包", cause="defect", n=4):
    """`n` scored complaints of `cause` in the last hours, counted as the apply path counts them."""
    pks = add_reviews(db, [review(f"{product}-{i}", DEFECTS[i % 4], customer_id=f"{product}-c{i}", product_id=product,
                                  category=category, created_at=(now - dt.timedelta(hours=n - i)).isoformat())
                           for i in range(n)], now=now)
    with transaction(db):
        db.executemany("UPDATE reviews SET status = 'scored', sentiment = 'negative', causes = ? WHERE id = ?",
                       [(json.dumps([cause]), pk) for pk in pks])
        record_reviews(db, pks, now)
    return pks


@pytest.mark.slow  # scores with the real model through rq
def test_applying_scores_counts_them_and_schedules_one_detection_job(job_context, db, redis_conn):
    add_reviews(db, [review(f"a{i}", text, customer_id=f"c{i}", product_id="p7", category="家电")
                     for i, text in enumerate(DEFECTS)], now=utcnow())
    from triage import pipeline

    pipeline.enqueue_pending(db, redis_conn)
    drain(redis_conn)
    assert db.execute("SELECT COUNT(*) FROM reviews WHERE alert_counted IS NOT NULL").fetchone()[0] == 4
    assert db.execute("SELECT SUM(n) FROM alert_counters WHERE scope = 'p:p7' AND cause = ''").fetchone()[0] == 4
    registry = ScheduledJobRegistry(queue=Queue(enqueue.APPLY_QUEUE, connection=redis_conn))
    assert [j for j in registry.get_job_ids() if j.startswith("alerts-")]


@pytest.mark.slow  # scores with the real model through rq
def test_the_detection_job_opens_an_alert_for_a_burst_of_scored_complaints(job_context, db, redis_conn):
    add_reviews(db, [review(f"b{i}", text, customer_id=f"c{i}", product_id="p8", category="家电")
                     for i, text in enumerate(DEFECTS)], now=utcnow())
    from triage import pipeline

    pipeline.enqueue_pending(db, redis_conn)
    drain(redis_conn)
    make_scheduled_due(redis_conn, enqueue.APPLY_QUEUE)
    drain(redis_conn)
    rows, total = list_alerts(db, "open")
    assert total >= 1
    alert = next(r for r in rows if r["product_id"] == "p8")
    assert alert["count"] >= 3
    assert db.execute("SELECT COUNT(*) FROM alert_dirty").fetchone()[0] == 0


def test_detection_jobs_are_debounced_to_one_per_window(redis_conn):
    now = dt.datetime(2026, 11, 30, 12, 0, 1, tzinfo=dt.UTC)
    assert enqueue.enqueue_detect_alerts(redis_conn, now)
    assert not enqueue.enqueue_detect_alerts(redis_conn, now + dt.timedelta(seconds=1))
    assert enqueue.enqueue_detect_alerts(redis_conn, now + dt.timedelta(seconds=enqueue.ALERTS_DEBOUNCE_SECONDS))


def test_a_new_alert_reaches_the_signed_webhook_and_the_wechat_robot(db, hooked, stand_in):
    now = utcnow()
    scored_burst(db, now)
    run = run_detection(db, now, hooked)
    assert len(run.opened) == 1 and run.notified == 2
    delivered, failed = deliver_due(db, now, hooked.webhook_secrets[0])
    assert (delivered, failed) == (2, 0)

    [(_, headers, body)] = [r for r in stand_in.received if r[0] == "/alerts"]
    assert verify(body, headers["X-Triage-Timestamp"], headers["X-Triage-Signature"], hooked.webhook_secrets,
                  now=int(now.timestamp()))
    payload = json.loads(body)
    assert payload["event"] == "alert.opened"
    assert {"id", "product_id", "category", "cause", "status", "opened_at", "count", "rate", "baseline_rate",
            "review_ids", "terms"} <= payload["alert"].keys()
    assert payload["alert"]["product_id"] == "p9"

    [robot] = stand_in.bodies("/cgi-bin/webhook/send")
    assert robot["msgtype"] == "markdown"
    content = robot["markdown"]["content"]
    assert "差评预警" in content and "p9" in content and "质量问题" in content and "箱包" in content


def test_a_listing_alert_tells_the_group_to_check_the_listing(db, hooked, stand_in):
    now = utcnow()
    scored_burst(db, now, cause="description_mismatch")
    run_detection(db, now, hooked)
    deliver_due(db, now, hooked.webhook_secrets[0])
    [robot] = stand_in.bodies("/cgi-bin/webhook/send")
    assert "详情页审核" in robot["markdown"]["content"]


def test_a_robot_that_refuses_with_an_errcode_is_retried_later(db, hooked, stand_in):
    now = utcnow()
    scored_burst(db, now)
    run_detection(db, now, hooked)
    stand_in.replies = [(200, {"errcode": 0}), (200, {"errcode": 45009, "errmsg": "api freq out of limit"})]
    deliver_due(db, now, hooked.webhook_secrets[0])
    row = db.execute("SELECT attempts, delivered_at, last_error FROM outbox WHERE dedupe_key LIKE '%:wecom'").fetchone()
    assert (row["attempts"], row["delivered_at"]) == (1, None)
    assert "45009" in row["last_error"]
    later = now + dt.timedelta(minutes=5)
    assert deliver_due(db, later, hooked.webhook_secrets[0]) == (1, 0)
    assert len(stand_in.bodies("/cgi-bin/webhook/send")) == 2


def test_a_dead_receiver_never_blocks_detection(db, settings):
    dead = dataclasses.replace(settings, alert_webhook_url="http://127.0.0.1:9/alerts",
                               wecom_webhook_url="http://127.0.0.1:9/robot")
    now = utcnow()
    scored_burst(db, now)
    run = run_detection(db, now, dead)
    assert len(run.opened) == 1
    assert deliver_due(db, now, dead.webhook_secrets[0]) == (0, 2)
    assert db.execute("SELECT MAX(attempts) FROM outbox").fetchone()[0] < MAX_DELIVERY_ATTEMPTS


def test_without_configured_urls_nothing_is_queued(db, settings):
    now = utcnow()
    scored_burst(db, now)
    run = run_detection(db, now, settings)
    assert len(run.opened) == 1 and run.notified == 0
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


def test_a_p1_breach_reaches_the_wechat_robot(db, stand_in):
    start = utcnow() - dt.timedelta(days=3)
    (pk,) = add_reviews(db, [review("breach-1", DEFECTS[0], customer_id="vip")], now=start)
    with transaction(db):
        case_id = cases.add_review(db, review_pk=pk, customer_id="vip", priority="P1", risk=0.9,
                                   causes=("defect",), now=start, policy=POLICY).case_id
    now = utcnow()
    timers.check_case(db, case_id, now, POLICY, None, wecom_url=stand_in.url("/robot"))
    assert deliver_due(db, now, "secret")[0] >= 1
    robots = stand_in.bodies("/robot")
    assert robots and all(r["msgtype"] == "markdown" for r in robots)
    assert f"#{case_id}" in robots[0]["markdown"]["content"]
    assert "P1 工单超时" in robots[0]["markdown"]["content"]


def test_the_opened_alert_records_the_notification_on_its_timeline(db, hooked):
    now = utcnow()
    scored_burst(db, now)
    [alert_id] = run_detection(db, now, hooked).opened
    kinds = [r[0] for r in db.execute("SELECT kind FROM alert_events WHERE alert_id = ? ORDER BY id", (alert_id,))]
    assert kinds == ["opened", "notified"]
    assert get_alert(db, alert_id)["opened_at"] == to_db(now)
