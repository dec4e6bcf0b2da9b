"""Demo data for a fresh database: hand-written reviews (`demo_data/reviews.json`) and a
supervisor login for `make run`.

Only a database with no reviews and no agents is touched, so real data is never mixed with demo
data. The reviews go through `triage.ingest` like any webhook delivery and are scored by the
workers. Only `make run` loads it (`triage serve --demo`). The demo password is random and is
shown once, by the start that created it; it is kept nowhere but as the agent's password hash
(`triage agent passwd demo` sets a new one).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from dataclasses import dataclass
from importlib import resources
from typing import Any

from triage.timeutil import utcnow

__all__ = ["DEMO_REVIEWS", "DEMO_USERNAME", "DemoLogin", "demo_reviews", "load_demo"]

DEMO_USERNAME = "demo"
DEMO_ROLE = "supervisor"

# Hand-written reviews (platform, customer, product, rating, text, and how many days before
# loading each was written), kept as data beside this module.
DEMO_REVIEWS: tuple[dict[str, Any], ...] = tuple(
    json.loads(resources.files(__package__).joinpath("demo_data").joinpath("reviews.json").read_text("utf-8"))
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


def demo_reviews(now: dt.datetime | None = None) -> list[dict]:
    """The demo reviews as webhook review objects, their times relative to `now`."""
    now = now or utcnow()
    out = []
    for i, demo in enumerate(DEMO_REVIEWS, start=1):
        review = {
            "review_id": f"demo-{i:03d}",
            "platform": demo["platform"],
            "text": demo["text"],
            "customer_id": demo["customer_id"],
            "customer_name": demo["customer_name"],
            "product_id": demo["product_id"],
            "product_name": demo["product_name"],
            "category": demo["category"],
            "order_id": f"demo-order-{i:03d}",
            "created_at": (now - dt.timedelta(days=demo["days_ago"])).isoformat(timespec="seconds"),
        }
        if demo["rating"] is not None:
            review["rating"] = demo["rating"]
        if demo["customer_ltv"] is not None:
            review["customer_ltv"] = demo["customer_ltv"]
        out.append(review)
    return out


def _is_fresh(conn: sqlite3.Connection) -> bool:
    return (conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0
            and conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0] == 0)


def load_demo(conn: sqlite3.Connection, var_dir: object = None, now: dt.datetime | None = None) -> DemoLogin | None:
    """Fill a fresh database with the demo reviews and agent; the demo login when it was created
    now (to be shown once), else None. `var_dir` is no longer used (nothing is kept there)."""
    from triage.agents import add_agent
    from triage.ingest import ingest
    from triage.validation import validate_batch

    if not _is_fresh(conn):
        return None
    now = now or utcnow()
    ingest(conn, validate_batch(demo_reviews(now)), now)
    login = DemoLogin(DEMO_USERNAME, secrets.token_urlsafe(9), DEMO_ROLE)
    add_agent(conn, login.username, login.password, login.role, display_name="演示主管")
    return login
