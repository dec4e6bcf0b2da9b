"""The one module that owns the SQLite schema: connections, pragmas and versioned migrations.

Migrations are append-only, named and recorded in `_migrations` (the sqlite-migrate pattern):
a database at any earlier version is brought forward by running the ones it lacks, each in its
own transaction. Never edit a migration that has shipped; add a new one.

Times are stored as UTC ISO 8601 text (see `triage.timeutil`); JSON columns hold lists/objects.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from triage import write_priority
from triage.errors import Busy
from triage.timeutil import to_db, utcnow
from triage.write_priority import WritePriority

__all__ = [
    "MIGRATIONS",
    "SYNCHRONOUS",
    "WAL_AUTOCHECKPOINT",
    "DatabaseBusy",
    "busy_timeout",
    "connect",
    "is_busy",
    "migrate",
    "open_db",
    "transaction",
]

BUSY_TIMEOUT_MS = 10_000

Migration = tuple[str, Callable[[sqlite_utils.Database], None]]


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run a migration's SQL statement by statement inside migrate()'s transaction.

    sqlite3's own executescript commits first, and sqlite-utils' splits the script by testing
    every prefix character by character, which made each fresh database cost ~10 ms of CPU;
    testing whole lines finds the same statement ends, since no statement here shares a line."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {statement.strip()[:80]!r}")


def _m001_initial(db: sqlite_utils.Database) -> None:
    _run_script(db,
        """
        CREATE TABLE reviews (
            id              INTEGER PRIMARY KEY,
            platform        TEXT NOT NULL,
            review_id       TEXT NOT NULL,
            text            TEXT NOT NULL,
            rating          INTEGER,
            customer_id     TEXT NOT NULL,
            customer_name   TEXT,
            customer_ltv    REAL,
            product_id      TEXT NOT NULL,
            product_name    TEXT,
            category        TEXT,
            order_id        TEXT,
            created_at      TEXT NOT NULL,          -- the review's own time (UTC); report weeks use it
            received_at     TEXT NOT NULL,
            status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'scored', 'failed')),
            enqueued_at     TEXT,                   -- last time a scoring job was enqueued for it
            attempts        INTEGER NOT NULL DEFAULT 0,
            error           TEXT,
            sentiment       TEXT CHECK (sentiment IN ('negative', 'positive')),
            negative_prob   REAL,
            causes          TEXT,                   -- JSON list
            cause_probs     TEXT,                   -- JSON object
            terms           TEXT,                   -- JSON: explanation terms for agents
            model_version   TEXT,
            scored_at       TEXT,
            risk            REAL,
            risk_factors    TEXT,                   -- JSON: the parts the risk score was built from
            priority        TEXT CHECK (priority IN ('P1', 'P2', 'P3')),
            case_id         INTEGER REFERENCES cases(id),
            UNIQUE (platform, review_id)
        );
        CREATE INDEX reviews_status ON reviews(status, enqueued_at);
        CREATE INDEX reviews_created ON reviews(created_at);
        CREATE INDEX reviews_customer ON reviews(customer_id, created_at);
        CREATE INDEX reviews_case ON reviews(case_id);
        CREATE INDEX reviews_product ON reviews(product_id, created_at);

        CREATE TABLE customers (
            customer_id     TEXT PRIMARY KEY,
            name            TEXT,
            ltv             REAL,
            first_seen_at   TEXT NOT NULL,
            last_seen_at    TEXT NOT NULL
        );

        CREATE TABLE cases (
            id                  INTEGER PRIMARY KEY,
            customer_id         TEXT NOT NULL,
            priority            TEXT NOT NULL CHECK (priority IN ('P1', 'P2', 'P3')),
            status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN
                                 ('open', 'claimed', 'contacted', 'waiting_customer', 'resolved', 'closed')),
            causes              TEXT NOT NULL DEFAULT '[]',   -- JSON list, union over its reviews
            risk                REAL NOT NULL,
            assignee            TEXT,                         -- agents.username
            opened_at           TEXT NOT NULL,
            updated_at          TEXT NOT NULL,
            claimed_at          TEXT,
            first_contacted_at  TEXT,
            resolved_at         TEXT,
            closed_at           TEXT,
            resolution          TEXT,                         -- refund / resend / apology / explained / other
            -- SLA clocks: the start is opened_at; dues are recomputed on priority change and pauses.
            sla_started_at      TEXT NOT NULL,
            first_contact_due   TEXT,
            resolution_due      TEXT,
            sla_first_contact   TEXT NOT NULL DEFAULT 'ok' CHECK (sla_first_contact IN ('ok', 'at_risk', 'breached', 'met')),
            sla_resolution      TEXT NOT NULL DEFAULT 'ok' CHECK (sla_resolution IN ('ok', 'at_risk', 'breached', 'met')),
            escalated_at        TEXT,
            version             INTEGER NOT NULL DEFAULT 1    -- optimistic locking for the agents' queue
        );
        -- One case per customer while it is unresolved: the database enforces what the domain promises.
        CREATE UNIQUE INDEX cases_one_active_per_customer ON cases(customer_id)
            WHERE status NOT IN ('resolved', 'closed');
        CREATE INDEX cases_status ON cases(status, priority, opened_at);
        CREATE INDEX cases_assignee ON cases(assignee, status);
        CREATE INDEX cases_opened ON cases(opened_at);

        -- Pauses of the SLA clocks (while waiting_customer); resumed_at NULL = paused now.
        CREATE TABLE case_pauses (
            id          INTEGER PRIMARY KEY,
            case_id     INTEGER NOT NULL REFERENCES cases(id),
            paused_at   TEXT NOT NULL,
            resumed_at  TEXT
        );
        CREATE INDEX case_pauses_case ON case_pauses(case_id);

        -- Audit trail: every state change of a case, by whom and when. Append-only.
        CREATE TABLE case_events (
            id          INTEGER PRIMARY KEY,
            case_id     INTEGER NOT NULL REFERENCES cases(id),
            at          TEXT NOT NULL,
            actor       TEXT NOT NULL,              -- agent username, or 'system'
            kind        TEXT NOT NULL,              -- opened, review_added, priority_changed, status_changed,
                                                    -- assigned, sla_at_risk, sla_breached, escalated, note, corrected
            from_status TEXT,
            to_status   TEXT,
            detail      TEXT                        -- JSON
        );
        CREATE INDEX case_events_case ON case_events(case_id, at);

        -- Contact log: each attempt to reach the customer.
        CREATE TABLE contacts (
            id          INTEGER PRIMARY KEY,
            case_id     INTEGER NOT NULL REFERENCES cases(id),
            at          TEXT NOT NULL,
            agent       TEXT NOT NULL,
            channel     TEXT NOT NULL,              -- phone, im, sms, email, other
            outcome     TEXT NOT NULL,              -- reached, no_answer, left_message, ...
            note        TEXT
        );
        CREATE INDEX contacts_case ON contacts(case_id, at);

        -- Agents' corrections of the model: training data for the next model.
        CREATE TABLE corrections (
            id              INTEGER PRIMARY KEY,
            review_pk       INTEGER NOT NULL REFERENCES reviews(id),
            agent           TEXT NOT NULL,
            at              TEXT NOT NULL,
            sentiment       TEXT,
            causes          TEXT,                   -- JSON list
            model_version   TEXT
        );
        CREATE INDEX corrections_review ON corrections(review_pk);

        CREATE TABLE agents (
            id              INTEGER PRIMARY KEY,
            username        TEXT NOT NULL UNIQUE,
            password_hash   TEXT NOT NULL,
            role            TEXT NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
            display_name    TEXT,
            active          INTEGER NOT NULL DEFAULT 1,
            created_at      TEXT NOT NULL
        );

        CREATE TABLE api_tokens (
            id              INTEGER PRIMARY KEY,
            name            TEXT NOT NULL,
            token_hash      TEXT NOT NULL UNIQUE,   -- SHA-256 of the token; the token itself is never stored
            created_at      TEXT NOT NULL,
            last_used_at    TEXT,
            revoked_at      TEXT
        );

        -- Notifications for supervisors (P1 breaches and other escalations).
        CREATE TABLE notifications (
            id          INTEGER PRIMARY KEY,
            at          TEXT NOT NULL,
            kind        TEXT NOT NULL,
            case_id     INTEGER REFERENCES cases(id),
            message     TEXT NOT NULL,
            read_at     TEXT,
            dedupe_key  TEXT UNIQUE                 -- one notification per (case, event), however often a sweep runs
        );

        -- Outgoing signed webhooks (escalations), delivered with retries.
        CREATE TABLE outbox (
            id              INTEGER PRIMARY KEY,
            created_at      TEXT NOT NULL,
            url             TEXT NOT NULL,
            payload         TEXT NOT NULL,          -- JSON
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            delivered_at    TEXT,
            last_error      TEXT,
            dedupe_key      TEXT UNIQUE
        );

        -- Published weekly reports, frozen as they were generated.
        CREATE TABLE reports (
            id              INTEGER PRIMARY KEY,
            kind            TEXT NOT NULL DEFAULT 'weekly',
            week            TEXT NOT NULL,          -- ISO week, e.g. 2026-W48
            generated_at    TEXT NOT NULL,
            model_version   TEXT,
            payload         TEXT NOT NULL,          -- JSON, the contract's report object
            UNIQUE (kind, week)
        );
        """
    )


def _m002_pipeline(db: sqlite_utils.Database) -> None:
    _run_script(db,
        """
        -- The rq job that last took the review; recovery asks Redis whether that job is still alive.
        ALTER TABLE reviews ADD COLUMN score_job TEXT;
        -- Next instant one of the case's SLA clocks changes state; the periodic sweep's index, so a
        -- timer lost with Redis still fires (late by at most one sweep interval).
        ALTER TABLE cases ADD COLUMN sla_next_check_at TEXT;
        CREATE INDEX cases_sla_next_check ON cases(sla_next_check_at) WHERE sla_next_check_at IS NOT NULL;
        -- The risk score's "top 10 % of customers" threshold is a percentile over known LTVs.
        CREATE INDEX customers_ltv ON customers(ltv) WHERE ltv IS NOT NULL;
        """
    )


def _m003_report_indexes(db: sqlite_utils.Database) -> None:
    # The weekly report aggregates a week of reviews (a million, at the top end) by range on
    # created_at. This index covers every column those queries read, so they never touch the
    # table; causes get a partial index, since only complaints carry any.
    # Statement by statement (not executescript, which commits first) to stay in migrate()'s transaction.
    db.execute(
        "CREATE INDEX reviews_report_week "
        "ON reviews(created_at, sentiment, rating, status, category, product_id, model_version)"
    )
    db.execute(
        "CREATE INDEX reviews_report_causes ON reviews(created_at, causes) "
        "WHERE causes IS NOT NULL AND causes <> '[]'"
    )


def _m010_work_queue(db: sqlite_utils.Database) -> None:
    # The shared base for the agents' queue, the supervisor console and account management; each
    # stream adds what only it needs in its own migrations (010-019 queue, 020-029 supervisor, ...).
    for statement in (
        # Cases: what an agent and the metrics need to know about how a case went.
        "ALTER TABLE cases ADD COLUMN satisfaction TEXT CHECK (satisfaction IN ('satisfied', 'neutral', 'unsatisfied'))",
        "ALTER TABLE cases ADD COLUMN close_reason TEXT",                   # unreachable / duplicate / other
        "ALTER TABLE cases ADD COLUMN resolved_by TEXT",                    # agents.username
        "ALTER TABLE cases ADD COLUMN reopened_count INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE cases ADD COLUMN revised_upward INTEGER NOT NULL DEFAULT 0",  # 已改评
        "ALTER TABLE cases ADD COLUMN revised_upward_at TEXT",
        "ALTER TABLE cases ADD COLUMN customer_ltv REAL",                   # at the last change of the case
        "ALTER TABLE cases ADD COLUMN value_tier TEXT NOT NULL DEFAULT 'regular' CHECK (value_tier IN ('top', 'regular'))",
        "ALTER TABLE cases ADD COLUMN priority_reasons TEXT NOT NULL DEFAULT '[]'",  # JSON list of reasons
        # Reviews: complaint spans (classifier output) and the revision a row holds now.
        "ALTER TABLE reviews ADD COLUMN complaints TEXT",                   # JSON [{start, end, cause, prob}]
        "ALTER TABLE reviews ADD COLUMN revision INTEGER NOT NULL DEFAULT 1",
        # Earlier revisions of a review (a customer's edit or 追评), newest first by revision.
        """CREATE TABLE review_revisions (
            id              INTEGER PRIMARY KEY,
            review_pk       INTEGER NOT NULL REFERENCES reviews(id),
            revision        INTEGER NOT NULL,
            text            TEXT NOT NULL,
            rating          INTEGER,
            received_at     TEXT NOT NULL,
            sentiment       TEXT,
            negative_prob   REAL,
            causes          TEXT,
            complaints      TEXT,
            model_version   TEXT,
            UNIQUE (review_pk, revision)
        )""",
        # Agents: shift membership (the shift calendar lives with the SLA policy) and lock-out state.
        "ALTER TABLE agents ADD COLUMN shift TEXT",
        "ALTER TABLE agents ADD COLUMN disabled_at TEXT",
        "ALTER TABLE agents ADD COLUMN last_login_at TEXT",
        # API tokens may act as an agent (with the agent's role); NULL = read-only token.
        "ALTER TABLE api_tokens ADD COLUMN agent_id INTEGER REFERENCES agents(id)",
        # Reply handbook (客服应答手册): one row per version of a reply; the newest version of a
        # reply_key is current, older ones stay for the record.
        """CREATE TABLE handbook_replies (
            id          INTEGER PRIMARY KEY,
            reply_key   TEXT NOT NULL,                 -- stable id of the reply across versions
            cause       TEXT NOT NULL,
            title       TEXT NOT NULL,
            body        TEXT NOT NULL,                 -- placeholders: {customer_name} {product_name} {order_id} ...
            version     INTEGER NOT NULL,
            retired     INTEGER NOT NULL DEFAULT 0,
            author      TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            UNIQUE (reply_key, version)
        )""",
        "CREATE INDEX handbook_replies_cause ON handbook_replies(cause, reply_key, version)",
    ):
        db.execute(statement)


# The agents' queue order as one sortable text, so one index serves it with no sort step:
#   '0' active / '1' resolved or closed, then the priority (P1 < P2 < P3), then the value tier
#   ('0' top 10 % customer, '1' the others), then the nearest due time of a clock still running
#   (fixed-width UTC text; '~' sorts after every time: a paused clock has no due).
QUEUE_KEY_SQL = """
    CASE WHEN status IN ('resolved', 'closed') THEN '1' ELSE '0' END
    || priority
    || CASE value_tier WHEN 'top' THEN '0' ELSE '1' END
    || COALESCE(
        CASE WHEN first_contacted_at IS NULL AND first_contact_due IS NOT NULL
                  AND (resolution_due IS NULL OR first_contact_due <= resolution_due)
             THEN first_contact_due ELSE resolution_due END,
        '~')
