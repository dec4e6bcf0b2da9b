"""Database-host jobs: apply scores, SLA checks, escalation delivery, failed reviews.

They run where the SQLite file is (`triage worker --role db`, or inside `triage serve`) and take
their settings, connection and SLA policy from `triage.jobs.context`, which the worker configures.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from redis import Redis
from rq import get_current_job

from triage.alerts.jobs import run_detection
from triage.apply import apply_results, cached_ltv_threshold, mark_failed
from triage.db import transaction
from triage.escalation import deliver_due
from triage.jobs import context
from triage.jobs.enqueue import enqueue_delivery, enqueue_detect_alerts, schedule_case_checks
from triage.timers import check_case, check_case_in_tx
from triage.timeutil import to_wire, utcnow

log = logging.getLogger(__name__)

__all__ = ["apply_scores", "check_case_sla", "check_cases_sla", "deliver_outbox", "detect_alerts", "fail_reviews"]


def _job_redis() -> Redis | None:
    job = get_current_job()
    return job.connection if job is not None else None


def apply_scores(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `apply` job: store scores and explanations, then risk and cases; arm SLA timers."""
    settings = context.settings()
    conn = context.db()
    now = utcnow()
    outcome = apply_results(
        conn,
        results,
        now=now,
        policy=context.policy(),
        ltv_threshold=cached_ltv_threshold(conn, settings.db_path),
        webhook_url=settings.escalation_webhook_url,
        wecom_url=settings.wecom_webhook_url,
    )
    redis = _job_redis()
    if redis is not None:
        schedule_case_checks(redis, outcome.checks, now)
        if outcome.escalated:
            enqueue_delivery(redis)
        if outcome.alert_counts:
            try:
                enqueue_detect_alerts(redis, now)
            except Exception:  # never fail an apply for the alerts: the sweep judges dirty products too
                log.exception("could not enqueue alert detection; the sweep will run it")
    return outcome.summary()


def fail_reviews(pks: Sequence[int], error: str) -> int:
    """The `apply` job a scoring machine enqueues when a batch failed for good."""
    return mark_failed(context.db(), pks, error)


def check_case_sla(case_id: int) -> dict[str, Any]:
    """The `sla` job, enqueued for the moment a clock changes state."""
    settings = context.settings()
    now = utcnow()
    next_check, escalated = check_case(context.db(), case_id, now, context.policy(),
                                       settings.escalation_webhook_url, wecom_url=settings.wecom_webhook_url)
    redis = _job_redis()
    if redis is not None:
        schedule_case_checks(redis, {case_id: next_check}, now)
        if escalated:
            enqueue_delivery(redis)
    return {"case_id": case_id, "next_check": to_wire(next_check), "escalated": escalated}


def check_cases_sla(case_ids: Sequence[int]) -> dict[str, Any]:
    """The `sla` job for several cases due at the same moment: each checked as `check_case_sla`
    would, in one transaction; their next moments armed together."""
    settings = context.settings()
    now = utcnow()
    conn = context.db()
    checks: dict[int, Any] = {}
    escalated = 0
    with transaction(conn):
        for case_id in case_ids:
            checks[case_id], count = check_case_in_tx(conn, int(case_id), now, context.policy(),
                                                      settings.escalation_webhook_url,
                                                      wecom_url=settings.wecom_webhook_url)
            escalated += count
    redis = _job_redis()
    if redis is not None:
        schedule_case_checks(redis, checks, now)
        if escalated:
            enqueue_delivery(redis)
    return {"cases": len(checks), "escalated": escalated}


def deliver_outbox() -> dict[str, int]:
    """The `sla` job that sends due escalation webhooks (the sweep does it too)."""
    settings = context.settings()
    delivered, failed = deliver_due(context.db(), utcnow(), settings.webhook_secrets[0])
    return {"delivered": delivered, "failed": failed}


def detect_alerts() -> dict[str, Any]:
    """The alerts job (debounced after applies): judge the products and categories with new counts."""
    settings = context.settings()
    outcome = run_detection(context.db(), utcnow(), settings)
    redis = _job_redis()
    if redis is not None:
        if outcome.notified:
            enqueue_delivery(redis)
        if outcome.more:
            enqueue_detect_alerts(redis, utcnow())
    return outcome.summary()
