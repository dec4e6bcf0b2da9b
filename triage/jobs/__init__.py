"""rq jobs, split by the host they run on:

- `enqueue`  queue names, retry policy, the enqueue functions (jobs named by dotted path);
- `scoring`  scoring-host jobs: pure, texts in and scores out through Redis, no sqlite3;
- `database` database-host jobs: apply scores, SLA checks, outbox delivery, failed reviews;
- `context`  the per-process settings / SQLite connection / policy that database-host jobs read.

Until issue 10 this was one module, and rq keeps the dotted path of every queued job in Redis
(``triage.jobs.score_batch``, ``triage.jobs.apply_scores``, the failure callback
``triage.jobs.on_score_failure``, ...). For one release those old paths (and the old module's
other public names) stay importable here, lazily: asking for a scoring name loads
`triage.jobs.scoring` only, so a scoring machine still never imports sqlite3.
"""

from __future__ import annotations

import importlib
from typing import Any

# Old name -> the module that now holds it. Deprecated: remove one release after issue 10.
_MOVED = {
    **dict.fromkeys(("score_batch", "score_items", "on_score_failure"), "triage.jobs.scoring"),
    **dict.fromkeys(("apply_scores", "fail_reviews", "check_case_sla", "deliver_outbox"), "triage.jobs.database"),
    **dict.fromkeys(
        (
            "APPLY_QUEUE", "SCORE_QUEUE", "SLA_QUEUE", "SCORE_TIMEOUT", "APPLY_TIMEOUT", "RESULT_TTL",
            "FAILURE_TTL", "SLA_RESULT_TTL", "retry_policy", "enqueue_score", "enqueue_apply",
            "enqueue_delivery", "schedule_case_checks",
        ),
        "triage.jobs.enqueue",
    ),
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_MOVED})