"""


def _m011_queue(db: sqlite_utils.Database) -> None:
    for statement in (
        # What the queue row shows and filters on: the product, category and platform of the case's
        # latest review (kept by triage.cases.store when a review opens or joins the case).
        "ALTER TABLE cases ADD COLUMN product_id TEXT",
        "ALTER TABLE cases ADD COLUMN category TEXT",
        "ALTER TABLE cases ADD COLUMN platform TEXT",
        """UPDATE cases SET (product_id, category, platform) = (
               SELECT r.product_id, r.category, r.platform FROM reviews r WHERE r.case_id = cases.id
               ORDER BY r.created_at DESC, r.id DESC LIMIT 1)""",
        # A virtual generated column: never stale, costs no storage, and can be indexed.
        f"ALTER TABLE cases ADD COLUMN queue_key TEXT GENERATED ALWAYS AS ({QUEUE_KEY_SQL}) VIRTUAL",
        "CREATE INDEX cases_queue ON cases(queue_key, id)",
        "CREATE INDEX cases_queue_assignee ON cases(assignee, queue_key, id)",
        "CREATE INDEX cases_queue_product ON cases(product_id, queue_key, id)",
        "CREATE INDEX cases_queue_category ON cases(category, queue_key, id)",
        "CREATE INDEX cases_queue_platform ON cases(platform, queue_key, id)",
        # A correction is about the text the agent saw: the review's revision at the time.
        "ALTER TABLE corrections ADD COLUMN revision INTEGER",
    ):
        db.execute(statement)


def _m019_cases_by_customer(db: sqlite_utils.Database) -> None:
    # The case page lists the customer's past cases; without this only the partial index of
    # active cases knows customers, and 200,000 cases were scanned per page view (~1 s).
    db.execute("CREATE INDEX IF NOT EXISTS cases_customer ON cases(customer_id, opened_at)")


def _m030_alerts(db: sqlite_utils.Database) -> None:
    # Product alerts (差评预警). Statement by statement, inside migrate()'s transaction.
    for statement in (
        # What a review is counted as in alert_counters ({"hour", "product", "category", "causes"}),
        # so a re-scored revision or a correction moves its counts instead of adding them twice.
        "ALTER TABLE reviews ADD COLUMN alert_counted TEXT",
        # Hourly counters per scope ('p:<product>', 'c:<category>', 'all') and cause ('' = every review):
        # detection reads a scope's few hundred rows instead of scanning reviews.
        """CREATE TABLE alert_counters (
            scope   TEXT NOT NULL,
            cause   TEXT NOT NULL,
            hour    TEXT NOT NULL,          -- UTC start of the hour (timeutil.to_db)
            n       INTEGER NOT NULL,
            PRIMARY KEY (scope, cause, hour)
        ) WITHOUT ROWID""",
        # Scopes with new counts since the last detection run; the run deletes what it judged.
        """CREATE TABLE alert_dirty (
            scope       TEXT PRIMARY KEY,
            category    TEXT,
            marked_at   TEXT NOT NULL
        )""",
        """CREATE TABLE alerts (
            id                  INTEGER PRIMARY KEY,
            scope_key           TEXT NOT NULL,          -- 'p:<product>' or 'c:<category>'
            product_id          TEXT,                   -- NULL for a category alert
            category            TEXT,
            cause               TEXT NOT NULL,
            status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
            opened_at           TEXT NOT NULL,
            updated_at          TEXT NOT NULL,
            window_start        TEXT NOT NULL,          -- reviews from here on belong to the alert
            count               INTEGER NOT NULL DEFAULT 0,
            window_reviews      INTEGER NOT NULL DEFAULT 0,
            rate                REAL,
            baseline_rate       REAL,
            p_value             REAL,
            fired_window_hours  REAL,
            terms               TEXT NOT NULL DEFAULT '[]',  -- JSON [{term, reviews, share}]
            acknowledged_at     TEXT,
            acknowledged_by     TEXT,
            resolved_at         TEXT,
            resolved_by         TEXT,
            resolution          TEXT,
            note                TEXT
        )""",
        # At most one active (open or acknowledged) alert per product, or category, and cause.
        "CREATE UNIQUE INDEX alerts_one_active ON alerts(scope_key, cause) WHERE status != 'resolved'",
        "CREATE INDEX alerts_status ON alerts(status, opened_at)",
        "CREATE INDEX alerts_resolved ON alerts(resolved_at) WHERE resolved_at IS NOT NULL",
        "CREATE INDEX alerts_opened ON alerts(opened_at)",
        """CREATE TABLE alert_reviews (
            alert_id    INTEGER NOT NULL REFERENCES alerts(id),
            review_pk   INTEGER NOT NULL REFERENCES reviews(id),
            joined_at   TEXT NOT NULL,
            PRIMARY KEY (alert_id, review_pk)
        ) WITHOUT ROWID""",
        "CREATE INDEX alert_reviews_review ON alert_reviews(review_pk)",
        # Timeline of an alert: opened, reviews_joined, acknowledged, resolved, notified. Append-only.
        """CREATE TABLE alert_events (
            id          INTEGER PRIMARY KEY,
            alert_id    INTEGER NOT NULL REFERENCES alerts(id),
            at          TEXT NOT NULL,
            actor       TEXT NOT NULL,
            kind        TEXT NOT NULL,
            detail      TEXT
        )""",
        "CREATE INDEX alert_events_alert ON alert_events(alert_id, at)",
        "CREATE INDEX reviews_category ON reviews(category, created_at) WHERE category IS NOT NULL",
    ):
        db.execute(statement)


def _m050_login_throttle(db: sqlite_utils.Database) -> None:
    # Failed sign-ins (per account and per address, for throttling) and account lockouts
    # (triage.login_throttle). Rows older than the throttle window are pruned as new ones come.
    _run_script(db,
        """
        CREATE TABLE login_failures (
            id          INTEGER PRIMARY KEY,
            username    TEXT NOT NULL,
            address     TEXT NOT NULL,
            at          TEXT NOT NULL
        );
        CREATE INDEX login_failures_username ON login_failures(username, at);
        CREATE INDEX login_failures_address ON login_failures(address, at);
        CREATE TABLE login_lockouts (
            username    TEXT PRIMARY KEY,
            locked_at   TEXT NOT NULL,
            until       TEXT NOT NULL,
            failures    INTEGER NOT NULL
        );
        """
    )


# What the CS metrics (triage.metrics.cs) need of a case, kept up to date by triggers so that a
# 12-week query reads two narrow indexes instead of the wide rows. Written out literally: a shipped
# migration must not change when the code it once mirrored does. Bits of cs_flags, each a rule of
# triage.metrics.cs (a test holds these columns to the Python definitions):
#   0 first contact within SLA   1 resolved         2 resolved within SLA   3 answered (resolved)
#   4 satisfied (resolved)       5 已改评 (resolved)  6 resolved at least once 7 reopened
#   8 contacted
CS_COLUMNS_SQL = """
    cs_agent = COALESCE(resolved_by, assignee),
    cs_minutes = (julianday(first_contacted_at) - julianday(opened_at)) * 1440.0,
    cs_flags = COALESCE(first_contacted_at IS NOT NULL
                        AND (first_contact_due IS NULL OR first_contacted_at <= first_contact_due), 0)
             | ((resolved_at IS NOT NULL) << 1)
             | (COALESCE(resolved_at IS NOT NULL AND (resolution_due IS NULL OR resolved_at <= resolution_due), 0) << 2)
             | ((resolved_at IS NOT NULL AND satisfaction IS NOT NULL) << 3)
             | (COALESCE(resolved_at IS NOT NULL AND satisfaction = 'satisfied', 0) << 4)
             | (COALESCE(resolved_at IS NOT NULL AND revised_upward, 0) << 5)
             | ((resolved_at IS NOT NULL OR reopened_count > 0) << 6)
             | ((reopened_count > 0) << 7)
             | ((first_contacted_at IS NOT NULL) << 8)
