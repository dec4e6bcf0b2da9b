"""Demo data for `make run` (`triage serve --demo`): a shop six weeks into using the product.

A fresh database (no reviews, no agents) gets:

* a few hundred reviews: the hand-written ones in `demo_data/reviews.json`, plus reviews composed
  from the hand-written sentences in `demo_data/pieces.json` (several categories and platforms,
  every complaint cause, safety complaints, a few top-10% customers, some 追评 that revise a bad
  review upward), spread over six weeks and scored at the time they arrived, so cases open and
  age as they would have;
* two runs of one complaint on one product in the last two days (`demo_data/spikes.json`: 色差 on a
  dress, 漏液 on a serum), which the alert detection — run after each scored batch, as the
  database worker does — opens as product alerts (差评预警) on /alerts;
* a team: a supervisor and agents on a day shift (白班, 09:00-21:00) and a night shift (夜班), with a
  history of handled cases (claims, contacts on 企业微信 and the phone, resolutions with the
  customer's satisfaction, unreachable customers, some 已改评), while the last day's cases wait in
  the queue;
* the reply handbook (客服应答手册) in Chinese.

The logins of one supervisor and one agent are returned once, when they are created (serve prints
them); the passwords are random and stored only hashed. A database that already has reviews or
agents is never touched, so real data is never mixed with demo data. Everything is deterministic
(a fixed seed) except the passwords and the instant "now".
"""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from triage.timeutil import utcnow

__all__ = ["DEMO_REVIEWS", "DEMO_USERNAME", "DemoLogin", "DemoLogins", "demo_reviews", "load_demo"]

DEMO_USERNAME = "demo"
DEMO_ROLE = "supervisor"
DEMO_ZONE = ZoneInfo("Asia/Shanghai")
DAYS = 42
SEED = 20260611


def _data(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath("demo_data").joinpath(name).read_text("utf-8"))


# Hand-written reviews (platform, customer, product, rating, text, how many days before loading).
DEMO_REVIEWS: tuple[dict[str, Any], ...] = tuple(_data("reviews.json"))
PIECES: dict[str, Any] = _data("pieces.json")
SPIKES: list[dict[str, Any]] = _data("spikes.json")["runs"]

