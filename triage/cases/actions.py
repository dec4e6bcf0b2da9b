"""Case actions: what agents do to a case, who may do it, and the one transaction each takes.

`perform` is the single entry point for the JSON API (`POST /api/v1/cases/<id>/actions`) and the
pages; both pass the caller as an `Actor` (username, role) and the case `version` the caller saw.

Rules
-----
==========  ==========================================  ===================================
action      fields                                      who
==========  ==========================================  ===================================
claim       —                                           agent+ (nobody holds the case)
release     —                                           the assignee, supervisor, admin
assign      agent (an active agent's username)          supervisor, admin
contact     channel, outcome, note?                     the assignee
wait        note?                                       the assignee (contacted → waiting)
resume      note?                                       the assignee (waiting → contacted)
resolve     resolution, satisfaction?, note?            the assignee (contacted or waiting)
close       reason, note?                               the assignee, supervisor, admin
note        text                                        agent+
correct     review ("<platform>/<review_id>"),          agent+
            sentiment?, causes?
==========  ==========================================  ===================================

"agent+" is any role (agent, supervisor, admin). Only the assignee works a case: a supervisor
who wants to resolve someone else's case assigns it (to themselves) first, so the audit trail
always says who held it.

Order of checks, so that every refusal is the most useful one and changes nothing: the fields
(422, `ValidationFailed` naming each bad field), the case (404), the role (403), the version
(409 `VersionConflict`: someone changed the case since the caller read it), then the state: a
case someone else holds cannot be claimed (409 `ClaimedByOther`), a caller who is not the
assignee may not work it (403), and a status that rules the action out is a 409
(`InvalidTransition`).

Every accepted action is one `BEGIN IMMEDIATE` transaction: one conditional ``UPDATE`` of the
case that also checks the version (and, for a claim, that nobody holds it), so two agents racing
for one case cannot both win even outside this process's lock; one append-only ``case_events``
row (the audit timeline); the contact or correction row where there is one; the SLA clocks
recomputed. ``version`` grows by one with every accepted action, notes and corrections included.

Contacts: ``no_answer`` is logged (and audited) but is not a contact: the first-contact clock
keeps running and the status stays. Any other outcome stops the first-contact clock the first
time and moves a claimed case to ``contacted``; on a case waiting for the customer, ``reached``
or ``replied`` ends the wait (the customer answered), the others leave it waiting.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from classifier.causes import CAUSES
from triage import sla
from triage.cases.contacts import CHANNELS, OUTCOMES, log_contact
from triage.cases.lifecycle import RESOLUTIONS, InvalidTransition, VersionConflict
from triage.cases.store import ACTIVE_STATUSES, add_event, get_case, refresh_sla
from triage.db import transaction
from triage.errors import Conflict, Forbidden, NotFound, ValidationFailed
from triage.timeutil import to_db

__all__ = [
    "ACTIONS",
    "CLOSE_REASONS",
    "NOTE_MAX_CHARS",
    "ROLES",
    "SATISFACTIONS",
    "SENTIMENTS",
    "SUPERVISOR_ROLES",
    "Actor",
    "ClaimedByOther",
    "bulk_assign",
    "perform",
]

ROLES = ("agent", "supervisor", "admin")
SUPERVISOR_ROLES = ("supervisor", "admin")
ACTIONS = ("claim", "release", "assign", "contact", "wait", "resume", "resolve", "close", "note", "correct")
SATISFACTIONS = ("satisfied", "neutral", "unsatisfied")
CLOSE_REASONS = ("unreachable", "duplicate", "other")
SENTIMENTS = ("negative", "positive")
NOTE_MAX_CHARS = 2000
# Outcomes after which the shop has reached the customer (first contact made).
_CONTACT_MADE = ("reached", "message_sent", "replied")
# Outcomes that mean the customer answered: a wait for them is over.
_CUSTOMER_ANSWERED = ("reached", "replied")


@dataclass(frozen=True)
class Actor:
    """Who acts: an agent's username and role ('agent' | 'supervisor' | 'admin')."""

    username: str
    role: str

    @property
    def supervises(self) -> bool:
        return self.role in SUPERVISOR_ROLES