"""
_CS_INPUTS = ("opened_at, assignee, resolved_by, first_contacted_at, first_contact_due, resolved_at, resolution_due,"
              " satisfaction, revised_upward, reopened_count")


def _m020_supervisor(db: sqlite_utils.Database) -> None:
    for statement in (
        "ALTER TABLE cases ADD COLUMN cs_agent TEXT",       # the agent a case counts for
        "ALTER TABLE cases ADD COLUMN cs_minutes REAL",     # wall minutes to first contact; NULL until then
        "ALTER TABLE cases ADD COLUMN cs_flags INTEGER NOT NULL DEFAULT 0",
        f"UPDATE cases SET {CS_COLUMNS_SQL}",
        f"CREATE TRIGGER cases_cs_insert AFTER INSERT ON cases BEGIN"
        f" UPDATE cases SET {CS_COLUMNS_SQL} WHERE id = NEW.id; END",
        f"CREATE TRIGGER cases_cs_update AFTER UPDATE OF {_CS_INPUTS} ON cases BEGIN"
        f" UPDATE cases SET {CS_COLUMNS_SQL} WHERE id = NEW.id; END",
        # A period's cases by opening time (per shift span), and one agent's by opening time.
        "CREATE INDEX cases_cs_period ON cases(opened_at, cs_agent, cs_flags, cs_minutes)",
        "CREATE INDEX cases_cs_agent ON cases(cs_agent, opened_at, cs_flags, cs_minutes)",
    ):
        db.execute(statement)
    # The supervisors' board reads the active cases only (a few per cent of all, after a year), and
    # every column its breached / at-risk rules and its order need, so it never visits the table.
    db.execute(
        "CREATE INDEX cases_board ON cases(assignee, status, priority, first_contact_due, resolution_due,"
        " first_contacted_at, resolved_at, sla_first_contact, sla_resolution)"
        " WHERE status IN ('open', 'claimed', 'contacted', 'waiting_customer')"
    )


# Counters for GET /api/v1/stats and the case list's totals, kept by triggers: every writer
# (webhook, apply, SLA checks, agents' actions, whatever lands later) updates them inside its own
# transaction without having to know about them, so they cannot drift from the rows.
#   reviews:<status>             reviews by status (pending, scored, failed)
#   cases:<status>:<priority>    cases by status and priority (any status/priority filter's total)
#   cases:breached_marked        active cases (not resolved/closed) with either clock marked 'breached'
_CASE_KEY = "'cases:' || {r}.status || ':' || {r}.priority"
_MARKED = ("({r}.status NOT IN ('resolved', 'closed')"
           " AND ({r}.sla_first_contact = 'breached' OR {r}.sla_resolution = 'breached'))")
_COUNTER_TRIGGERS = f"""
CREATE TRIGGER counters_review_insert AFTER INSERT ON reviews BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'reviews:' || new.status;
END;
CREATE TRIGGER counters_review_delete AFTER DELETE ON reviews BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'reviews:' || old.status;
END;
CREATE TRIGGER counters_review_status AFTER UPDATE OF status ON reviews WHEN old.status <> new.status BEGIN
    UPDATE counters SET value = value + (name = 'reviews:' || new.status) - (name = 'reviews:' || old.status)
    WHERE name IN ('reviews:' || old.status, 'reviews:' || new.status);