# username, role, display name, shift. The first supervisor and the first agent are printed.
TEAM: tuple[tuple[str, str, str, str], ...] = (
    (DEMO_USERNAME, "supervisor", "周主管", "白班"),
    ("xiaomei", "agent", "李小美", "白班"),
    ("dawei", "agent", "王大伟", "白班"),
    ("tingting", "agent", "赵婷婷", "白班"),
    ("ajie", "agent", "陈阿杰", "夜班"),
    ("lanlan", "agent", "林兰兰", "夜班"),
    ("laoma", "supervisor", "马组长", "夜班"),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


@dataclass(frozen=True)
class DemoLogins:
    supervisor: DemoLogin
    agent: DemoLogin

    # `serve` prints `login.username / login.password (login.role)`; the supervisor comes first.
    @property
    def username(self) -> str:
        return self.supervisor.username

    @property
    def password(self) -> str:
        return self.supervisor.password

    @property
    def role(self) -> str:
        return self.supervisor.role

    def __iter__(self) -> Iterator[DemoLogin]:
        return iter((self.supervisor, self.agent))


# --------------------------------------------------------------------------------------------
# Reviews


def _handwritten(now: dt.datetime) -> list[dict[str, Any]]:
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


_TAILS = ("", "", "太失望了。", "要求退货！", "希望商家给个说法。", "再也不会买了。", "请尽快处理。")


def _customers(rng: random.Random) -> list[dict[str, Any]]:
    surnames, nicks = PIECES["surnames"], PIECES["nicknames"]
    customers = []
    for i in range(150):
        if rng.random() < 0.6:
            name = rng.choice(surnames) + rng.choice(("女士", "先生", "小姐", "同学"))
        else:
            name = rng.choice(nicks) + (str(rng.randint(1, 99)) if rng.random() < 0.5 else "")
        top = i % 10 == 0  # about one in ten brings most of the money
        ltv = round(rng.uniform(9000, 60000) if top else rng.lognormvariate(6.3, 0.9), 0)
        platform = rng.choice(PIECES["platforms"])
        customers.append({"id": f"{platform[:2]}-c{i + 1:04d}", "name": name, "ltv": ltv, "platform": platform})
    return customers


def _compose(rng: random.Random, kind: str, product: dict[str, Any]) -> tuple[str, int]:
    category = product["category"]
    if kind == "positive":
        return rng.choice(PIECES["positive"]), rng.choice((5, 5, 5, 4))
    if kind == "lukewarm":
        return rng.choice(PIECES["lukewarm"]), 3
    if kind == "safety":
        return rng.choice(PIECES["safety"]), 1
    if kind == "logistics":
        text = rng.choice(PIECES["logistics"])
    elif kind == "defect":
        text = rng.choice(PIECES["defect"].get(category) or PIECES["defect"]["家用电器"])
    elif kind == "description_mismatch":
        text = rng.choice(PIECES["description_mismatch"].get(category) or PIECES["description_mismatch"]["服装"])
    elif kind == "mixed":
        text = (rng.choice(PIECES["logistics"])
                + rng.choice(PIECES["defect"].get(category) or PIECES["defect"]["家用电器"]))
    else:
        text = rng.choice(PIECES["other"])
    rating = rng.choice((1, 1, 2, 2, 3))
    if rng.random() < 0.08:  # stars say happy, the words do not
        rating = 5
        text = "东西本身还可以，但是" + text
    return text + rng.choice(_TAILS), rating


_KINDS = (("positive", 42), ("lukewarm", 5), ("logistics", 16), ("defect", 15), ("description_mismatch", 10),
          ("other", 5), ("mixed", 4), ("safety", 3))


def _composed(now: dt.datetime, rng: random.Random) -> list[dict[str, Any]]:
    products = PIECES["products"]
    kinds = [k for k, _ in _KINDS]
    weights = [w for _, w in _KINDS]
    out = []
    n = 0
    for customer in _customers(rng):
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            n += 1
            product = rng.choice(products)
            kind = rng.choices(kinds, weights)[0]
            text, rating = _compose(rng, kind, product)
            # More reviews lately (the shop grows), none in the future.
            days_ago = DAYS * (rng.random() ** 1.4)
            out.append(_review(rng, f"gen-{n:04d}", customer["platform"], text, rating, customer["id"],
                               customer["name"], customer["ltv"], product, now - dt.timedelta(days=days_ago)))
    return out


def _review(rng: random.Random, review_id: str, platform: str, text: str, rating: int, customer_id: str,
            customer_name: str, customer_ltv: float, product: dict[str, Any], created_at: dt.datetime) -> dict[str, Any]:
    """A webhook review object of the demo shop (its order id drawn from `rng`)."""
    return {
        "review_id": review_id,
        "platform": platform,
        "text": text,
        "rating": rating,
        "customer_id": customer_id,
        "customer_name": customer_name,
        "customer_ltv": customer_ltv,
        "product_id": product["id"],
        "product_name": product["name"],
        "category": product["category"],
        "order_id": f"{rng.randint(10**15, 10**16 - 1)}",
        "created_at": created_at.isoformat(timespec="seconds"),
    }


def _spikes(now: dt.datetime, rng: random.Random) -> list[dict[str, Any]]:
    """Each run's complaints from different customers, spread over its hours on one product."""
    products = {p["id"]: p for p in PIECES["products"]}
    surnames = PIECES["surnames"]
    out = []
    for r, run in enumerate(SPIKES, start=1):
        product = products[run["product_id"]]
        first, last = run["first_hours_ago"], run["last_hours_ago"]
        texts = run["texts"]
        for i, text in enumerate(texts):
            hours_ago = first - (first - last) * i / max(len(texts) - 1, 1) + rng.uniform(-0.4, 0.4)
            platform = rng.choice(PIECES["platforms"])
            out.append(_review(rng, f"run{r}-{i + 1:02d}", platform, text, rng.choice((1, 1, 2)),
                               f"{platform[:2]}-r{r}{i + 1:02d}",
                               rng.choice(surnames) + rng.choice(("女士", "先生", "小姐")),
                               round(rng.lognormvariate(6.3, 0.9), 0), product,
                               now - dt.timedelta(hours=hours_ago)))
    return out


def demo_reviews(now: dt.datetime | None = None) -> list[dict]:
    """The demo reviews as webhook review objects, oldest first, their times relative to `now`."""
    now = now or utcnow()
    rng = random.Random(SEED)
    reviews = _handwritten(now) + _composed(now, rng) + _spikes(now, rng)
    return sorted(reviews, key=lambda r: r["created_at"])


# --------------------------------------------------------------------------------------------
# Loading


def _is_fresh(conn: sqlite3.Connection) -> bool:
    return (conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0
            and conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0] == 0)


