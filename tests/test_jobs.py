"""The rq jobs (triage.jobs): pure scoring, idempotent apply, failures that end in 'failed'."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from rq import Queue
from rq.job import Job

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
from triage import jobs
from triage.pipeline import enqueue_pending

# `triage worker --role score --burst` in a process where SQLite cannot even be imported.
PURE_WORKER = textwrap.dedent(
    """
    import sys
    sys.modules["sqlite3"] = sys.modules["_sqlite3"] = None  # importing either now fails
    from triage.cli import main
    assert main(["worker", "--role", "score", "--burst"]) == 0
    leaked = sorted(m for m in sys.modules if m in ("triage.db", "triage.apply", "triage.pipeline"))
    assert not leaked, leaked
    """
)


def test_score_job_runs_without_any_database(settings, redis_conn, tmp_path):
    items = [[1, COMPLAINTS[0]], [2, PRAISE[0]]]
    score_job = jobs.enqueue_score(redis_conn, items, "score-pure")
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


def test_score_results_carry_scores_explanations_and_model_version(classifier):
    (result,) = jobs.score_items([[7, COMPLAINTS[1]]])
    assert result["pk"] == 7 and result["model_version"] == classifier.version
    assert "logistics" in result["causes"] and result["terms"] and result["cause_terms"]["logistics"]


def test_applying_the_same_results_twice_changes_nothing_the_second_time(job_context, db):
    pks = add_reviews(db, [review(i, text, customer_id=f"c{i % 3}") for i, text in enumerate(COMPLAINTS + PRAISE)])
    results = jobs.score_items([[pk, text] for pk, text in zip(pks, COMPLAINTS + PRAISE, strict=True)])
    first = jobs.apply_scores(results)
    after_first = snapshot(db)
    second = jobs.apply_scores(results)
    assert first["scored"] == len(pks) and first["cases"] > 0
    assert second["scored"] == 0 and second["skipped"] == len(pks)
    assert snapshot(db) == after_first


def test_a_score_job_run_twice_enqueues_one_apply(redis_conn):
    assert jobs.enqueue_apply(redis_conn, [{"pk": 1, "error": "x"}], "apply-score-x") is not None
    assert jobs.enqueue_apply(redis_conn, [{"pk": 1, "error": "x"}], "apply-score-x") is None
    assert Queue(jobs.APPLY_QUEUE, connection=redis_conn).count == 1


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
    while make_scheduled_due(redis_conn, jobs.SCORE_QUEUE):  # the 10 s / 30 s / 60 s retries, without waiting
        drain(redis_conn)
    assert len(calls) == 4  # the first run and three retries
    assert statuses(db) == {"failed": 2}
    errors = {r[0] for r in db.execute("SELECT error FROM reviews")}
    assert len(errors) == 1 and "model files missing" in errors.pop()


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