END;
CREATE TRIGGER counters_case_insert AFTER INSERT ON cases BEGIN
    UPDATE counters SET value = value + 1 WHERE name = {_CASE_KEY.format(r="new")};
    UPDATE counters SET value = value + 1 WHERE name = 'cases:breached_marked' AND {_MARKED.format(r="new")};
END;
CREATE TRIGGER counters_case_delete AFTER DELETE ON cases BEGIN
    UPDATE counters SET value = value - 1 WHERE name = {_CASE_KEY.format(r="old")};
    UPDATE counters SET value = value - 1 WHERE name = 'cases:breached_marked' AND {_MARKED.format(r="old")};
END;
CREATE TRIGGER counters_case_update AFTER UPDATE OF status, priority, sla_first_contact, sla_resolution ON cases
WHEN old.status <> new.status OR old.priority <> new.priority OR old.sla_first_contact <> new.sla_first_contact
     OR old.sla_resolution <> new.sla_resolution BEGIN
    UPDATE counters SET value = value + (name = {_CASE_KEY.format(r="new")}) - (name = {_CASE_KEY.format(r="old")})
    WHERE (old.status <> new.status OR old.priority <> new.priority)
      AND name IN ({_CASE_KEY.format(r="old")}, {_CASE_KEY.format(r="new")});
    UPDATE counters SET value = value + {_MARKED.format(r="new")} - {_MARKED.format(r="old")}
    WHERE name = 'cases:breached_marked' AND {_MARKED.format(r="new")} <> {_MARKED.format(r="old")};