def _db_path(conn: sqlite3.Connection) -> Path:
    return Path(conn.execute("PRAGMA database_list").fetchone()[2])


def _score_pending(conn: sqlite3.Connection, now: dt.datetime, policy: Any) -> None:
    """Score what is pending and apply it as the db worker would have at `now`."""
    from triage.apply import apply_results, cached_ltv_threshold
    from triage.jobs.scoring import score_items

    items = [(r["id"], r["text"]) for r in conn.execute("SELECT id, text FROM reviews WHERE status = 'pending'")]
    if not items:
        return
    threshold = cached_ltv_threshold(conn, _db_path(conn), max_age=0)
    apply_results(conn, score_items(items), now=now, policy=policy, ltv_threshold=threshold)


def _window(created_at: str) -> str:
    """The 4-hour window a review arrives in (a batch the worker would have scored together)."""
    moment = dt.datetime.fromisoformat(created_at)
    return f"{moment:%Y-%m-%d}T{moment.hour // 4:02d}"


# What ops wrote when they resolved an older alert in the demo's history, by cause.
_ALERT_FIXES = {
    "logistics": ("logistics_changed", "这个仓换了快递，已跟进"),
    "defect": ("supplier_qc", "已联系供应商抽检这一批"),
    "description_mismatch": ("listing_fixed", "详情页换了实拍图，补充了色差和尺码说明"),
    "other": ("other", "已查看，先观察"),
}


def _resolve_old_alerts(conn: sqlite3.Connection, at: dt.datetime, now: dt.datetime) -> None:
    """Ops resolve each alert half a day to two days after it opened; the last two days' alerts are
    still open when the demo starts (the ones a newcomer sees on /alerts)."""
    from triage.alerts.store import act
    from triage.timeutil import from_db

    for alert_id, opened_at, cause in conn.execute(
        "SELECT id, opened_at, cause FROM alerts WHERE status != 'resolved' ORDER BY id"
    ).fetchall():
        opened = from_db(opened_at)
        if opened >= now - dt.timedelta(days=2):
            continue
        due = opened + dt.timedelta(hours=12 + (alert_id * 7919) % 36)
        if due <= at:
            resolution, note = _ALERT_FIXES[cause]
            act(conn, alert_id, "resolve", actor=DEMO_USERNAME, now=due, resolution=resolution, note=note)


def _ingest_over_time(conn: sqlite3.Connection, reviews: list[dict[str, Any]], policy: Any,
                      now: dt.datetime | None = None) -> None:
    """Each day's reviews arrive, are scored and open or join cases at that day's time; ops resolve
    the product alerts of the days before."""
    from triage.alerts.store import detect
    from triage.ingest import ingest
    from triage.validation import validate_batch

    by_window: dict[str, list[dict[str, Any]]] = {}
    for review in reviews:
        by_window.setdefault(_window(review["created_at"]), []).append(review)
    for window in sorted(by_window):
        batch = by_window[window]
        arrived = max(dt.datetime.fromisoformat(r["created_at"]) for r in batch) + dt.timedelta(minutes=3)
        ingest(conn, validate_batch(batch), arrived)
        _score_pending(conn, arrived + dt.timedelta(minutes=2), policy)
        if now is not None:
            # Product alerts, as the detection job after an apply (no webhooks in the demo).
            detect(conn, arrived + dt.timedelta(minutes=2))
            _resolve_old_alerts(conn, arrived + dt.timedelta(minutes=2), now)


