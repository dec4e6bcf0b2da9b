"""SLA timers and escalations: rq-scheduled checks, the sweep as safety net, the signed outbox."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import json
import math
import threading

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from tests.pipeline_support import COMPLAINTS, T0, add_reviews, drain, review
from triage import cases, escalation, pipeline, timers
from triage.db import transaction
from triage.jobs import enqueue
from triage.signing import verify
from triage.sla import add_business_time, default_policy
from triage.timeutil import from_db, utcnow

POLICY = default_policy("Asia/Shanghai")
H = dt.timedelta(hours=1)
HOOK = "http://127.0.0.1:9/escalations"  # nothing listens: deliveries fail, rows stay


def open_case(db, priority: str, now=T0, customer="c1") -> int:
    (pk,) = add_reviews(db, [review(f"{customer}-{priority}-{now.timestamp()}", COMPLAINTS[0], customer_id=customer)])
    with transaction(db):
        case_id = cases.add_review(db, review_pk=pk, customer_id=customer, priority=priority, risk=0.9,
                                      causes=("defect",), now=now, policy=POLICY).case_id
    return case_id


def event_kinds(db, case_id) -> list[str]:
    return [r[0] for r in db.execute("SELECT kind FROM case_events WHERE case_id = ? ORDER BY id", (case_id,))]


def scheduled(redis_conn) -> dict[str, dt.datetime]:
    registry = ScheduledJobRegistry(queue=Queue(enqueue.SLA_QUEUE, connection=redis_conn))
    return {job_id: registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()}


def count(db, table: str) -> int:
    return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_applying_a_complaint_schedules_a_check_for_the_at_risk_moment(job_context, db, redis_conn):
    add_reviews(db, [review("x", COMPLAINTS[0], rating=1)], now=utcnow())
    pipeline.enqueue_pending(db, redis_conn)
    drain(redis_conn)
    row = db.execute("SELECT * FROM cases").fetchone()
    target = POLICY.targets[row["priority"]].first_contact * POLICY.at_risk_fraction
    at_risk = add_business_time(from_db(row["opened_at"]), target, POLICY.calendar)
    second = math.ceil(at_risk.timestamp())
    assert scheduled(redis_conn) == {f"sla-{row['id']}-{second}": dt.datetime.fromtimestamp(second, dt.UTC)}


def test_clock_goes_at_risk_at_75_percent_and_breached_at_the_due(db):
    case_id = open_case(db, "P1")  # first contact: 1 business hour
    states = []
    for minutes in (30, 45, 60, 61):
        timers.check_case(db, case_id, T0 + dt.timedelta(minutes=minutes), POLICY, None)
        states.append(cases.get_case(db, case_id)["sla_first_contact"])
    assert states == ["ok", "at_risk", "breached", "breached"]
    assert event_kinds(db, case_id).count("sla_at_risk") == 1
    assert event_kinds(db, case_id).count("sla_breached") == 1


def test_p1_breach_escalates_once_however_often_the_sweep_runs(settings, db, redis_conn):
    hooked = dataclasses.replace(settings, escalation_webhook_url=HOOK)
    case_id = open_case(db, "P1")
    for _ in range(2):
        pipeline.sweep(db, redis_conn, hooked, policy=POLICY, now=T0 + 2 * H)
    assert (count(db, "notifications"), count(db, "outbox")) == (1, 1)
    note = db.execute("SELECT * FROM notifications").fetchone()
    assert (note["case_id"], note["kind"]) == (case_id, "sla_breached")
    assert event_kinds(db, case_id).count("escalated") == 1
    payload = json.loads(db.execute("SELECT payload FROM outbox").fetchone()[0])
    assert (payload["event"], payload["clock"], payload["case"]["id"]) == ("case.sla_breached", "first_contact", case_id)


def test_without_a_webhook_url_a_p1_breach_only_notifies(db, redis_conn, settings):
    open_case(db, "P1")
    pipeline.sweep(db, redis_conn, settings, policy=POLICY, now=T0 + 2 * H)
    assert (count(db, "notifications"), count(db, "outbox")) == (1, 0)


def test_a_p2_breach_is_recorded_but_not_escalated(settings, db, redis_conn):
    case_id = open_case(db, "P2")
    pipeline.sweep(db, redis_conn, settings, policy=POLICY, now=T0 + 8 * H)
    assert "sla_breached" in event_kinds(db, case_id)
    assert count(db, "notifications") == 0


def test_the_sweep_fires_a_timer_lost_with_redis_and_rearms_the_next(settings, db, redis_conn):
    case_id = open_case(db, "P1")
    redis_conn.flushdb()
    now = T0 + dt.timedelta(minutes=50)
    assert pipeline.sweep(db, redis_conn, settings, policy=POLICY, now=now)["checked"] == 1
    assert cases.get_case(db, case_id)["sla_first_contact"] == "at_risk"
    breach = add_business_time(T0, 1 * H, POLICY.calendar)
    assert f"sla-{case_id}-{math.ceil(breach.timestamp())}" in scheduled(redis_conn)


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_the_check_job_updates_the_case_and_escalates(job_context, db, redis_conn, monkeypatch):
    long_ago = utcnow() - dt.timedelta(days=3)  # a P1 this old is breached whatever the hour
    case_id = open_case(db, "P1", now=long_ago)
    enqueue.schedule_case_checks(redis_conn, {case_id: long_ago}, utcnow())
    drain(redis_conn, [enqueue.SLA_QUEUE])
    row = cases.get_case(db, case_id)
    assert (row["sla_first_contact"], row["sla_resolution"]) == ("breached", "breached")
    assert count(db, "notifications") == 2  # one per clock


def escalated_case(db) -> int:
    """A P1 case whose breach has been escalated into the outbox, nothing delivered yet."""
    case_id = open_case(db, "P1")
    timers.check_case(db, case_id, T0 + 2 * H, POLICY, HOOK)
    return case_id


def test_delivery_signs_with_the_first_webhook_secret(db):
    escalated_case(db)
    sent = []

    def send(url, body, headers):
        sent.append((url, body, headers))
        return 204

    now = T0 + 3 * H
    assert escalation.deliver_due(db, now, "s3cret", send=send) == (1, 0)
    url, body, headers = sent[0]
    assert url == HOOK and headers["Content-Type"] == "application/json"
    # Signed when sent (not at the sweep's `now`), so the receiver's clock is what counts.
    verify(body, headers["X-Triage-Timestamp"], headers["X-Triage-Signature"], ["s3cret"])
    assert db.execute("SELECT delivered_at FROM outbox").fetchone()[0] is not None
    assert escalation.deliver_due(db, now + H, "s3cret", send=send) == (0, 0)  # delivered once


def test_two_deliverers_racing_send_the_row_once(db):
    """The sweeper thread and the deliver_outbox job can run at once; the lease lets one send."""
    escalated_case(db)
    now = T0 + 3 * H
    sent = []

    def send(url, body, headers):
        # While the first deliverer is mid-send, a second one runs over the same outbox.
        if not sent:
            sent.append(headers["X-Triage-Delivery"])
            assert escalation.deliver_due(db, now, "s3cret", send=send) == (0, 0)
        return 204

    assert escalation.deliver_due(db, now, "s3cret", send=send) == (1, 0)
    assert len(sent) == 1


def test_failed_delivery_backs_off_and_is_retried(db):
    escalated_case(db)
    first_try = T0 + 3 * H
    answers = iter([503, 200])
    send = lambda url, body, headers: next(answers)  # noqa: E731
    assert escalation.deliver_due(db, first_try, "s", send=send) == (0, 1)
    row = db.execute("SELECT * FROM outbox").fetchone()
    assert (row["attempts"], row["last_error"]) == (1, "HTTP 503")
    assert from_db(row["next_attempt_at"]) == first_try + escalation.backoff(1)
    assert escalation.deliver_due(db, first_try + dt.timedelta(seconds=29), "s", send=send) == (0, 0)  # not yet
    assert escalation.deliver_due(db, first_try + escalation.backoff(1), "s", send=send) == (1, 0)


@pytest.fixture()
def receiver():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_delivery_reaches_a_real_http_endpoint(settings, db, redis_conn, receiver):
    url, received = receiver
    hooked = dataclasses.replace(settings, escalation_webhook_url=url)
    open_case(db, "P1")
    pipeline.sweep(db, redis_conn, hooked, policy=POLICY, now=T0 + 2 * H)  # escalates and delivers
    ((headers, body),) = received
    assert json.loads(body)["event"] == "case.sla_breached"
    verify(body, headers["X-Triage-Timestamp"], headers["X-Triage-Signature"], settings.webhook_secrets)


def test_cases_due_at_the_same_second_share_one_scheduled_check(redis_conn):
    later = utcnow() + dt.timedelta(hours=2)
    armed = enqueue.schedule_case_checks(redis_conn, {1: later, 2: later, 3: later, 4: later + dt.timedelta(hours=1)},
                                         utcnow())
    assert armed == 4
    jobs = {job_id: Job.fetch(job_id, connection=redis_conn) for job_id in scheduled(redis_conn)}
    grouped = [job for job in jobs.values() if job.func_name.endswith("check_cases_sla")]
    single = [job for job in jobs.values() if job.func_name.endswith("check_case_sla")]
    assert [job.args for job in grouped] == [([1, 2, 3],)]
    assert [job.args for job in single] == [(4,)]


def test_a_grouped_check_checks_each_case(job_context, db, redis_conn):
    from triage.jobs import database

    first = open_case(db, "P2", customer="c1")
    second = open_case(db, "P3", customer="c2")
    assert database.check_cases_sla([first, second]) == {"cases": 2, "escalated": 0}
