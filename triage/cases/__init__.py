"""Complaint cases: one per customer while unresolved, their SLA clocks, life cycle, JSON, list and contacts.

One module per job; this package re-exports their public names, so ``from triage import cases;
cases.add_review(...)`` reads the same wherever it is used:

- `triage.cases.store`     rows, audit events, pauses, stored clocks, opening/joining (`add_review`)
- `triage.cases.clocks`    the two SLA clocks of a case at an instant (pure)
- `triage.cases.lifecycle` the state machine and `transition`
- `triage.cases.serialize` the contract's case object
- `triage.cases.queue`     the case list: filters, order, page, total
- `triage.cases.contacts`  the contact log
- `triage.cases.actions`   what agents do to a case (`perform`, `bulk_assign`) and who may

Every function that needs the SLA policy takes it as an argument: the web app builds it once
from its settings, jobs get it from their own context.
"""

from __future__ import annotations

from triage.cases.actions import ACTIONS, Actor, ClaimedByOther, bulk_assign, perform
from triage.cases.clocks import Clocks, compute_clocks
from triage.cases.contacts import CHANNELS, OUTCOMES, Contact, list_contacts, log_contact
from triage.cases.lifecycle import RESOLUTIONS, TRANSITIONS, InvalidTransition, VersionConflict, transition
from triage.cases.queue import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SLA_STATES,
    CasePage,
    CaseQuery,
    list_cases,
    queue_counts,
)
from triage.cases.serialize import case_detail_json, case_events, case_reviews, case_to_json, cases_to_json
from triage.cases.store import (
    ACTIVE_STATUSES,
    STATUSES,
    SYSTEM,
    AddResult,
    add_event,
    add_review,
    get_case,
    higher_priority,
    load_pauses,
    load_pauses_of,
    ordered_causes,
    refresh_sla,
    row_clocks,
)

__all__ = [
    "ACTIONS",
    "ACTIVE_STATUSES",
    "CHANNELS",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "OUTCOMES",
    "RESOLUTIONS",
    "SLA_STATES",
    "STATUSES",
    "SYSTEM",
    "TRANSITIONS",
    "Actor",
    "AddResult",
    "CasePage",
    "CaseQuery",
    "ClaimedByOther",
    "Clocks",
    "Contact",
    "InvalidTransition",
    "VersionConflict",
    "add_event",
    "add_review",
    "bulk_assign",
    "case_detail_json",
    "case_events",
    "case_reviews",
    "case_to_json",
    "cases_to_json",
    "compute_clocks",
    "get_case",
    "higher_priority",
    "list_cases",
    "list_contacts",
    "load_pauses",
    "load_pauses_of",
    "log_contact",
    "ordered_causes",
    "perform",
    "queue_counts",
    "refresh_sla",
    "row_clocks",
    "transition",
]
