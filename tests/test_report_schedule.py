"""Publishing: the Monday 09:00 job, its rq scheduling, and reports frozen once published."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry

from tests.report_rows import add_review, add_reviews
from triage.reports.schedule import (
    MAX_WAITS,
    QUEUE_NAME,
    WAIT_FOR_PENDING,
    job_id_for,
    next_publish_time,
    publish_last_week,
    schedule_weekly,
)
from triage.reports.store import get_published, list_published, publish_weekly, weekly_report
from triage.reports.weeks import IsoWeek, last_complete_week
from triage.timeutil import utcnow

TZ = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TZ)
W48 = IsoWeek(2026, 48)
MID_W48 = "2026-11-25T12:00:00+08:00"
AFTER_W48 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------------------------
# When


@pytest.mark.parametrize(
    ("now", "run_at", "week"),
    [
        ("2026-11-29T23:00:00+08:00", "2026-11-30T09:00:00+08:00", "2026-W48"),  # Sunday night
        ("2026-11-30T08:59:59+08:00", "2026-11-30T09:00:00+08:00", "2026-W48"),  # Monday, before 09:00
        ("2026-11-30T09:00:00+08:00", "2026-12-07T09:00:00+08:00", "2026-W49"),  # at 09:00: the next one
        ("2026-12-02T15:00:00+08:00", "2026-12-07T09:00:00+08:00", "2026-W49"),  # Wednesday
        ("2026-11-29T20:00:00+00:00", "2026-11-30T09:00:00+08:00", "2026-W48"),  # Sunday in UTC, Monday local
        ("2026-12-31T12:00:00+08:00", "2027-01-04T09:00:00+08:00", "2026-W53"),  # over the year end
    ],
)
def test_next_publish_time_is_the_next_monday_0900_local(now, run_at, week):
    when, target = next_publish_time(at(now), SHANGHAI)
    assert when == at(run_at)
    assert when.tzinfo == UTC
    assert str(target) == week


@pytest.mark.parametrize(
    ("now", "run_at"),
    [
        # Europe/Berlin springs forward on Sunday 29 March 2026: 09:00 is 08:00Z before, 07:00Z after.
        ("2026-03-21T12:00:00+01:00", "2026-03-23T08:00:00+00:00"),
        ("2026-03-28T12:00:00+01:00", "2026-03-30T07:00:00+00:00"),
    ],
)
def test_next_publish_time_keeps_0900_local_across_dst(now, run_at):
    assert next_publish_time(at(now), ZoneInfo("Europe/Berlin"))[0] == at(run_at)


# --------------------------------------------------------------------------------------------
# Scheduling with rq


def scheduled(redis_conn) -> dict[str, datetime]:
    registry = ScheduledJobRegistry(queue=Queue(QUEUE_NAME, connection=redis_conn))
    return {job_id: registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()}


def test_schedule_weekly_enqueues_the_job_for_next_monday(redis_conn):
    job = schedule_weekly(redis_conn, at("2026-11-25T12:00:00+08:00"), timezone=TZ, catch_up=False)
    assert scheduled(redis_conn) == {"weekly-report-2026-W48": at("2026-11-30T01:00:00+00:00")}
    assert (job.func_name, job.kwargs) == ("triage.reports.schedule.publish_last_week", {"week": "2026-W48"})


def test_scheduling_again_keeps_one_job_per_monday(redis_conn):
    for hour in (8, 10, 12):
        schedule_weekly(redis_conn, datetime(2026, 11, 25, hour, tzinfo=UTC), timezone=TZ, catch_up=False)
    assert list(scheduled(redis_conn)) == [job_id_for(W48)]


def test_schedule_weekly_accepts_a_queue(redis_conn):
    queue = Queue("reports-test", connection=redis_conn)
    schedule_weekly(queue, at("2026-11-25T12:00:00+08:00"), timezone=TZ, catch_up=False)
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == [job_id_for(W48)]


def test_catch_up_enqueues_the_last_week_whose_time_has_passed(redis_conn):
    schedule_weekly(redis_conn, at("2026-12-02T12:00:00+08:00"), timezone=TZ)  # Wednesday after W48
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    [job] = queue.get_jobs()
    assert (job.id, job.kwargs) == ("weekly-report-2026-W48-catch-up", {"week": "2026-W48", "reschedule": False})


def test_no_catch_up_when_asked_not_to(redis_conn):
    schedule_weekly(redis_conn, at("2026-12-02T12:00:00+08:00"), timezone=TZ, catch_up=False)
    assert Queue(QUEUE_NAME, connection=redis_conn).get_jobs() == []


@pytest.fixture()
def worker_env(settings):
    """Job code's settings and connection, as `triage worker` configures them."""
    from triage.jobs import context

    context.configure(settings)
    yield settings
    context.reset()


@pytest.mark.slow  # runs the publish job through a real rq worker
def test_the_job_publishes_its_week_and_schedules_the_next_run(db, redis_conn, worker_env):
    week = IsoWeek(2026, 40)  # long over whenever the test runs
    add_review(db, "2026-10-01T12:00:00+08:00", sentiment="negative")
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    job = queue.enqueue(publish_last_week, week=str(week), job_id=job_id_for(week))
    before = next_publish_time(utcnow(), SHANGHAI)
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    after = next_publish_time(utcnow(), SHANGHAI)
    assert job.get_status(refresh=True) == "finished"
    assert job.return_value() == "2026-W40"
    assert get_published(db, week)["reviews"] == 1
    # before/after: the run could straddle a Monday 09:00.
    assert scheduled(redis_conn) in ({job_id_for(w): t} for t, w in (before, after))