class ClaimedByOther(Conflict):
    """Someone else holds the case (409)."""

    reason = "claimed"


# --------------------------------------------------------------------------------------------
# Fields


class _Fields:
    """Reads an action's fields, collecting every problem before raising one ValidationFailed."""

    def __init__(self, action: str, fields: Mapping[str, Any], allowed: Iterable[str]) -> None:
        self.fields = fields
        self.problems: list[dict[str, Any]] = []
        allowed = set(allowed)
        for name in fields:
            if name not in allowed:
                expected = ", ".join(sorted(allowed)) or "none"
                self.problems.append({"field": str(name), "message": f"unknown field for {action!r} "
                                                                     f"(its fields: {expected})"})

    def problem(self, field: str, message: str) -> None:
        self.problems.append({"field": field, "message": message})

    def choice(self, name: str, choices: tuple[str, ...], *, required: bool) -> str | None:
        value = self.fields.get(name)
        if value is None:
            if required:
                self.problem(name, f"required; one of {', '.join(choices)}")
            return None
        if value not in choices:
            self.problem(name, f"unknown value {value!r}; expected one of {', '.join(choices)}")
            return None
        return value

    def text(self, name: str, *, required: bool, max_chars: int = NOTE_MAX_CHARS) -> str | None:
        value = self.fields.get(name)
        if value is None:
            if required:
                self.problem(name, "required")
            return None
        if not isinstance(value, str):
            self.problem(name, "must be a string")
            return None
        value = value.strip()
        if not value:
            if required:
                self.problem(name, "must not be blank")
            return None
        if len(value) > max_chars:
            self.problem(name, f"at most {max_chars} characters, got {len(value)}")
            return None
        return value

    def causes(self, name: str) -> list[str] | None:
        value = self.fields.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            self.problem(name, f"must be a list of causes ({', '.join(CAUSES)})")
            return None
        bad = [c for c in value if c not in CAUSES]
        if bad:
            self.problem(name, f"unknown cause {bad[0]!r}; expected some of {', '.join(CAUSES)}")
            return None
        if "other" in value and len(set(value)) > 1:
            self.problem(name, "'other' cannot be combined with a specific cause")
            return None
        return [c for c in CAUSES if c in value]  # canonical order, no repeats

    def done(self) -> None:
        if self.problems:
            raise ValidationFailed(self.problems, "invalid action fields", code="invalid_action")


_FIELDS: dict[str, tuple[str, ...]] = {
    "claim": (),
    "release": ("note",),
    "assign": ("agent", "note"),
    "contact": ("channel", "outcome", "note"),
    "wait": ("note",),
    "resume": ("note",),
    "resolve": ("resolution", "satisfaction", "note"),
    "close": ("reason", "note"),
    "note": ("text",),
    "correct": ("review", "sentiment", "causes"),
}