def _on_shift(team: list[tuple[str, str, str, str]], moment: dt.datetime) -> list[str]:
    hour = moment.astimezone(DEMO_ZONE).hour
    shift = "白班" if 9 <= hour < 21 else "夜班"  # the default shift calendar (triage.shifts)
    return [u for u, role, _, s in team if role == "agent" and s == shift]


def _work_history(conn: sqlite3.Connection, now: dt.datetime, policy: Any, rng: random.Random) -> list[int]:
    """What the team did with the cases that arrived before today; returns the resolved cases'
    ids with a satisfied customer (candidates for a 追评)."""
    from triage.cases.actions import Actor, perform
    from triage.errors import TriageError
    from triage.timeutil import from_db

    happy: list[int] = []
    team = list(TEAM)
    cases = conn.execute("SELECT id, opened_at, priority FROM cases ORDER BY opened_at").fetchall()
    for case in cases:
        opened = from_db(case["opened_at"])
        age = now - opened
        if age < dt.timedelta(hours=30):
            continue  # today's work: the queue a newcomer sees
        t = opened + dt.timedelta(minutes=rng.randint(5, 50) if case["priority"] == "P1" else rng.randint(15, 240))
        agent = rng.choice(_on_shift(team, t))
        actor = Actor(agent, "agent")
        fate = rng.random()

        def act(action: str, fields: dict[str, Any], at: dt.datetime, who: Actor = actor,
                case_id: int = case["id"]) -> bool:
            if at >= now:
                return False
            version = conn.execute("SELECT version FROM cases WHERE id = ?", (case_id,)).fetchone()[0]
            try:
                perform(conn, case_id, who, action, fields, version=version, policy=policy, now=at)
            except TriageError:
                return False
            return True

        if not act("claim", {}, t):
            continue
        if fate < 0.10:  # unreachable
            act("contact", {"channel": "phone", "outcome": "no_answer"}, t + dt.timedelta(minutes=10))
            act("contact", {"channel": "wecom", "outcome": "no_answer", "note": "企业微信未通过好友申请"},
                t + dt.timedelta(hours=5))
            act("close", {"reason": "unreachable", "note": "两次联系未果"}, t + dt.timedelta(hours=30))
            continue
        channel = rng.choices(("wecom", "phone", "im", "sms"), (6, 3, 2, 1))[0]
        t += dt.timedelta(minutes=rng.randint(5, 90))
        act("contact", {"channel": channel, "outcome": rng.choice(("reached", "reached", "replied", "message_sent"))}, t)
        recent = age < dt.timedelta(days=3)  # older cases are done: only recent ones are still in hand
        if fate < 0.18 and recent:
            act("wait", {"note": "顾客说晚上回家拍照发过来"}, t + dt.timedelta(minutes=5))
            continue
        if recent and (fate < 0.30 or age < dt.timedelta(days=1, hours=12)):
            continue  # still being worked
        resolution = rng.choices(("refund", "replacement", "reship", "coupon", "explained", "other"),
                                 (4, 3, 2, 3, 3, 1))[0]
        satisfaction = rng.choices(("satisfied", "neutral", "unsatisfied", None), (6, 2, 1, 2))[0]
        fields = {"resolution": resolution, "note": rng.choice(("", "已按手册处理", "顾客接受方案"))}
        if satisfaction:
            fields["satisfaction"] = satisfaction
        if act("resolve", {k: v for k, v in fields.items() if v}, t + dt.timedelta(hours=rng.randint(1, 30))):
            if satisfaction == "satisfied":
                happy.append(case["id"])
    return happy