END;
"""

# Where the active cases that are breached but not yet marked so can be (see triage.metrics):
# a clock still running past its due time (the moments before the SLA check marks it), or a clock
# finished late. Two partial indexes by due time and one of late finishes hold only active,
# unmarked cases, so `metrics.open_case_counts` finds them by range instead of a scan. Queries
# repeat these conditions verbatim, which is what lets the planner use the partial indexes.
UNMARKED = "sla_first_contact <> 'breached' AND sla_resolution <> 'breached'"
RUNNING_FIRST_CONTACT = (
    f"status NOT IN ('resolved', 'closed', 'waiting_customer') AND first_contacted_at IS NULL AND {UNMARKED}"
)
RUNNING_RESOLUTION = f"status NOT IN ('resolved', 'closed', 'waiting_customer') AND resolved_at IS NULL AND {UNMARKED}"
LATE_FINISH = (
    f"status NOT IN ('resolved', 'closed') AND {UNMARKED}"
    " AND (first_contacted_at > first_contact_due OR resolved_at > resolution_due)"
)


def _m040_counters_and_indexes(db: sqlite_utils.Database) -> None:
    # Counters, backfilled from the rows (one pass each, once), then kept by triggers.
    db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID")
    names = [f"reviews:{s}" for s in ("pending", "scored", "failed")]
    names += [f"cases:{s}:{p}" for s in ("open", "claimed", "contacted", "waiting_customer", "resolved", "closed")
              for p in ("P1", "P2", "P3")]
    names.append("cases:breached_marked")
    db.conn.executemany("INSERT INTO counters (name, value) VALUES (?, 0)", [(n,) for n in names])
    db.execute(
        "UPDATE counters SET value = c.n FROM (SELECT 'reviews:' || status AS k, count(*) AS n FROM reviews"
        " GROUP BY status) AS c WHERE counters.name = c.k"
    )
    db.execute(
        "UPDATE counters SET value = c.n FROM (SELECT 'cases:' || status || ':' || priority AS k, count(*) AS n"
        " FROM cases GROUP BY status, priority) AS c WHERE counters.name = c.k"
    )
    db.execute(
        "UPDATE counters SET value = (SELECT count(*) FROM cases WHERE status NOT IN ('resolved', 'closed')"
        " AND (sla_first_contact = 'breached' OR sla_resolution = 'breached')) WHERE name = 'cases:breached_marked'"
    )
    for statement in _COUNTER_TRIGGERS.split("END;"):
        if statement.strip():
            db.execute(statement + "END;")
    # Indexes: each one's users are listed in docs/benchmarks.md ("Indexes and their queries").
    for statement in (
        # reviews_created duplicated the first column of reviews_report_week, which serves every
        # query by created_at (report, report schedule).
        "DROP INDEX reviews_created",
        # Only pending reviews are ever looked up by status (claims, recovery); scored and failed
        # are counted by the counters. A partial index holds a few hundred rows instead of a million,
        # and applying a score deletes one entry instead of moving one.
        "DROP INDEX reviews_status",
        "CREATE INDEX reviews_pending ON reviews(enqueued_at) WHERE status = 'pending'",
        # Only reviews in a case are looked up by case (the case JSON's review ids, the case page's
        # reviews in time order, the queue page's latest review): three in four scored reviews have
        # none and need no entry; created_at serves those pages' order without a sort.
        "DROP INDEX reviews_case",
        "CREATE INDEX reviews_case ON reviews(case_id, created_at) WHERE case_id IS NOT NULL",
        # GET /api/v1/cases?status=S (newest first): one status, in list order, without a sort.
        "CREATE INDEX cases_status_opened ON cases(status, opened_at)",
        # A case's pauses in time order (SLA clocks, the case JSON) straight from the index.
        "DROP INDEX case_pauses_case",
        "CREATE INDEX case_pauses_case ON case_pauses(case_id, paused_at)",
        f"CREATE INDEX cases_running_first_contact ON cases(first_contact_due) WHERE {RUNNING_FIRST_CONTACT}",
        f"CREATE INDEX cases_running_resolution ON cases(resolution_due) WHERE {RUNNING_RESOLUTION}",
        f"CREATE INDEX cases_late_finish ON cases(id) WHERE {LATE_FINISH}",
    ):
        db.execute(statement)


def _m021_cs_changes(db: sqlite_utils.Database) -> None:
    # A change counter per UTC hour of opening time (the first 13 characters of the stored
    # opened_at), bumped by triggers whenever a case's CS columns (migration 020) may change, is
    # added or deleted. triage.metrics.cs caches each local day's figures under the counters of
    # the hours it covers, so a 12-week query recomputes only the days whose cases changed.
    # Absent row = counter 0, so nothing needs backfilling. The row 'id' names this database (a
    # random number): a file replaced by another one at the same path never matches a cached day.
    bump = ("INSERT INTO cs_changes (hour, n) VALUES (substr({row}.opened_at, 1, 13), 1)"
            " ON CONFLICT (hour) DO UPDATE SET n = n + 1;")
    for statement in (
        "CREATE TABLE cs_changes (hour TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
        f"CREATE TRIGGER cases_cs_changes_insert AFTER INSERT ON cases BEGIN {bump.format(row='NEW')} END",
        f"CREATE TRIGGER cases_cs_changes_update AFTER UPDATE OF opened_at, cs_agent, cs_flags, cs_minutes"
        f" ON cases BEGIN {bump.format(row='OLD')} {bump.format(row='NEW')} END",
        f"CREATE TRIGGER cases_cs_changes_delete AFTER DELETE ON cases BEGIN {bump.format(row='OLD')} END",
        "INSERT INTO cs_changes (hour, n) VALUES ('id', abs(random()))",
    ):
        db.execute(statement)


# Migration 020's triggers recompute a case's CS columns after every INSERT and every UPDATE of
# their inputs, and that UPDATE in turn bumps migration 021's change counters twice, even when
# nothing changed: a case opened by the apply path (no contact, no resolution) already has the
# columns' defaults, and its dues (an input) do not move its figures before a first contact or a
# resolution. Here the same triggers run only when a stored CS column differs from its definition,
# so the figures stay exact (the recomputation is the same) and the change counters move only when
# a figure can. Written out literally: CS_COLUMNS_SQL with NEW. before each input.
CS_STALE_SQL = """
    NEW.cs_agent IS NOT COALESCE(NEW.resolved_by, NEW.assignee)
    OR NEW.cs_minutes IS NOT ((julianday(NEW.first_contacted_at) - julianday(NEW.opened_at)) * 1440.0)
    OR NEW.cs_flags IS NOT (
        COALESCE(NEW.first_contacted_at IS NOT NULL
                 AND (NEW.first_contact_due IS NULL OR NEW.first_contacted_at <= NEW.first_contact_due), 0)
        | ((NEW.resolved_at IS NOT NULL) << 1)
        | (COALESCE(NEW.resolved_at IS NOT NULL AND (NEW.resolution_due IS NULL OR NEW.resolved_at <= NEW.resolution_due),
                    0) << 2)
        | ((NEW.resolved_at IS NOT NULL AND NEW.satisfaction IS NOT NULL) << 3)
        | (COALESCE(NEW.resolved_at IS NOT NULL AND NEW.satisfaction = 'satisfied', 0) << 4)
        | (COALESCE(NEW.resolved_at IS NOT NULL AND NEW.revised_upward, 0) << 5)
        | ((NEW.resolved_at IS NOT NULL OR NEW.reopened_count > 0) << 6)
        | ((NEW.reopened_count > 0) << 7)
        | ((NEW.first_contacted_at IS NOT NULL) << 8))
