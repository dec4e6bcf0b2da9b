"""An apply job takes the apply jobs queued behind it along: one transaction for all their results,
the same rows as one job after another, each job recorded as finished, nothing lost on a crash."""

from __future__ import annotations

import pytest
from rq import Queue
from rq.job import Job

from tests.pipeline_support import COMPLAINTS, PRAISE, add_reviews, drain, review, statuses, stored
from triage.jobs import database, enqueue, scoring

TEXTS = COMPLAINTS + PRAISE


def scored_jobs(db, redis_conn, groups: int, who: str = "c") -> tuple[list[Job], list[int]]:
    """`groups` apply jobs of real results, queued as scoring workers queue them; customers
    `<who>0`..`<who>2`, each with complaints and praise in every job."""
    raws = [review(f"{who}{g}-{i}", text, customer_id=f"{who}{i % 3}") for g in range(groups)
            for i, text in enumerate(TEXTS)]
    pks = add_reviews(db, raws)
    jobs = []
    for g in range(groups):
        chunk = pks[g * len(TEXTS):(g + 1) * len(TEXTS)]
        results = scoring.score_items([[pk, text] for pk, text in zip(chunk, TEXTS, strict=True)])
        jobs.append(enqueue.enqueue_apply(redis_conn, results, f"apply-score-{who}{g}"))
    return jobs, pks


@pytest.mark.slow  # a real rq worker until its queues are empty (~2 s)
def test_the_first_apply_job_stores_the_queued_ones_too_and_each_ends_finished(job_context, db, redis_conn):
    jobs, pks = scored_jobs(db, redis_conn, 3)
    drain(redis_conn, [enqueue.APPLY_QUEUE])
    assert statuses(db) == {"scored": len(pks)}
    assert jobs[0].return_value()["jobs"] == 3
    assert all(job.get_status() == "finished" for job in jobs)
    assert Queue(enqueue.APPLY_QUEUE, connection=redis_conn).count == 0


@pytest.mark.slow  # a real rq worker until its queues are empty
def test_jobs_applied_together_leave_the_rows_one_job_after_another_leaves(job_context, db, redis_conn):
    for job in scored_jobs(db, redis_conn, 3, who="a")[0]:  # one after another, each alone in the queue
        Queue(enqueue.APPLY_QUEUE, connection=redis_conn).remove(job)
    for g in range(3):
        job = Job.fetch(f"apply-score-a{g}", connection=redis_conn)
        Queue(enqueue.APPLY_QUEUE, connection=redis_conn).enqueue_job(job)
        drain(redis_conn, [enqueue.APPLY_QUEUE])
        assert job.return_value().get("jobs") is None
    jobs, _ = scored_jobs(db, redis_conn, 3, who="b")  # together
    drain(redis_conn, [enqueue.APPLY_QUEUE])
    assert jobs[0].return_value()["jobs"] == 3
    assert stored(db, "a") == stored(db, "b")


@pytest.mark.slow  # a real rq worker until its queues are empty
def test_a_crash_before_commit_leaves_the_queued_jobs_to_run(job_context, db, redis_conn, monkeypatch):
    jobs, pks = scored_jobs(db, redis_conn, 2)

    def crash(*args, **kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(database, "apply_results", crash)
    queue = Queue(enqueue.APPLY_QUEUE, connection=redis_conn)
    first = queue.dequeue_any([queue], None, connection=redis_conn)[0]
    try:
        first.perform()
    except SystemExit:
        pass
    assert queue.job_ids == [jobs[1].id] and jobs[1].get_status() == "queued"
    monkeypatch.undo()
    drain(redis_conn)
    assert statuses(db) == {"pending": len(pks) // 2, "scored": len(pks) // 2}  # the lost job's: recovery's


@pytest.mark.slow  # a real rq worker until its queues are empty (~2 s)
def test_a_queued_job_that_cannot_be_applied_does_not_hold_up_the_job_that_took_it(job_context, db, redis_conn):
    jobs, pks = scored_jobs(db, redis_conn, 1)
    Queue(enqueue.APPLY_QUEUE, connection=redis_conn).enqueue(enqueue.APPLY_SCORES, [{"no": "pk"}], job_id="apply-bad")
    drain(redis_conn)
    assert statuses(db) == {"scored": len(pks)}
    assert jobs[0].get_status() == "finished"
    assert Job.fetch("apply-bad", connection=redis_conn).get_status() == "failed"


@pytest.mark.slow  # a real rq worker until its queues are empty
def test_only_apply_jobs_are_taken_along(job_context, db, redis_conn):
    _, pks = scored_jobs(db, redis_conn, 1)
    extra = add_reviews(db, [review("f1", COMPLAINTS[0])])
    fail = Queue(enqueue.APPLY_QUEUE, connection=redis_conn).enqueue(enqueue.FAIL_REVIEWS, extra, "gave up")
    summary = database.apply_scores([])  # outside a worker: nothing is taken along
    assert "jobs" not in summary
    drain(redis_conn)
    assert fail.get_status() == "finished"
    assert statuses(db) == {"scored": len(pks), "failed": 1}
