"""One detection run on the database host: judge the dirty scopes, queue the new alerts' messages.

Called by the debounced `triage.jobs.database.detect_alerts` job after applies, and by the periodic
sweep as a safety net (a lost Redis loses the job, never the dirty marks, which live in SQLite).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from triage.alerts.deliver import queue_alert_notifications
from triage.alerts.detect import DEFAULT_PARAMS, DetectorParams
from triage.alerts.store import detect
from triage.config import Settings

__all__ = ["RunOutcome", "run_detection"]

SCOPES_PER_RUN = 500


@dataclass
class RunOutcome:
    scopes: int = 0
    opened: list[int] = field(default_factory=list)
    joined: int = 0
    notified: int = 0
    more: bool = False  # the run stopped at its limit: dirty scopes remain

    def summary(self) -> dict[str, Any]:
        return {"scopes": self.scopes, "opened": len(self.opened), "joined": self.joined,
                "notified": self.notified, "more": self.more}


def run_detection(
    conn: sqlite3.Connection,
    now: datetime,
    settings: Settings,
    *,
    params: DetectorParams = DEFAULT_PARAMS,
    limit: int = SCOPES_PER_RUN,
) -> RunOutcome:
    result = RunOutcome()

    def outbox(tx: sqlite3.Connection, alert: dict[str, Any], at: datetime) -> None:
        result.notified += queue_alert_notifications(
            tx, alert, at, webhook_url=settings.alert_webhook_url, wecom_url=settings.wecom_webhook_url)

    outcome = detect(conn, now, params=params, limit=limit, outbox=outbox)
    result.scopes, result.opened, result.joined = outcome.scopes, outcome.opened, outcome.joined
    result.more = outcome.scopes >= limit
    return result