"""


def _m060_apply_fast(db: sqlite_utils.Database) -> None:
    for statement in (
        "DROP TRIGGER cases_cs_insert",
        "DROP TRIGGER cases_cs_update",
        f"CREATE TRIGGER cases_cs_insert AFTER INSERT ON cases WHEN {CS_STALE_SQL} BEGIN"
        f" UPDATE cases SET {CS_COLUMNS_SQL} WHERE id = NEW.id; END",
        f"CREATE TRIGGER cases_cs_update AFTER UPDATE OF {_CS_INPUTS} ON cases WHEN {CS_STALE_SQL} BEGIN"
        f" UPDATE cases SET {CS_COLUMNS_SQL} WHERE id = NEW.id; END",
    ):
        db.execute(statement)


# The apply path stores thousands of scores per second, and `counters_review_status` ran once per
# row to move one review from pending to scored. Here the apply's own UPDATE counts instead (one
# statement per batch, same transaction, `triage.apply`), and the trigger still counts every other
# writer's status change: a statement that bumps `reviews.status_self_counted` says it counts its
# own status changes, and only such a statement is passed over. Any other UPDATE (the webhook's
# re-scoring of a revision, an operator's hand edit, a future writer) leaves the column as it was,
# so the trigger counts it as before and the counters stay exact for every writer.
SELF_COUNTED_REVIEW_STATUS_TRIGGER = """
CREATE TRIGGER counters_review_status AFTER UPDATE OF status ON reviews
WHEN old.status <> new.status AND new.status_self_counted IS old.status_self_counted BEGIN
    UPDATE counters SET value = value + (name = 'reviews:' || new.status) - (name = 'reviews:' || old.status)
    WHERE name IN ('reviews:' || old.status, 'reviews:' || new.status);