@pytest.mark.slow  # runs the publish job through a real rq worker
def test_the_job_waits_while_reviews_of_its_week_are_pending(db, redis_conn, worker_env):
    week = IsoWeek(2026, 40)
    add_review(db, "2026-10-01T12:00:00+08:00", sentiment="negative")
    pending = add_review(db, "2026-10-02T12:00:00+08:00")  # not scored yet: freezing now would miss it
    add_review(db, "2026-10-06T12:00:00+08:00")  # pending in another week: no reason to wait
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    queue.enqueue(publish_last_week, week=str(week), job_id=job_id_for(week))
    before = utcnow()
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    assert get_published(db, week) is None
    waiting = {job_id: t for job_id, t in scheduled(redis_conn).items() if "-wait-" in job_id}
    assert list(waiting) == [f"{job_id_for(week)}-wait-1"]
    # rq keeps whole seconds of the scheduled time
    assert waiting[f"{job_id_for(week)}-wait-1"] >= before + WAIT_FOR_PENDING - timedelta(seconds=1)

    db.execute("UPDATE reviews SET status = 'scored', sentiment = 'negative' WHERE id = ?", (pending,))
    queue.enqueue(publish_last_week, week=str(week), reschedule=False, waited=1)
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    assert (get_published(db, week)["reviews"], get_published(db, week)["negative"]) == (2, 2)


@pytest.mark.slow  # runs the publish job through a real rq worker
def test_the_job_publishes_anyway_after_waiting_its_limit(db, redis_conn, worker_env):
    week = IsoWeek(2026, 40)
    add_review(db, "2026-10-02T12:00:00+08:00")  # pending for good
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    queue.enqueue(publish_last_week, week=str(week), reschedule=False, waited=MAX_WAITS)
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    assert (get_published(db, week)["reviews"], get_published(db, week)["scored"]) == (1, 0)
    assert not [job_id for job_id in scheduled(redis_conn) if "-wait-" in job_id]


def test_the_job_defaults_to_the_last_complete_week(db, worker_env):
    before = str(last_complete_week(utcnow(), SHANGHAI))
    published = publish_last_week(reschedule=False)
    after = str(last_complete_week(utcnow(), SHANGHAI))
    assert published in (before, after)
    assert [p["week"] for p in list_published(db)] == [published]


# --------------------------------------------------------------------------------------------
# Publishing


def test_publish_stores_once(db):
    add_review(db, MID_W48, sentiment="negative")
    first, stored_first = publish_weekly(db, W48, TZ, now=AFTER_W48)
    second, stored_second = publish_weekly(db, W48, TZ, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert (stored_first, stored_second) == (True, False)
    assert second == first
    assert db.execute("SELECT COUNT(*) FROM reports WHERE week = '2026-W48'").fetchone()[0] == 1


def test_publish_records_generation_time_and_model_version(db):
    add_reviews(db, 2, MID_W48, sentiment="negative", model_version="rc-2026-11-20-abc")
    publish_weekly(db, W48, TZ, now=AFTER_W48)
    row = db.execute("SELECT generated_at, model_version, payload FROM reports").fetchone()
    assert (row["generated_at"], row["model_version"]) == ("2026-11-30T01:00:00.000000+00:00", "rc-2026-11-20-abc")
    payload = json.loads(row["payload"])
    assert (payload["published"], payload["generated_at"]) == (True, "2026-11-30T09:00:00+08:00")


def test_a_published_report_stays_as_published_when_data_changes(db):
    add_review(db, MID_W48, sentiment="negative", model_version="m1")
    publish_weekly(db, W48, TZ, now=AFTER_W48)
    add_reviews(db, 3, MID_W48, sentiment="positive", model_version="m2")  # late arrivals, new model
    db.execute("UPDATE reviews SET sentiment = 'positive'")  # and a re-score
    kept = weekly_report(db, W48, TZ)
    fresh = weekly_report(db, W48, TZ, fresh=True)
    assert (kept["published"], kept["reviews"], kept["negative"], kept["model_version"]) == (True, 1, 1, "m1")
    assert (fresh["published"], fresh["reviews"], fresh["negative"], fresh["model_version"]) == (False, 4, 0, "m2")


def test_a_running_week_cannot_be_published(db):
    with pytest.raises(ValueError, match="has not ended"):
        publish_weekly(db, W48, TZ, now=datetime(2026, 11, 29, 15, 59, tzinfo=UTC))
    assert get_published(db, W48) is None


def test_list_published_is_newest_first_with_local_times(db):
    for week in (IsoWeek(2026, 47), IsoWeek(2026, 53), IsoWeek(2026, 48)):
        publish_weekly(db, week, TZ, now=datetime(2027, 1, 5, 1, tzinfo=UTC))
    listed = list_published(db, zone=SHANGHAI)
    assert [p["week"] for p in listed] == ["2026-W53", "2026-W48", "2026-W47"]
    assert listed[0]["generated_at"] == "2027-01-05T09:00:00+08:00"
