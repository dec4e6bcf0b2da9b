"""Case metrics, defined once, shared by the stats API, the weekly report, the supervisors' board
and the CS metrics API.

- `triage.metrics.cases` — per case: breached, within SLA, first-response time, resolution rate,
  as SQL and as Python (held to `triage.sla.clock_state` by a test); open/breached counts and the
  weekly cohort figures.
- `triage.metrics.cs` — customer-service performance per agent, per shift and overall for a
  period of local days: cases handled, first-contact minutes (median, p90), resolution within
  SLA and overall, satisfaction, 已改评 and reopen rates, each rate with its n.

The names of `triage.metrics.cases` stay importable from `triage.metrics`, as before the split.
"""

from __future__ import annotations

from triage.metrics.cases import (
    CLOCK_COLUMNS,
    at_risk_sql,
    breached_sql,
    case_at_risk,
    case_breached,
    clock_breached,
    clock_breached_sql,
    cohort_figures,
    first_response_minutes,
    first_response_minutes_sql,
    next_due_sql,
    open_case_counts,
    resolution_rate,
    within_sla,
    within_sla_sql,
)
from triage.metrics.cs import (
    SMALL_SAMPLE,
    CsFigures,
    CsReport,
    Period,
    Rate,
    cs_figures,
    cs_report,
    period_report,
)

__all__ = [
    "CLOCK_COLUMNS",
    "SMALL_SAMPLE",
    "CsFigures",
    "CsReport",
    "Period",
    "Rate",
    "at_risk_sql",
    "breached_sql",
    "case_at_risk",
    "case_breached",
    "clock_breached",
    "clock_breached_sql",
    "cohort_figures",
    "cs_figures",
    "cs_report",
    "first_response_minutes",
    "first_response_minutes_sql",
    "next_due_sql",
    "open_case_counts",
    "period_report",
    "resolution_rate",
    "within_sla",
    "within_sla_sql",
]