END
"""


# The same for the cases the apply path opens: three AFTER INSERT triggers ran per new case (the
# counters by status and priority, migration 021's change counter of the opening hour, and the
# check of migration 020/060's CS columns) for figures the batch knows in advance: its cases open
# as 'open' with clocks 'ok' (never marked breached), at one moment, with no agent, contact or
# resolution (so their CS columns are the columns' defaults: never stale). A row inserted with
# `opened_self_counted = 1` says its writer counted it (`triage.apply`: one counters UPDATE per
# priority, one change-counter upsert per batch); every other INSERT is counted by the triggers.
_NOT_SELF_COUNTED = "NEW.opened_self_counted IS NOT 1"


def _m065_apply_counts_its_own(db: sqlite_utils.Database) -> None:
    bump = ("INSERT INTO cs_changes (hour, n) VALUES (substr(NEW.opened_at, 1, 13), 1)"
            " ON CONFLICT (hour) DO UPDATE SET n = n + 1;")
    for statement in (
        "ALTER TABLE reviews ADD COLUMN status_self_counted INTEGER",  # NULL: no row counted itself yet
        "DROP TRIGGER counters_review_status",
        SELF_COUNTED_REVIEW_STATUS_TRIGGER,
        "ALTER TABLE cases ADD COLUMN opened_self_counted INTEGER",
        "DROP TRIGGER counters_case_insert",
        f"CREATE TRIGGER counters_case_insert AFTER INSERT ON cases WHEN {_NOT_SELF_COUNTED} BEGIN"
        f" UPDATE counters SET value = value + 1 WHERE name = {_CASE_KEY.format(r='new')};"
        f" UPDATE counters SET value = value + 1 WHERE name = 'cases:breached_marked' AND {_MARKED.format(r='new')};"
        " END",
        "DROP TRIGGER cases_cs_changes_insert",
        f"CREATE TRIGGER cases_cs_changes_insert AFTER INSERT ON cases WHEN {_NOT_SELF_COUNTED} BEGIN {bump} END",
        "DROP TRIGGER cases_cs_insert",
        f"CREATE TRIGGER cases_cs_insert AFTER INSERT ON cases WHEN {_NOT_SELF_COUNTED} AND ({CS_STALE_SQL}) BEGIN"
        f" UPDATE cases SET {CS_COLUMNS_SQL} WHERE id = NEW.id; END",
    ):
        db.execute(statement)


MIGRATIONS: list[Migration] = [
    ("001_initial", _m001_initial),
    ("002_pipeline", _m002_pipeline),
    ("003_report_indexes", _m003_report_indexes),
    ("010_work_queue", _m010_work_queue),
    ("011_queue", _m011_queue),
    # 019: the queue UI's own (the queue domain counts up from 011).
    ("019_cases_by_customer", _m019_cases_by_customer),
    ("020_supervisor", _m020_supervisor),
    ("021_cs_changes", _m021_cs_changes),
    ("030_alerts", _m030_alerts),
    ("040_counters_and_indexes", _m040_counters_and_indexes),
    ("050_login_throttle", _m050_login_throttle),
    ("060_apply_fast", _m060_apply_fast),
    ("065_apply_counts_its_own", _m065_apply_counts_its_own),
]


# `PRAGMA synchronous` by connection role. In WAL mode a commit under NORMAL is safe from a crash of
# the process but not of the machine (power loss, kernel panic): the last transactions may roll back.
# FULL also fsyncs the WAL at every commit, and, as the WAL is one file appended in order, that
# fsync makes every earlier commit durable as well, whatever its own setting.
#
# * "ingest" (web requests, imports, CLI): FULL. A 202 promises the reviews are committed, and the
#   connector will not send them again; an agent's action is what a person did. Neither can be
#   recomputed, so neither may be lost.
# * "apply" (the db worker: applying scores, SLA checks, outbox delivery, report publishing):
#   NORMAL. Everything it writes is derived and idempotent: a power loss that rolls back the last
#   applies leaves those reviews `pending` with their old claim, the recovery sweep finds their
#   jobs finished or gone and scores them again (the model is deterministic), SLA states are
#   recomputed from the case rows, escalations are deduplicated by their key and delivered at
#   least once anyway. What it saves is one fsync per apply transaction (bench: docs/benchmarks.md).
SYNCHRONOUS = {"ingest": "FULL", "apply": "NORMAL"}
# WAL checkpoints (copying the WAL back into the database file, with fsyncs) run in whichever
# connection's commit finds the WAL past its threshold. The db worker commits all the time and its
# latency matters to nobody, so it checkpoints at SQLite's default (1000 pages, ~4 MB); web requests
# only as a safety net when no db worker runs (10,000 pages), so a webhook's 202 does not wait for one.
WAL_AUTOCHECKPOINT = {"ingest": 10_000, "apply": 1000}


class Connection(sqlite3.Connection):
    """A connection that knows its process's write lock for its database file (`transaction`)."""

    write_lock: threading.RLock | None = None
    # How long `transaction` waits for `write_lock`: the busy timeout the connection was made with.
    write_lock_timeout_s: float = BUSY_TIMEOUT_MS / 1000
    # The connection's role ("ingest" or "apply", `SYNCHRONOUS`) and its database's writers file:
    # requests' writers go before the db worker's (`triage.write_priority`).
    role: str = "ingest"
    write_priority: WritePriority | None = None
    # How long the last `transaction` held SQLite's write lock (BEGIN to COMMIT or ROLLBACK), in
    # seconds: the db worker sizes its next apply transaction by it (`triage.jobs.database`).
    last_hold_seconds: float = 0.0


