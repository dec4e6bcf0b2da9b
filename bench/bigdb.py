"""A big database for benchmarks: 1,000,000 reviews, 200,000 cases (~55,000 active), built once.

    .venv/bin/python bench/bigdb.py [--reviews 1000000] [--cases 200000] [--out FILE] [--force]

The schema comes from the real migrations (`triage.db.migrate`), so the file is what a shop's
database looks like after a year, not a hand-made lookalike. Building is fast because:

- every row is generated in Python and written with `executemany` in one transaction;
- the migrations' secondary indexes are dropped before the bulk insert and re-created from their
  own `sqlite_master` SQL afterwards (one sort per index instead of 1M random B-tree inserts);
- the build connection runs with `journal_mode=OFF, synchronous=OFF` (a failed build is thrown
  away), and the finished file is switched to WAL and checkpointed.

The file is kept under `var/bench/` (or `$TRIAGE_BENCH_DIR`) and named after its parameters and
`BUILD_VERSION`, so later runs reuse it (`cached_copy` hands each
benchmark its own copy, since a benchmark writes to it). A stale file (older script or schema)
is rebuilt; migrations added later than the cached build are applied to each copy when the app
opens it, the way a production database is migrated.

Distributions (deterministic, seed 15):
- reviews spread over the last 365 days, newest densest; 4 platforms; 300,000 customers with a
  skewed number of reviews each; 5,000 products in 8 categories; ratings 1-5, 30% unrated;
- status: 99.8% scored, 0.1% failed, 0.1% pending; about a quarter negative, most of those in cases;
- cases: P1 10% / P2 35% / P3 55%; 1-4 reviews each; 42,000 open, 5,000 claimed, 6,000 contacted,
  2,000 waiting_customer (55,000 active, one per customer), the rest resolved or closed;
  active cases opened in the last 14 days, closed ones over the year; events and contacts per case.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage.db import connect, migrate  # noqa: E402

DEFAULT_DIR = Path(os.environ.get("TRIAGE_BENCH_DIR") or ROOT / "var" / "bench")
PLATFORMS = ("taobao", "jd", "pinduoduo", "douyin")
CATEGORIES = ("服装", "数码", "家居", "美妆", "食品", "母婴", "运动", "图书")
CAUSE_SETS = (["logistics"], ["defect"], ["description_mismatch"], ["logistics", "defect"], ["other"])
ACTIVE = {"open": 42_000, "claimed": 5_000, "contacted": 6_000, "waiting_customer": 2_000}
AGENTS = tuple(f"agent{i:02d}" for i in range(40))
HOURS = {"P1": (2, 24), "P2": (8, 48), "P3": (24, 72)}
SEED = 15
BUILD_VERSION = 1  # bump when the generated rows change


def _texts() -> list[tuple[str, str]]:
    rows = []
    for path in sorted((ROOT / "labels").glob("own_examples*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                rows.append((item["text"], item.get("sentiment") or "positive"))
    return rows


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


def build_key(reviews: int, cases: int) -> str:
    """Names the build: its parameters and the generator's version. Not the migration list:
    migrations added after a build are applied to each copy on open, as to a shop's database."""
    return f"{reviews}-{cases}-v{BUILD_VERSION}"


def default_path(reviews: int = 1_000_000, cases: int = 200_000) -> Path:
    return DEFAULT_DIR / f"bigdb-{build_key(reviews, cases)}.db"


