"""The rq jobs (triage.jobs.*): pure scoring, idempotent apply, failures that end in 'failed', and the
old dotted job paths rq may still hold in Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from rq import Callback, Queue
from rq.job import Job
from rq.utils import import_attribute

from tests.pipeline_support import (
    COMPLAINTS,
    PRAISE,
    add_reviews,
    drain,
    make_scheduled_due,
    review,
    snapshot,
    statuses,
)
from triage.jobs import database, enqueue, scoring
from triage.pipeline import enqueue_pending

# `triage worker --role score --burst` in a process where SQLite cannot even be imported: a
# meta-path finder, first in line, refuses sqlite3 and _sqlite3 before any triage code runs.
PURE_WORKER = textwrap.dedent(
    """
    import sys

    class NoSqlite:
        def find_spec(self, name, path=None, target=None):
            if name in ("sqlite3", "_sqlite3") or name.startswith("sqlite3."):
                raise ImportError(f"{name} is unreachable on a scoring machine")
            return None

    sys.meta_path.insert(0, NoSqlite())
    from service.cli import main
    assert main(["worker", "--role", "score", "--burst"]) == 0
    leaked = sorted(m for m in sys.modules if m.split(".")[0] == "sqlite3" or m in (
        "_sqlite3", "triage.db", "triage.apply", "triage.pipeline", "triage.jobs.database"))
    assert not leaked, leaked
    """
)


def _enqueue_old_style(redis_conn, items, job_id):
    """A score job as the code before the split enqueued it: rq stored the old dotted paths."""
    return Queue(enqueue.SCORE_QUEUE, connection=redis_conn).enqueue(
        "triage.jobs.score_batch", items, job_id=job_id, on_failure=Callback("triage.jobs.on_score_failure"),
        retry=enqueue.retry_policy(),
    )


@pytest.mark.slow
@pytest.mark.parametrize("enqueue_job", [enqueue.enqueue_score, _enqueue_old_style], ids=["new-path", "old-path"])
def test_score_job_runs_without_any_database(settings, redis_conn, tmp_path, enqueue_job):
    items = [[1, COMPLAINTS[0]], [2, PRAISE[0]]]
    score_job = enqueue_job(redis_conn, items, "score-pure")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(REDIS_URL=settings.redis_url, TRIAGE_WEBHOOK_SECRET="x", TRIAGE_SECRET_KEY="y")  # no TRIAGE_DB
    done = subprocess.run([sys.executable, "-c", PURE_WORKER], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert score_job.get_status() == "finished"
    apply_job = Job.fetch("apply-score-pure", connection=redis_conn)
    results = apply_job.args[0]
    assert [r["pk"] for r in results] == [1, 2]
    assert [r["sentiment"] for r in results] == ["negative", "positive"]
    assert not list(tmp_path.iterdir())  # nothing written where a database would go


MOVED_JOBS = {
    "triage.jobs.score_batch": scoring.score_batch,
    "triage.jobs.score_items": scoring.score_items,
    "triage.jobs.on_score_failure": scoring.on_score_failure,
    "triage.jobs.apply_scores": database.apply_scores,
    "triage.jobs.fail_reviews": database.fail_reviews,
    "triage.jobs.check_case_sla": database.check_case_sla,
    "triage.jobs.deliver_outbox": database.deliver_outbox,
    "triage.jobs.enqueue_score": enqueue.enqueue_score,
    "triage.jobs.enqueue_apply": enqueue.enqueue_apply,
    "triage.jobs.enqueue_delivery": enqueue.enqueue_delivery,
    "triage.jobs.schedule_case_checks": enqueue.schedule_case_checks,
    "triage.jobs.retry_policy": enqueue.retry_policy,
}


@pytest.mark.parametrize("old_path", sorted(MOVED_JOBS))
def test_an_old_dotted_path_still_names_the_moved_function(old_path):
    assert import_attribute(old_path) is MOVED_JOBS[old_path]


def test_every_path_jobs_are_enqueued_under_names_a_job_function():
    assert [callable(import_attribute(path)) for path in enqueue.JOB_PATHS] == [True] * len(enqueue.JOB_PATHS)


def test_an_unknown_name_is_still_an_attribute_error():
    import triage.jobs

    with pytest.raises(AttributeError):
        triage.jobs.no_such_job  # noqa: B018


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_an_apply_job_queued_under_its_old_path_still_runs(job_context, db, redis_conn):
    pks = add_reviews(db, [review(1, COMPLAINTS[0]), review(2, PRAISE[0])])
    results = scoring.score_items([[pks[0], COMPLAINTS[0]], [pks[1], PRAISE[0]]])
    job = Queue(enqueue.APPLY_QUEUE, connection=redis_conn).enqueue("triage.jobs.apply_scores", results)
    drain(redis_conn)
    assert job.get_status() == "finished"
    assert statuses(db) == {"scored": 2}


@pytest.mark.slow
def test_a_fail_job_queued_under_its_old_path_still_runs(job_context, db, redis_conn):
    pks = add_reviews(db, [review(1, COMPLAINTS[0])])
    job = Queue(enqueue.APPLY_QUEUE, connection=redis_conn).enqueue("triage.jobs.fail_reviews", pks, "gave up")
    drain(redis_conn)
    assert job.get_status() == "finished"
    assert statuses(db) == {"failed": 1}


def test_score_results_carry_scores_explanations_and_model_version(classifier):
    (result,) = scoring.score_items([[7, COMPLAINTS[1]]])
    assert result["pk"] == 7 and result["model_version"] == classifier.version
    terms = json.loads(result["stored"]["terms"])
    assert "logistics" in result["causes"] and terms["sentiment"] and terms["causes"]["logistics"]


def test_score_results_store_what_the_prediction_says(classifier):
    (result,) = scoring.score_items([[7, COMPLAINTS[1]]])
    expected = classifier.predict_many([COMPLAINTS[1]])[0].to_json()
    stored = {k: json.loads(v) for k, v in result["stored"].items()}
    assert stored == {"causes": expected["causes"], "cause_probs": expected["cause_probs"],
                      "terms": {"sentiment": expected["terms"], "causes": expected["cause_terms"]},
                      "complaints": expected["complaints"]}
    assert (result["sentiment"], result["negative_prob"]) == (expected["sentiment"], expected["negative_prob"])


def test_applying_the_same_results_twice_changes_nothing_the_second_time(job_context, db):
    pks = add_reviews(db, [review(i, text, customer_id=f"c{i % 3}") for i, text in enumerate(COMPLAINTS + PRAISE)])
    results = scoring.score_items([[pk, text] for pk, text in zip(pks, COMPLAINTS + PRAISE, strict=True)])
    first = database.apply_scores(results)
    after_first = snapshot(db)
    second = database.apply_scores(results)
    assert first["scored"] == len(pks) and first["cases"] > 0
    assert second["scored"] == 0 and second["skipped"] == len(pks)
    assert snapshot(db) == after_first


def test_a_score_job_run_twice_enqueues_one_apply(redis_conn):
    assert enqueue.enqueue_apply(redis_conn, [{"pk": 1, "error": "x"}], "apply-score-x") is not None
    assert enqueue.enqueue_apply(redis_conn, [{"pk": 1, "error": "x"}], "apply-score-x") is None
    assert Queue(enqueue.APPLY_QUEUE, connection=redis_conn).count == 1


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_scoring_that_fails_for_good_marks_the_reviews_failed_after_the_retries(job_context, db, redis_conn,
                                                                              monkeypatch):
    import classifier

    calls = []

    def broken_model(*args, **kwargs):
        calls.append(1)
        raise classifier.ModelError("model files missing")

    monkeypatch.setattr(classifier, "get_classifier", broken_model)
    add_reviews(db, [review(1, COMPLAINTS[0]), review(2, PRAISE[0])])
    enqueue_pending(db, redis_conn)
    drain(redis_conn)
    while make_scheduled_due(redis_conn, enqueue.SCORE_QUEUE):  # the 10 s / 30 s / 60 s retries, without waiting
        drain(redis_conn)
    assert len(calls) == 4  # the first run and three retries
    assert statuses(db) == {"failed": 2}
    errors = {r[0] for r in db.execute("SELECT error FROM reviews")}
    assert len(errors) == 1 and "model files missing" in errors.pop()


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_one_unscorable_text_fails_alone(job_context, db, redis_conn, classifier, monkeypatch):
    real = classifier.predict_many

    def picky(texts, **kwargs):
        if any("BOOM" in t for t in texts):
            raise ValueError("cannot read this one")
        return real(texts, **kwargs)

    monkeypatch.setattr(classifier, "predict_many", picky)
    add_reviews(db, [review(1, COMPLAINTS[0]), review(2, "BOOM 坏了"), review(3, PRAISE[0])])
    enqueue_pending(db, redis_conn)
    drain(redis_conn)
    rows = {r["review_id"]: (r["status"], r["error"]) for r in db.execute("SELECT review_id, status, error FROM reviews")}
    assert rows["1"] == ("scored", None) and rows["3"] == ("scored", None)
    assert rows["2"][0] == "failed" and "cannot read this one" in rows["2"][1]
