"""The two SLA clocks of a case (first contact, resolution) as seen at one instant. Pure.

A clock's state at `now` depends on how much business time it has used by then; that used time
only grows, so it crosses the at-risk threshold and the target at two fixed instants, its *marks*
(`ClockMarks`): `sla.due_at` of each. The marks do not depend on `now`, and from them the state and
the next transition at any instant are comparisons, with no walk over the calendar from the case's
start to `now` (which for a case opened months ago was hundreds of days of it). The result is the
one `sla.clock_state` and `sla.next_transition` give, at every instant: the property test in
`tests/test_clock_marks.py` holds the two to each other over random policies, pauses and instants.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from triage import sla

__all__ = ["CLOCKS", "ClockMarks", "Clocks", "clock_marks", "compute_clocks"]

CLOCKS = ("first_contact", "resolution")
_ZERO = timedelta(0)


@dataclass(frozen=True)
class Clocks:
    first_contact_due: datetime | None  # None while a pause stops the clock short of its target
    resolution_due: datetime | None
    first_contact: sla.ClockState
    resolution: sla.ClockState
    next_check: datetime | None  # next instant a running clock changes state


@dataclass(frozen=True)
class ClockMarks:
    """When one clock's used business time reaches its at-risk threshold (`at_risk`) and its target
    (`due`), in UTC; None where an open pause stops the clock short of it. A threshold that rounds
    to zero (a target of a microsecond or two) is reached from the start, even before it
    (`at_risk_always`), as ``used >= 0`` always holds."""

    at_risk: datetime | None
    due: datetime | None
    at_risk_always: bool = False

    def at_risk_reached(self, now_utc: datetime) -> bool:
        return self.at_risk_always or (self.at_risk is not None and now_utc >= self.at_risk)

    def due_reached(self, now_utc: datetime) -> bool:
        return self.due is not None and now_utc >= self.due


def clock_marks(started_at: datetime, target: timedelta, calendar: sla.BusinessCalendar,
                pauses: Sequence[sla.Pause], at_risk_fraction: float) -> ClockMarks:
    """The marks of a clock started at `started_at` with `target` of business time in `calendar`."""
    threshold = target * at_risk_fraction  # the very expression sla.clock_state compares with
    at_risk, due = sla.due_instants(started_at, (threshold, target), calendar, pauses)
    return ClockMarks(at_risk, due, threshold == _ZERO)


# The marks of recently seen cases, by value: everything they depend on is in the key (the clock's
# target, its calendar's `_spec`, the at-risk fraction, the start, the pauses), so an entry can
# never be stale, only absent. A queue's first pages are asked for every few seconds by every agent;
# their cases' marks are then looked up instead of walked. Bounded; the oldest entry goes first.
_MEMO: dict[tuple[object, ...], tuple[ClockMarks, ClockMarks]] = {}
_MEMO_LIMIT = 20_000
_MEMO_LOCK = threading.Lock()


def _case_marks(policy: sla.SlaPolicy, priority: str, started_at: datetime,
                pauses: tuple[sla.Pause, ...]) -> tuple[ClockMarks, ClockMarks]:
    targets = policy.targets[priority]
    fc_calendar, res_calendar = policy.calendar_for("first_contact"), policy.calendar_for("resolution")
    fraction = policy.at_risk_fraction
    key = (targets.first_contact, targets.resolution, fc_calendar._spec, res_calendar._spec,  # type: ignore[attr-defined]
           fraction, started_at, pauses)
    found = _MEMO.get(key)
    if found is not None:
        return found
    found = (clock_marks(started_at, targets.first_contact, fc_calendar, pauses, fraction),
             clock_marks(started_at, targets.resolution, res_calendar, pauses, fraction))
    with _MEMO_LOCK:
        if len(_MEMO) >= _MEMO_LIMIT:
            del _MEMO[next(iter(_MEMO))]
        _MEMO[key] = found
    return found


def _state(marks: ClockMarks, done_at: datetime | None, now: datetime, now_utc: datetime) -> sla.ClockState:
    # sla.clock_state, with `used >= x` read as "x's mark has passed" (used only grows).
    if done_at is not None and done_at <= now:
        return "met" if marks.due is None or done_at <= marks.due else "breached"
    if marks.due_reached(now_utc):
        return "breached"
    if marks.at_risk_reached(now_utc):
        return "at_risk"
    return "ok"


def _next_transition(marks: ClockMarks, now_utc: datetime) -> datetime | None:
    # sla.next_transition: the next mark not yet passed (None once breached or if paused short).
    if marks.due_reached(now_utc):
        return None
    if marks.at_risk_reached(now_utc):
        return marks.due
    return marks.at_risk


def compute_clocks(
    *,
    priority: str,
    started_at: datetime,
    first_contacted_at: datetime | None,
    resolved_at: datetime | None,
    active: bool,
    pauses: Sequence[sla.Pause],
    policy: sla.SlaPolicy,
    now: datetime,
) -> Clocks:
    """Both clocks of a case as seen at `now`; states are `sla.clock_state`'s, the next check
    `sla.next_transition`'s."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now!r}")
    now_utc = now.astimezone(UTC)
    fc, res = _case_marks(policy, priority, started_at, tuple(pauses))
    upcoming = []
    if active:
        for marks, done in ((fc, first_contacted_at), (res, resolved_at)):
            if done is None:
                moment = _next_transition(marks, now_utc)
                if moment is not None:
                    upcoming.append(moment)
    return Clocks(fc.due, res.due, _state(fc, first_contacted_at, now, now_utc),
                  _state(res, resolved_at, now, now_utc), min(upcoming, default=None))