def _revise_upward(conn: sqlite3.Connection, case_ids: list[int], now: dt.datetime, policy: Any,
                   rng: random.Random) -> None:
    """Some satisfied customers come back with a 追评 that turns the review positive (已改评)."""
    from triage.ingest import ingest
    from triage.timeutil import from_db
    from triage.validation import validate_batch

    for case_id in case_ids[: max(len(case_ids) // 3, 1)]:
        row = conn.execute("SELECT * FROM reviews WHERE case_id = ? ORDER BY created_at DESC LIMIT 1",
                           (case_id,)).fetchone()
        resolved = conn.execute("SELECT resolved_at FROM cases WHERE id = ?", (case_id,)).fetchone()[0]
        if row is None or resolved is None:
            continue
        at = from_db(resolved) + dt.timedelta(hours=rng.randint(2, 20))
        if at >= now:
            continue
        review = {k: row[k] for k in ("review_id", "platform", "customer_id", "customer_name", "customer_ltv",
                                      "product_id", "product_name", "category", "order_id")}
        review = {k: v for k, v in review.items() if v is not None}
        # The customer edits the review: the complaint gives way to the outcome (已改评).
        review.update(text=rng.choice(PIECES["revised"]).removeprefix("追评："), rating=5,
                      created_at=row["created_at"])
        ingest(conn, validate_batch([review]), at)
        _score_pending(conn, at + dt.timedelta(minutes=2), policy)


def _handbook(conn: sqlite3.Connection, now: dt.datetime) -> None:
    from triage.handbook import save_reply

    for i, reply in enumerate(PIECES["handbook"]):
        save_reply(conn, cause=reply["cause"], title=reply["title"], body=reply["body"], author=DEMO_USERNAME,
                   now=now - dt.timedelta(days=DAYS + 1, minutes=-i))


def _team(conn: sqlite3.Connection) -> DemoLogins:
    from triage.agents import add_agent, set_shift

    logins: dict[str, DemoLogin] = {}
    for username, role, name, shift in TEAM:
        password = secrets.token_urlsafe(9)
        add_agent(conn, username, password, role, display_name=name)
        set_shift(conn, username, shift)
        logins.setdefault(role, DemoLogin(username, password, role))
    return DemoLogins(logins["supervisor"], logins["agent"])


def load_demo(conn: sqlite3.Connection, var_dir: Path | str | None = None, now: dt.datetime | None = None, *,
              policy: Any = None, progress: Callable[[str], None] | None = None) -> DemoLogins | None:
    """Fill a fresh database with the demo shop; the two printed logins, or None when the database
    was not fresh (they are shown only when created)."""
    from triage.sla import default_policy

    if not _is_fresh(conn):
        return None
    now = now or utcnow()
    policy = policy or default_policy(str(DEMO_ZONE))
    rng = random.Random(SEED)
    say = progress or (lambda _message: None)
    logins = _team(conn)
    _handbook(conn, now)
    reviews = demo_reviews(now)
    say(f"demo: scoring {len(reviews)} reviews written over {DAYS} days ...")
    _ingest_over_time(conn, reviews, policy, now)
    say("demo: replaying the team's work on older cases ...")
    happy = _work_history(conn, now, policy, rng)
    _revise_upward(conn, happy, now, policy, rng)
    from triage.alerts.store import detect

    detect(conn, now)  # the 追评 moved counts: the detection job runs after every apply
    _refresh_clocks(conn, now, policy)
    return logins


def _refresh_clocks(conn: sqlite3.Connection, now: dt.datetime, policy: Any) -> None:
    """Bring every active case's stored SLA states to `now` (the replay stored them as of its past)."""
    from triage.cases.store import refresh_sla
    from triage.db import transaction

    with transaction(conn):
        for (case_id,) in conn.execute(
            "SELECT id FROM cases WHERE status IN ('open', 'claimed', 'contacted', 'waiting_customer')"
        ).fetchall():
            refresh_sla(conn, case_id, now, policy)
