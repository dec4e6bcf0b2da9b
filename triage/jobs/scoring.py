"""Scoring-host jobs: pure, texts in and scores out through Redis.

A scoring machine has the model and Redis, and no database: this module imports no sqlite3 and
nothing that does (`tests/` runs it where importing sqlite3 fails). Results go to the database
host as an `apply_scores` job.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from redis import Redis
from rq import get_current_job
from rq.job import Job

from triage.fingerprint import text_fingerprint
from triage.jobs.enqueue import enqueue_apply, enqueue_failure
from triage.score_columns import stored_from_prediction

__all__ = ["on_score_failure", "score_batch", "score_items"]

log = logging.getLogger(__name__)


def score_items(items: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Score [[review_pk, text], ...]; one result dict per item, in order: {"pk", "model_version",
    "sentiment", "negative_prob", "causes", "text_sha1", "stored"} ("stored": the JSON text of the
    review's causes, cause_probs, terms and complaints columns), or {"pk", "error"}.

    A batch the model cannot score as a whole is retried item by item, so one bad text fails
    alone ({"pk", "error"}) instead of taking 99 good ones with it. A model that cannot load
    raises: that is the job's failure, and rq retries it.
    """
    from classifier import get_classifier

    model = get_classifier()
    pks = [int(pk) for pk, _ in items]
    texts = [str(text) for _, text in items]
    try:
        predictions: list[Any] = model.predict_many(texts)
    except Exception:
        log.exception("batch of %d failed as a whole; scoring item by item", len(texts))
        predictions = []
        for text in texts:
            try:
                predictions.append(model.predict_many([text])[0])
            except Exception as exc:
                predictions.append(exc)
    version = model.version
    results: list[dict[str, Any]] = []
    for pk, text, prediction in zip(pks, texts, predictions, strict=True):
        if isinstance(prediction, Exception):
            results.append({"pk": pk, "error": f"scoring failed: {type(prediction).__name__}: {prediction}"[:500]})
        else:
            # What the database host reads, and no more: the explanations, probabilities and
            # complaint spans travel once, as the JSON text of their columns (serialised here,
            # where scoring scales out, not in the single writer), not also as nested objects.
            results.append({
                "pk": pk,
                "model_version": version,
                "sentiment": prediction.sentiment,
                "negative_prob": round(prediction.negative_prob, 4),
                "causes": list(prediction.causes),
                "text_sha1": text_fingerprint(text),
                "stored": stored_from_prediction(prediction),
            })
    return results


def score_batch(items: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The `score` job: score the items and enqueue `apply_scores` for the database host."""
    results = score_items(items)
    job = get_current_job()
    apply_id = None
    if job is not None:
        apply_id = f"apply-{job.id}"
        enqueue_apply(job.connection, results, apply_id)
    failed = sum(1 for r in results if "error" in r)
    return {"scored": len(results) - failed, "failed": failed, "apply_job": apply_id}


def on_score_failure(job: Job, connection: Redis, exc_type: Any, exc_value: Any, traceback: Any) -> None:
    """rq failure callback: once a score job has no retries left, its reviews fail for good.

    Runs on the scoring machine, so it does not write the database itself: it asks the database
    host to, through the `apply` queue.
    """
    if job.retries_left:
        return
    pks = [int(pk) for pk, _ in job.args[0]]
    error = f"scoring failed after retries: {exc_type.__name__ if exc_type else 'error'}: {exc_value}"[:500]
    enqueue_failure(connection, pks, error, f"fail-{job.id}")
