"""Demo data for a fresh database: hand-written reviews (`demo_data/reviews.json`) and a
supervisor login for `make run`.

Only a database with no reviews and no agents is touched, so real data is never mixed with demo
data. The reviews go through `triage.ingest` like any webhook delivery and are scored by the
workers. The demo password is random, kept in var/demo_login (mode 0600) so later starts can
print it again, and stops being printed once the agent is gone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from triage.timeutil import utcnow

__all__ = ["DEMO_REVIEWS", "DEMO_USERNAME", "DemoLogin", "demo_reviews", "load_demo"]

DEMO_USERNAME = "demo"
DEMO_ROLE = "supervisor"
_LOGIN_FILE = "demo_login"

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


def _saved_login(conn: sqlite3.Connection, var_dir: Path) -> DemoLogin | None:
    path = var_dir / _LOGIN_FILE
    if not path.exists():
        return None
    try:
        login = DemoLogin(**json.loads(path.read_text("utf-8")))
    except (ValueError, TypeError):
        return None
    found = conn.execute("SELECT 1 FROM agents WHERE username = ? AND active = 1", (login.username,)).fetchone()
    return login if found else None


def load_demo(conn: sqlite3.Connection, var_dir: Path | str, now: dt.datetime | None = None) -> DemoLogin | None:
    """Fill a fresh database with the demo reviews and agent; the demo login (also on later
    starts, while the demo agent exists), or None."""
    from triage.agents import add_agent
    from triage.ingest import ingest
    from triage.validation import validate_batch

    var_dir = Path(var_dir)
    if not _is_fresh(conn):
        return _saved_login(conn, var_dir)
    now = now or utcnow()
    ingest(conn, validate_batch(demo_reviews(now)), now)
    login = DemoLogin(DEMO_USERNAME, secrets.token_urlsafe(9), DEMO_ROLE)
    add_agent(conn, login.username, login.password, login.role, display_name="演示主管")
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / _LOGIN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(login.__dict__, fh)
    return login