def build(path: Path, reviews: int = 1_000_000, cases: int = 200_000, *, quiet: bool = False) -> Path:
    """Build the database at `path` (replacing any file there); returns `path`."""
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    tmp = path.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    conn = connect(tmp)
    migrate(conn)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA cache_size = -400000")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('reviews', 'cases', 'customers', 'case_events', 'contacts', 'case_pauses')"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")

    rng = random.Random(SEED)
    texts = _texts()
    neg_texts = [t for t, s in texts if s == "negative"]
    pos_texts = [t for t, s in texts if s != "negative"]
    now = datetime.now(UTC).replace(microsecond=0).timestamp()
    year = 365 * 86400.0
    n_customers = 300_000
    ltv = [round(rng.lognormvariate(6.5, 1.2), 2) if rng.random() < 0.8 else None for _ in range(n_customers)]

    # Cases first: each gets a customer (active ones a customer of their own), a priority, a time.
    n_active = min(sum(ACTIVE.values()), cases)
    statuses = [s for s, k in ACTIVE.items() for _ in range(k)][:n_active]
    rest = cases - n_active
    statuses += ["resolved"] * (rest * 3 // 4) + ["closed"] * (rest - rest * 3 // 4)
    active_customers = rng.sample(range(n_customers), n_active)
    case_rows, event_rows, contact_rows, pause_rows = [], [], [], []
    case_reviews: list[tuple[int, int, str, float]] = []  # (case id, customer, priority, opened ts)
    for cid, status in enumerate(statuses, start=1):
        active = status in ACTIVE
        customer = active_customers[cid - 1] if active else rng.randrange(n_customers)
        priority = rng.choices(("P1", "P2", "P3"), (10, 35, 55))[0]
        opened = now - (rng.random() * 14 * 86400 if active else rng.random() * (year - 14 * 86400) + 14 * 86400)
        fc_h, res_h = HOURS[priority]
        fc_due, res_due = opened + fc_h * 3600 * 1.6, opened + res_h * 3600 * 1.6  # business hours
        causes = rng.choice(CAUSE_SETS)
        assignee = rng.choice(AGENTS) if status != "open" else None
        contacted = opened + rng.random() * fc_h * 3600 * 2 if status in ("contacted", "waiting_customer",
                                                                          "resolved", "closed") else None
        resolved = (contacted or opened) + rng.random() * res_h * 3600 if status in ("resolved", "closed") else None
        closed = resolved + 86400 if status == "closed" else None

        def state(due: float, done: float | None) -> str:
            if done is not None:
                return "met" if done <= due else "breached"
            return "breached" if due < now else ("at_risk" if due - now < 3600 else "ok")

        sla_fc, sla_res = state(fc_due, contacted), state(res_due, resolved)
        next_check = None
        if active:
            pending = [d for d, done in ((fc_due, contacted), (res_due, resolved)) if done is None and d > now]
            next_check = _iso(min(pending)) if pending else None
        updated = max(t for t in (opened, contacted, resolved, closed) if t is not None)
        tier = "top" if (ltv[customer] or 0) > 3000 else "regular"
        case_rows.append((
            cid, f"c{customer:06d}", priority, status, json.dumps(causes), round(rng.random() * 0.6 + 0.4, 4),
            assignee, _iso(opened), _iso(updated), _iso(opened) if assignee else None,
            _iso(contacted) if contacted else None, _iso(resolved) if resolved else None,
            _iso(closed) if closed else None,
            rng.choice(("refund", "replacement", "reship", "coupon", "explained", "other")) if resolved else None,
            _iso(opened), _iso(fc_due), _iso(res_due), sla_fc, sla_res, next_check,
            1 + (status != "open") + (contacted is not None) + (resolved is not None),
            ltv[customer], tier, json.dumps([f"priority:{priority}"]),
            rng.choice(("satisfied", "neutral", "unsatisfied", None)) if resolved else None,
            assignee if resolved else None,
        ))
        event_rows.append((cid, _iso(opened), "system", "opened", None, "open", None))
        if assignee:
            event_rows.append((cid, _iso(opened + 60), assignee, "claimed", "open", "claimed", None))
        if contacted:
            event_rows.append((cid, _iso(contacted), assignee or "system", "contacted", "claimed", "contacted", None))
            contact_rows.append((cid, _iso(contacted), assignee or "system",
                                 rng.choice(("wecom", "phone", "im", "sms", "email")),
                                 rng.choice(("reached", "no_answer", "message_sent", "replied")), None))
        if status == "waiting_customer":
            pause_rows.append((cid, _iso(contacted + 600), None))
        if resolved:
            event_rows.append((cid, _iso(resolved), assignee or "system", "resolved", "contacted", "resolved", None))
        if closed:
            event_rows.append((cid, _iso(closed), assignee or "system", "closed", "resolved", "closed", None))
        k = rng.choices((1, 2, 3, 4), (75, 18, 5, 2))[0]
        for j in range(k):
            case_reviews.append((cid, customer, priority, opened - rng.random() * 86400 * 2 if j == 0 else
                                 opened + rng.random() * 86400 * 3))
            if j:
                event_rows.append((cid, _iso(case_reviews[-1][3]), "system", "review_added", None, None, None))
    say(f"cases generated ({len(case_rows):,}) {time.perf_counter() - t0:.1f} s")

    # Reviews: those of the cases, and the rest from skewed customers; ids in created_at order.
    n_other = max(reviews - len(case_reviews), 0)
    other_ts = [now - year * (rng.random() ** 1.3) for _ in range(n_other)]
    weights_cut = [int(n_customers * (rng.random() ** 2.2)) for _ in range(n_other)]  # skew to low ids
    plan = [(min(ts, now), cid, cust, pr) for cid, cust, pr, ts in case_reviews[:reviews]]
    plan += [(ts, None, cust, None) for ts, cust in zip(other_ts, weights_cut, strict=True)]
    plan.sort(key=lambda p: p[0])
    review_rows = []
    model = "rc-bench"
    for pk, (ts, cid, cust, pr) in enumerate(plan, start=1):
        h = rng.random()
        if cid is not None:
            negative = True
        else:
            negative = h < 0.05
        status = "scored"
        if h > 0.999:
            status = "failed"
        elif h > 0.998:
            status = "pending"
        text = rng.choice(neg_texts if negative else pos_texts)
        rating = None if rng.random() < 0.3 else (rng.choice((1, 1, 2, 3)) if negative else rng.choice((4, 5, 5, 5)))
        product = rng.randrange(5000)
        created = _iso(ts)
        scored = status == "scored"
        causes = rng.choice(CAUSE_SETS) if negative else []
        prob = round(0.6 + rng.random() * 0.4, 4) if negative else round(rng.random() * 0.3, 4)
        review_rows.append((
            pk, PLATFORMS[pk % 4], f"r{pk:07d}", text, rating, f"c{cust:06d}", f"买家{cust}", ltv[cust],
            f"p{product:05d}", f"商品{product}", CATEGORIES[product % 8], f"o{pk:08d}", created, created,
            status, created, 1, "scoring failed" if status == "failed" else None,
            ("negative" if negative else "positive") if scored else None, prob if scored else None,
            json.dumps(causes) if scored else None,
            json.dumps({c: 0.7 for c in causes}) if scored else None,
            '{"sentiment": [], "causes": {}}' if scored else None,
            model if scored else None, created if scored else None,
            round(prob * 0.9, 6) if scored else None, "{}" if scored else None,
            pr if scored and cid is not None else None, cid if scored else None,
            f"score-{pk // 100}", "[]" if scored else None,
        ))
    say(f"reviews generated ({len(review_rows):,}) {time.perf_counter() - t0:.1f} s")

    customers = sorted({p[2] for p in plan})
    customer_rows = [(f"c{c:06d}", f"买家{c}", ltv[c], _iso(now - year), _iso(now)) for c in customers]

    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO reviews (id, platform, review_id, text, rating, customer_id, customer_name, customer_ltv,"
        " product_id, product_name, category, order_id, created_at, received_at, status, enqueued_at, attempts,"
        " error, sentiment, negative_prob, causes, cause_probs, terms, model_version, scored_at, risk,"
        " risk_factors, priority, case_id, score_job, complaints)"
        " VALUES (" + ",".join("?" * 31) + ")", review_rows)
    conn.executemany(
        "INSERT INTO cases (id, customer_id, priority, status, causes, risk, assignee, opened_at, updated_at,"
        " claimed_at, first_contacted_at, resolved_at, closed_at, resolution, sla_started_at, first_contact_due,"
        " resolution_due, sla_first_contact, sla_resolution, sla_next_check_at, version, customer_ltv,"
        " value_tier, priority_reasons, satisfaction, resolved_by)"
        " VALUES (" + ",".join("?" * 26) + ")", case_rows)
    conn.executemany("INSERT INTO customers (customer_id, name, ltv, first_seen_at, last_seen_at)"
                     " VALUES (?, ?, ?, ?, ?)", customer_rows)
    conn.executemany("INSERT INTO case_events (case_id, at, actor, kind, from_status, to_status, detail)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)", event_rows)
    conn.executemany("INSERT INTO contacts (case_id, at, agent, channel, outcome, note) VALUES (?, ?, ?, ?, ?, ?)",
                     contact_rows)
    conn.executemany("INSERT INTO case_pauses (case_id, paused_at, resumed_at) VALUES (?, ?, ?)", pause_rows)
    conn.execute("COMMIT")
    say(f"rows inserted {time.perf_counter() - t0:.1f} s")
    conn.execute("BEGIN")
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    say(f"indexes re-created ({len(indexes)}) {time.perf_counter() - t0:.1f} s")
    # Counters and anything else later migrations derive from the rows: as if migrated in place.
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.replace(path)
    say(f"built {path} ({path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t0:.1f} s")
    return path


def ensure(reviews: int = 1_000_000, cases: int = 200_000, *, force: bool = False, out: Path | None = None) -> Path:
    """The cached build for these parameters, building it if missing or stale."""
    path = out or default_path(reviews, cases)
    if force or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f"bigdb-{reviews}-{cases}-*.db"):
            if old != path:
                old.unlink()
        build(path, reviews, cases)
    return path


def cached_copy(dest: Path, reviews: int = 1_000_000, cases: int = 200_000) -> Path:
    """A private copy of the cached build at `dest` (benchmarks write to theirs)."""
    src = ensure(reviews, cases)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--force", action="store_true", help="rebuild even if a current build exists")
    args = parser.parse_args()
    path = ensure(args.reviews, args.cases, force=args.force, out=args.out)
    conn = sqlite3.connect(path)
    counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("reviews", "cases", "case_events")}
    active = conn.execute("SELECT COUNT(*) FROM cases WHERE status NOT IN ('resolved', 'closed')").fetchone()[0]
    conn.close()
    print(f"{path}: {counts['reviews']:,} reviews, {counts['cases']:,} cases ({active:,} active), "
          f"{counts['case_events']:,} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
