"""Benchmark: the weekly report over a week with a million reviews.

    .venv/bin/python bench/report_bench.py [--reviews 1000000] [--history 100000] [--db FILE]

Builds a SQLite database with the real schema (`triage.db.open_db`): `--reviews` reviews in
2026-W48 (Asia/Shanghai), `--history` in each of the 11 weeks before it (the trend reads
them), and a case for every 20th review of the week. Rows are generated inside SQLite by a
recursive CTE, so building takes seconds rather than minutes. Then it times, in the same run
and on the same file:

- the full report (`build_weekly`: every figure, trend, cases, median), before and after
  ANALYZE (the app never runs it, but the planner's choices change once statistics exist);
- baseline A: `SELECT COUNT(*)` over the week's range (an index-only scan: the floor);
- baseline B: one aggregate pass over the week's rows reading the columns the report needs;
- baseline C: the naive way — fetch the week's rows into Python and count there.

and prints a markdown table with each time and its ratio to the full report. The default
sizes need about 1.1 GB of disk in the temporary directory and two minutes, mostly building.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from triage.db import open_db
from triage.reports.weekly import build_weekly
from triage.reports.weeks import IsoWeek

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
WEEK = IsoWeek(2026, 48)
CATEGORIES = ("服装", "数码", "家居", "美妆", "食品", "母婴", "运动", "图书")
CAUSES = ('["logistics"]', '["defect"]', '["description_mismatch"]', '["logistics","defect"]', '["other"]')


def fill_week(conn: sqlite3.Connection, week: IsoWeek, count: int, first_id: int) -> None:
    """`count` reviews spread evenly over `week`, with a deterministic mix of figures."""
    if count == 0:
        return
    lo, hi = week.bounds(ZONE)
    start = lo.timestamp()
    span = hi.timestamp() - start
    # h is a cheap deterministic hash of n, so the mix does not line up with time order.
    conn.execute(
        f"""
        WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < :count - 1),
        h(n, h, t) AS (
            SELECT n, (n * 2654435761) % 1000003,
                   strftime('%Y-%m-%dT%H:%M:%S', :start + n * :step, 'unixepoch') || '.000000+00:00'
            FROM seq
        )
        INSERT INTO reviews (id, platform, review_id, text, rating, customer_id, product_id, product_name,
                             category, created_at, received_at, status, sentiment, causes, model_version)
        SELECT :first + n, 'tmall', 'r' || (:first + n), '评价内容',
               CASE WHEN h % 10 < 3 THEN NULL ELSE 1 + h % 5 END,
               'c' || (h % 200000),
               'p' || (h % 5000), '商品' || (h % 5000),
               (SELECT value FROM json_each(:categories) WHERE key = h % {len(CATEGORIES)}),
               t, t,
               CASE WHEN h % 50 = 0 THEN 'pending' ELSE 'scored' END,
               CASE WHEN h % 50 = 0 THEN NULL WHEN h % 100 < 12 THEN 'negative' ELSE 'positive' END,
               CASE WHEN h % 50 = 0 THEN NULL WHEN h % 100 < 12
                    THEN (SELECT value FROM json_each(:causes) WHERE key = h % {len(CAUSES)}) ELSE '[]' END,
               CASE WHEN h % 50 = 0 THEN NULL WHEN h % 7 = 0 THEN 'rc-old' ELSE 'rc-new' END
        FROM h
        """,
        {
            "count": count,
            "start": start,
            "step": span / count,
            "first": first_id,
            "categories": json.dumps(CATEGORIES, ensure_ascii=False),
            "causes": json.dumps([json.loads(c) for c in CAUSES]),
        },
    )


def fill_cases(conn: sqlite3.Connection, week: IsoWeek) -> None:
    """A case for every 20th review of the week: contacted/resolved early, late or not at all."""
    lo, hi = week.db_bounds(ZONE)
    conn.execute(
        """
        INSERT INTO cases (customer_id, priority, status, risk, opened_at, updated_at, sla_started_at,
                           first_contact_due, resolution_due, first_contacted_at, resolved_at)
        SELECT 'case-' || id, 'P2', CASE WHEN id % 3 = 0 THEN 'resolved' ELSE 'contacted' END, 0.8,
               created_at, created_at, created_at,
               strftime('%Y-%m-%dT%H:%M:%S', created_at, '+8 hours') || '.000000+00:00',
               strftime('%Y-%m-%dT%H:%M:%S', created_at, '+48 hours') || '.000000+00:00',
               strftime('%Y-%m-%dT%H:%M:%S', created_at, '+' || (id % 600) || ' minutes') || '.000000+00:00',
               CASE WHEN id % 3 = 0
                    THEN strftime('%Y-%m-%dT%H:%M:%S', created_at, '+' || (id % 72) || ' hours') || '.000000+00:00'
               END
        FROM reviews WHERE created_at >= ? AND created_at < ? AND id % 20 = 0
        """,
        (lo, hi),
    )


def build(path: Path, reviews: int, history: int) -> None:
    conn = open_db(path)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    next_id = 1
    for back in range(11, 0, -1):
        fill_week(conn, WEEK.minus(back), history, next_id)
        next_id += history
    fill_week(conn, WEEK, reviews, next_id)
    fill_cases(conn, WEEK)
    conn.execute("COMMIT")
    conn.close()


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def naive_in_python(conn: sqlite3.Connection, lo: str, hi: str) -> dict:
    rows = conn.execute(
        "SELECT sentiment, rating, causes, category, product_id FROM reviews WHERE created_at >= ? AND created_at < ?",
        (lo, hi),
    ).fetchall()
    negative = sum(r[0] == "negative" for r in rows)
    rated = [r[1] for r in rows if r[1] is not None]
    causes = Counter(c for r in rows if r[2] for c in set(json.loads(r[2])))
    categories = Counter(r[3] for r in rows)
    products = Counter(r[4] for r in rows if r[0] == "negative")
    return {"reviews": len(rows), "negative": negative, "rated": len(rated), "causes": causes,
            "categories": len(categories), "top": products.most_common(10)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--reviews", type=int, default=1_000_000, help="reviews in the reported week")
    parser.add_argument("--history", type=int, default=100_000, help="reviews in each of the 11 earlier weeks")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument("--db", type=Path, help="database file to build (default: a temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        if path.exists():
            print(f"refusing to overwrite {path}", file=sys.stderr)
            return 2
        t0 = time.perf_counter()
        build(path, args.reviews, args.history)
        build_s = time.perf_counter() - t0

        conn = open_db(path)
        lo, hi = WEEK.db_bounds(ZONE)
        report_s, report = timed(lambda: build_weekly(conn, WEEK, TZ), args.repeat)
        count_s, count = timed(
            lambda: conn.execute("SELECT COUNT(*) FROM reviews WHERE created_at >= ? AND created_at < ?",
                                 (lo, hi)).fetchone()[0],
            args.repeat,
        )
        one_pass_s, _ = timed(
            lambda: conn.execute(
                """SELECT COUNT(*), SUM(sentiment = 'negative'), SUM(rating <= 2), COUNT(DISTINCT category)
                   FROM reviews WHERE created_at >= ? AND created_at < ?""",
                (lo, hi),
            ).fetchone(),
            args.repeat,
        )
        naive_s, naive = timed(lambda: naive_in_python(conn, lo, hi), args.repeat)
        # The planner's choices change once statistics exist; the report must stay fast either way.
        conn.execute("ANALYZE")
        analyzed_s, _ = timed(lambda: build_weekly(conn, WEEK, TZ), args.repeat)
        conn.close()

        assert report["reviews"] == count == naive["reviews"] == args.reviews, (report["reviews"], count)
        assert report["negative"] == naive["negative"]
        assert report["by_cause"] == {c: naive["causes"].get(c, 0) for c in report["by_cause"]}

        size_mb = path.stat().st_size / 1e6
        total = args.reviews + 11 * args.history
        print(f"Weekly report benchmark: {args.reviews:,} reviews in {WEEK} ({total:,} in the database, "
              f"{report['cases']['opened']:,} cases), SQLite {sqlite3.sqlite_version}, "
              f"{size_mb:,.0f} MB file, built in {build_s:.1f} s; median of {args.repeat} runs.\n")
        print("| measurement | seconds | × full report |")
        print("|---|---:|---:|")
        for name, seconds in (
            ("full weekly report (`build_weekly`)", report_s),
            ("full weekly report after `ANALYZE`", analyzed_s),
            ("baseline A: `SELECT COUNT(*)` over the week", count_s),
            ("baseline B: one aggregate pass over the week's rows", one_pass_s),
            ("baseline C: fetch the week's rows into Python and count", naive_s),
        ):
            print(f"| {name} | {seconds:.3f} | {seconds / report_s:.2f} |")
        print(f"\nnegative_rate {report['negative_rate']:.4f}, rating_negative_rate "
              f"{report['rating_negative_rate']:.4f}, median minutes to first contact "
              f"{report['cases']['median_minutes_to_first_contact']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