def _parse(action: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    if action not in ACTIONS:
        raise ValidationFailed([{"field": "action", "message": f"unknown action {action!r}; expected one of "
                                                              f"{', '.join(ACTIONS)}"}],
                               "invalid action", code="invalid_action")
    if not isinstance(fields, Mapping):
        raise ValidationFailed([{"field": "(body)", "message": "fields must be an object"}], code="invalid_action")
    f = _Fields(action, fields, _FIELDS[action])
    out: dict[str, Any] = {}
    if "note" in _FIELDS[action]:
        out["note"] = f.text("note", required=False)
    if action == "assign":
        out["agent"] = f.text("agent", required=True, max_chars=64)
    elif action == "contact":
        out["channel"] = f.choice("channel", CHANNELS, required=True)
        out["outcome"] = f.choice("outcome", OUTCOMES, required=True)
    elif action == "resolve":
        out["resolution"] = f.choice("resolution", RESOLUTIONS, required=True)
        out["satisfaction"] = f.choice("satisfaction", SATISFACTIONS, required=False)
    elif action == "close":
        out["reason"] = f.choice("reason", CLOSE_REASONS, required=True)
    elif action == "note":
        out["text"] = f.text("text", required=True)
    elif action == "correct":
        review = f.text("review", required=True, max_chars=200)
        if review is not None and "/" not in review:
            f.problem("review", "must be '<platform>/<review_id>'")
            review = None
        out["review"] = review
        out["sentiment"] = f.choice("sentiment", SENTIMENTS, required=False)
        out["causes"] = f.causes("causes")
        if out["sentiment"] is None and out["causes"] is None and not f.problems:
            f.problem("sentiment", "give the corrected sentiment, causes, or both")
    f.done()
    return out


def _check_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationFailed([{"field": "version", "message": "required: the case's current version (an integer)"}],
                               "invalid action fields", code="invalid_action")
    return version


# --------------------------------------------------------------------------------------------
# Entry points


def perform(
    conn: sqlite3.Connection,
    case_id: int,
    actor: Actor,
    action: str,
    fields: Mapping[str, Any],
    *,
    version: int,
    policy: sla.SlaPolicy,
    now: datetime,
) -> sqlite3.Row:
    """Take `action` on the case as `actor`, if `version` is still the case's; the updated row.

    Raises ValidationFailed (422), NotFound (404), Forbidden (403), or a Conflict (409:
    VersionConflict, ClaimedByOther, InvalidTransition); a refused action changes nothing.
    Afterwards the caller may arm the SLA timer for the row's ``sla_next_check_at``
    (`triage.jobs.enqueue.schedule_case_checks`); the periodic sweep catches it otherwise.
    """
    if actor.role not in ROLES:
        raise Forbidden(f"unknown role {actor.role!r}")
    parsed = _parse(action, fields)
    version = _check_version(version)
    with transaction(conn):
        row = get_case(conn, case_id)
        if row is None:
            raise NotFound(f"case {case_id} not found")
        if action == "assign" and not actor.supervises:
            raise Forbidden("only supervisors and admins assign cases")
        if row["version"] != version:
            raise VersionConflict(f"case {case_id} has changed since you loaded it (version {row['version']}, "
                                  f"yours {version}); reload it and try again")
        _HANDLERS[action](conn, row, actor, parsed, now)
        refresh_sla(conn, case_id, now, policy)
        return get_case(conn, case_id)


def bulk_assign(
    conn: sqlite3.Connection,
    case_ids: Iterable[int],
    actor: Actor,
    agent_username: str,
    *,
    policy: sla.SlaPolicy,
    now: datetime,
) -> list[int]:
    """Assign many cases to one agent in one transaction (a supervisor rebalancing the queue).

    Cases that are unknown, resolved or closed, or already that agent's, are skipped; the ids of
    the cases actually assigned come back, in the order given. No version check: the supervisor
    acts on the queue as it is now. Raises Forbidden for an agent, ValidationFailed for an
    unknown or disabled assignee.
    """
    if not actor.supervises:
        raise Forbidden("only supervisors and admins assign cases")
    assigned: list[int] = []
    with transaction(conn):
        _require_active_agent(conn, agent_username)
        for case_id in dict.fromkeys(int(i) for i in case_ids):
            row = get_case(conn, case_id)
            if row is None or row["status"] not in ACTIVE_STATUSES or row["assignee"] == agent_username:
                continue
            _assign(conn, row, actor, {"agent": agent_username, "note": None, "bulk": True}, now)
            refresh_sla(conn, case_id, now, policy)
            assigned.append(case_id)
    return assigned


# --------------------------------------------------------------------------------------------
# The actions (each inside perform's transaction, the version already checked)


def _update(conn: sqlite3.Connection, row: sqlite3.Row, changes: Mapping[str, Any], now: datetime,
            condition: str = "", params: Iterable[Any] = ()) -> None:
    """One conditional UPDATE: the version must still be the one read (plus `condition`)."""
    columns = {**changes, "updated_at": to_db(now)}
    sets = ", ".join(f"{column} = ?" for column in columns)
    cur = conn.execute(
        f"UPDATE cases SET {sets}, version = version + 1 WHERE id = ? AND version = ?{condition}",
        (*columns.values(), row["id"], row["version"], *params),
    )
    if cur.rowcount != 1:
        raise VersionConflict(f"case {row['id']} changed concurrently; reload it and try again")


def _event(conn: sqlite3.Connection, row: sqlite3.Row, kind: str, actor: Actor, now: datetime,
           to_status: str | None = None, **detail: Any) -> None:
    detail = {k: v for k, v in detail.items() if v is not None}
    add_event(conn, row["id"], kind, now, actor.username, from_status=row["status"],
              to_status=to_status or row["status"], detail=detail or None)


def _require_active(row: sqlite3.Row, action: str) -> None:
    if row["status"] not in ACTIVE_STATUSES:
        raise InvalidTransition(f"case {row['id']} is {row['status']}: it cannot be {action}ed")


def _require_assignee(row: sqlite3.Row, actor: Actor, action: str) -> None:
    if row["assignee"] != actor.username:
        holder = f"{row['assignee']} holds it" if row["assignee"] else "nobody holds it; claim it first"
        raise Forbidden(f"only the case's assignee may {action} it ({holder})")


def _require_status(row: sqlite3.Row, action: str, allowed: tuple[str, ...]) -> None:
    if row["status"] not in allowed:
        raise InvalidTransition(f"case {row['id']} is {row['status']}; {action} needs it to be "
                                f"{' or '.join(allowed)}")


def _end_pause(conn: sqlite3.Connection, row: sqlite3.Row, now: datetime) -> None:
    if row["status"] == "waiting_customer":
        conn.execute("UPDATE case_pauses SET resumed_at = ? WHERE case_id = ? AND resumed_at IS NULL",
                     (to_db(now), row["id"]))


def _require_active_agent(conn: sqlite3.Connection, username: str | None) -> None:
    found = conn.execute("SELECT active, disabled_at FROM agents WHERE username = ?", (username,)).fetchone()
    if found is None or not found["active"] or found["disabled_at"] is not None:
        raise ValidationFailed([{"field": "agent", "message": f"no active agent {username!r}"}],
                               "invalid action fields", code="invalid_action")


def _claim(conn, row, actor, f, now) -> None:
    if row["status"] not in ACTIVE_STATUSES:
        raise InvalidTransition(f"case {row['id']} is {row['status']}: there is nothing to claim")
    if row["assignee"] is not None:
        who = "you already hold it" if row["assignee"] == actor.username else f"{row['assignee']} holds it"
        raise ClaimedByOther(f"case {row['id']} is already claimed: {who}")
    to_status = "claimed" if row["status"] == "open" else row["status"]
    stamp = to_db(now)
    # The guard is in the UPDATE itself: of two claims racing, exactly one matches `assignee IS NULL`.
    _update(conn, row, {"assignee": actor.username, "claimed_at": stamp, "status": to_status}, now,
            " AND assignee IS NULL")
    _event(conn, row, "claimed", actor, now, to_status)


def _release(conn, row, actor, f, now) -> None:
    if row["assignee"] is None:
        raise InvalidTransition(f"case {row['id']} is not claimed by anyone")
    if row["assignee"] != actor.username and not actor.supervises:
        raise Forbidden(f"only {row['assignee']} (the assignee) or a supervisor may release this case")
    _require_active(row, "releas")
    to_status = "open" if row["status"] == "claimed" else row["status"]
    _update(conn, row, {"assignee": None, "claimed_at": None, "status": to_status}, now)
    _event(conn, row, "released", actor, now, to_status, previous_assignee=row["assignee"], note=f["note"])


def _assign(conn, row, actor, f, now) -> None:
    _require_active(row, "assign")
    _require_active_agent(conn, f["agent"])
    if row["assignee"] == f["agent"]:
        raise InvalidTransition(f"case {row['id']} is already assigned to {f['agent']}")
    to_status = "claimed" if row["status"] == "open" else row["status"]
    _update(conn, row, {"assignee": f["agent"], "claimed_at": to_db(now), "status": to_status}, now)
    _event(conn, row, "assigned", actor, now, to_status, previous_assignee=row["assignee"], assignee=f["agent"],
           note=f["note"], bulk=f.get("bulk"))


def _contact(conn, row, actor, f, now) -> None:
    _require_assignee(row, actor, "contact")
    _require_status(row, "contact", ("claimed", "contacted", "waiting_customer"))
    contact = log_contact(conn, row["id"], actor.username, f["channel"], f["outcome"], f["note"], now)
    changes: dict[str, Any] = {}
    made = f["outcome"] in _CONTACT_MADE
    if made and row["first_contacted_at"] is None:
        changes["first_contacted_at"] = to_db(now)
    to_status = row["status"]
    if made and row["status"] == "claimed":
        to_status = "contacted"
    elif row["status"] == "waiting_customer" and f["outcome"] in _CUSTOMER_ANSWERED:
        to_status = "contacted"
        _end_pause(conn, row, now)
    changes["status"] = to_status
    _update(conn, row, changes, now)
    _event(conn, row, "contacted", actor, now, to_status, contact_id=contact.id, channel=f["channel"],
           outcome=f["outcome"], note=f["note"])


def _wait(conn, row, actor, f, now) -> None:
    _require_assignee(row, actor, "wait on")
    _require_status(row, "wait", ("contacted",))
    _update(conn, row, {"status": "waiting_customer"}, now)
    conn.execute("INSERT INTO case_pauses (case_id, paused_at) VALUES (?, ?)", (row["id"], to_db(now)))
    _event(conn, row, "waiting", actor, now, "waiting_customer", note=f["note"])


def _resume(conn, row, actor, f, now) -> None:
    _require_assignee(row, actor, "resume")
    _require_status(row, "resume", ("waiting_customer",))
    _end_pause(conn, row, now)
    _update(conn, row, {"status": "contacted"}, now)
    _event(conn, row, "resumed", actor, now, "contacted", note=f["note"])


def _resolve(conn, row, actor, f, now) -> None:
    _require_assignee(row, actor, "resolve")
    _require_status(row, "resolve", ("contacted", "waiting_customer"))
    _end_pause(conn, row, now)
    stamp = to_db(now)
    _update(conn, row, {"status": "resolved", "resolved_at": stamp, "resolved_by": actor.username,
                        "resolution": f["resolution"], "satisfaction": f["satisfaction"]}, now)
    _event(conn, row, "resolved", actor, now, "resolved", resolution=f["resolution"],
           satisfaction=f["satisfaction"], note=f["note"])


def _close(conn, row, actor, f, now) -> None:
    if row["assignee"] != actor.username and not actor.supervises:
        _require_assignee(row, actor, "close")
    if row["status"] == "closed":
        raise InvalidTransition(f"case {row['id']} is already closed")
    _end_pause(conn, row, now)
    _update(conn, row, {"status": "closed", "closed_at": to_db(now), "close_reason": f["reason"]}, now)
    _event(conn, row, "closed", actor, now, "closed", reason=f["reason"], note=f["note"])


def _note(conn, row, actor, f, now) -> None:
    _update(conn, row, {}, now)
    _event(conn, row, "note", actor, now, text=f["text"])


def _correct(conn, row, actor, f, now) -> None:
    platform, _, review_id = f["review"].partition("/")
    review = conn.execute(
        "SELECT id, sentiment, causes, model_version, revision FROM reviews"
        " WHERE platform = ? AND review_id = ? AND case_id = ?",
        (platform, review_id, row["id"]),
    ).fetchone()
    if review is None:
        raise ValidationFailed([{"field": "review", "message": f"{f['review']!r} is not a review of case {row['id']}"}],
                               "invalid action fields", code="invalid_action")
    causes = json.dumps(f["causes"]) if f["causes"] is not None else None
    cur = conn.execute(
        "INSERT INTO corrections (review_pk, agent, at, sentiment, causes, model_version, revision)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (review["id"], actor.username, to_db(now), f["sentiment"], causes, review["model_version"],
         review["revision"]),
    )
    _update(conn, row, {}, now)
    _event(conn, row, "corrected", actor, now, correction_id=int(cur.lastrowid), review=f["review"],
           sentiment=f["sentiment"], causes=f["causes"],
           model={"sentiment": review["sentiment"],
                  "causes": json.loads(review["causes"]) if review["causes"] else None})


_HANDLERS = {
    "claim": _claim,
    "release": _release,
    "assign": _assign,
    "contact": _contact,
    "wait": _wait,
    "resume": _resume,
    "resolve": _resolve,
    "close": _close,
    "note": _note,
    "correct": _correct,
}