_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


def _write_lock_for(path: Path) -> threading.RLock:
    key = str(path.resolve())
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.RLock())


def connect(path: Path | str, *, role: str = "ingest") -> sqlite3.Connection:
    """A connection with the pragmas every process needs (WAL, busy timeout, foreign keys) and the
    durability of its `role` (see `SYNCHRONOUS`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in `transaction`), so a
    # writer takes the lock up front instead of failing to upgrade a read lock under contention.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False,
                           factory=Connection)
    conn.write_lock = _write_lock_for(path)
    conn.write_lock_timeout_s = BUSY_TIMEOUT_MS / 1000
    conn.role = role
    conn.write_priority = write_priority.for_database(path)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS[role]}")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT[role]}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class DatabaseBusy(Busy, sqlite3.OperationalError):
    """The database stayed locked by another connection for the whole busy timeout.

    Also an `OperationalError`, so code that already treats a busy database as transient (retries,
    the enqueue after commit) keeps doing so; the web layer answers 503 with Retry-After."""

    default_message = "the database is busy (locked by another writer); nothing was changed, retry shortly"


def is_busy(exc: BaseException) -> bool:
    """Is `exc` SQLite's "database is locked/busy", i.e. worth retrying as it stands?"""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return str(exc).startswith(("database is locked", "database is busy", "database table is locked"))


class busy_timeout:
    """`with busy_timeout(conn, 200): ...` — wait at most `ms` for a lock inside, then restore.

    For writes that may be skipped (bookkeeping such as a token's last use): better to skip one
    than to hold a read request for the whole busy timeout while another writer works."""

    def __init__(self, conn: sqlite3.Connection, ms: int) -> None:
        self.conn = conn
        self.ms = ms
        self.saved = BUSY_TIMEOUT_MS

    def __enter__(self) -> sqlite3.Connection:
        self.saved = self.conn.execute("PRAGMA busy_timeout").fetchone()[0]
        self.conn.execute(f"PRAGMA busy_timeout = {int(self.ms)}")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(self.saved)}")


# How long a writer sleeps between two asks for a write lock another process holds.
BEGIN_POLL_SECONDS = 0.001


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting at most the connection's busy timeout for another process's writer.

    Not through SQLite's busy handler: it sleeps 1, 2, 5, ... 25, 50, then 100 ms between tries,
    and the write lock has no queue, so a writer asleep in it misses the few milliseconds between a
    busy db worker's transactions again and again. A webhook behind 100 ms apply transactions with
    5 ms gaps waited 1.3 s at the median, 3.2 s at p95 that way; asking every millisecond, it waits
    for the transaction in progress and takes the next gap. A try costs a few microseconds."""
    timeout_ms = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = None
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + timeout_ms / 1000
                elif now >= deadline:
                    raise
            time.sleep(BEGIN_POLL_SECONDS)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


class transaction:
    """`with transaction(conn): ...` — BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception.

    Writers of one process queue on a lock of their own before asking SQLite for its write lock.
    SQLite's busy handler polls with sleeps of up to 100 ms, so many threads waiting there take the
    lock in no particular order and some wait for seconds (under load, past the busy timeout: an
    error); a Python lock hands over to the next waiter at once. Writers of other processes (the
    db worker, other gunicorn workers) meet at SQLite's lock, which the one waiting writer of each
    process asks for every millisecond (`_begin_immediate`) rather than through the busy handler.

    A write lock (this process's or SQLite's) that cannot be had within the busy timeout raises
    DatabaseBusy.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock: threading.RLock | None = getattr(conn, "write_lock", None)

    def __enter__(self) -> sqlite3.Connection:
        priority: WritePriority | None = getattr(self.conn, "write_priority", None)
        self.request = priority if getattr(self.conn, "role", "ingest") == "ingest" else None
        if self.request is not None:
            self.request.request_waiting()  # before this process's lock: waiting counts too
        try:
            if self.lock is not None and not self.lock.acquire(timeout=self.conn.write_lock_timeout_s):
                raise DatabaseBusy("the database is busy (this process's other writers held it for the whole"
                                   " busy timeout); nothing was changed, retry shortly")
        except BaseException:
            self._request_done()
            raise
        try:
            if priority is not None and self.request is None:
                priority.yield_to_requests()
            _begin_immediate(self.conn)
            self.began = time.monotonic()
        except BaseException as exc:
            if self.lock is not None:
                self.lock.release()
            self._request_done()
            if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
                raise DatabaseBusy() from exc
            raise
        return self.conn

    def _request_done(self) -> None:
        if self.request is not None:
            self.request.request_done()
            self.request = None

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None:
                self.conn.execute("ROLLBACK")
                return
            try:
                self.conn.execute("COMMIT")
            except sqlite3.OperationalError as commit_error:
                # A failed COMMIT leaves the transaction open; end it so the connection stays usable.
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if is_busy(commit_error):
                    raise DatabaseBusy() from commit_error
                raise
        finally:
            if isinstance(self.conn, Connection):
                self.conn.last_hold_seconds = time.monotonic() - self.began
            if self.lock is not None:
                self.lock.release()
            self._request_done()


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations this database lacks; returns their names."""
    db = sqlite_utils.Database(conn)
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    done = []
    for name, apply in MIGRATIONS:
        if name in applied:
            continue
        with transaction(conn):
            # Re-check inside the write lock: another process may have migrated meanwhile.
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                continue
            apply(db)
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, to_db(utcnow())))
        done.append(name)
    return done


def open_db(path: Path | str, *, role: str = "ingest") -> sqlite3.Connection:
    """Connect and bring the schema up to date."""
    conn = connect(path, role=role)
    migrate(conn)
    return conn
