"""The two SLA clocks of a case (first contact, resolution) as seen at one instant. Pure.

Computed plainly on every call. An earlier version memoized this on the policy object's
identity; measured on 1,000 cases opened at different times, the memo saved nothing (every
case has its own start, and every request its own `now`), and it tied results to object
identity rather than to the inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from triage import sla

__all__ = ["CLOCKS", "Clocks", "compute_clocks"]

CLOCKS = ("first_contact", "resolution")


@dataclass(frozen=True)
class Clocks:
    first_contact_due: datetime | None  # None while a pause stops the clock short of its target
    resolution_due: datetime | None
    first_contact: sla.ClockState
    resolution: sla.ClockState
    next_check: datetime | None  # next instant a running clock changes state


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
    """Both clocks of a case as seen at `now`; states are `sla.clock_state`'s."""
    targets = policy.targets[priority]
    fraction = policy.at_risk_fraction
    calendar = {c: policy.calendar_for(c) for c in CLOCKS}  # business hours or the wall clock
    pauses = tuple(pauses)
    done = {"first_contact": first_contacted_at, "resolution": resolved_at}
    target = {"first_contact": targets.first_contact, "resolution": targets.resolution}
    dues = {c: sla.due_at(started_at, target[c], calendar[c], pauses) for c in CLOCKS}
    states = {c: sla.clock_state(started_at, target[c], done[c], now, calendar[c], pauses, fraction) for c in CLOCKS}
    upcoming = []
    if active:
        for c in CLOCKS:
            if done[c] is None:
                moment = sla.next_transition(started_at, target[c], now, calendar[c], pauses, fraction)
                if moment is not None:
                    upcoming.append(moment)
    return Clocks(dues["first_contact"], dues["resolution"], states["first_contact"], states["resolution"],
                  min(upcoming, default=None))
