"""Standing property tests of webhook validation (hypothesis), bounded to stay in the fast tier.

- No body of the review schema's shape, whatever its values, gets a 5xx.
- Whatever the webhook accepts reads back through `GET /api/v1/reviews/<platform>/<review_id>`,
  with the values validation promised to store.
- Nothing of a refused body is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import sqlite3
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from triage.config import Settings
from triage.timeutil import parse_rfc3339, utcnow
from triage.validation import FIELDS, validate_batch, validate_review

URL = "/api/v1/webhooks/reviews"
SECRET = "property-secret"
FAST = settings(
    deadline=None,
    database=None,  # no .hypothesis/ directory in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies ---------------------------------------------------------------------------------

# Characters that have broken things before or sit on a rule's edge, mixed with any code point
# (surrogates included: JSON can carry them as \ud800 escapes).
SPECIAL = "\x00\x07\x1b\x7f\x85\u200b\u200d\ufeff\u202e\u2028\u3000\u3164 \t\r\n/.%?#\\:+-TZ\ud800\udfff\u0301"
chars = st.one_of(st.characters(exclude_categories=()), st.sampled_from(SPECIAL))
any_text = st.text(chars, max_size=12)
plain_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,10}", fullmatch=True)
wrong_types = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(),  # NaN and ±Infinity too: json.dumps writes them, the webhook must refuse them
    st.booleans(),
    st.lists(st.integers(0, 9), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(0, 9), max_size=2),
)


def offset_times(min_year: int = 1, max_year: int = 9999) -> st.SearchStrategy[str]:
    naive = st.datetimes(dt.datetime(min_year, 1, 1), dt.datetime(max_year, 12, 31, 23, 59, 59))
    offsets = st.integers(-14 * 60, 14 * 60)
    return st.builds(
        lambda moment, minutes: moment.isoformat(timespec="seconds")
        + f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
        naive,
        offsets,
    )


REQUIRED = ("review_id", "text", "customer_id", "product_id")
GOOD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "review_id": st.one_of(plain_ids, plain_ids.map(lambda s: f"{s}/{s}"), st.text(min_size=1, max_size=12)),
    "platform": st.sampled_from(["tb", "TB ", " Tb", "ＴＢ", "jd", "天猫", "Pdd-2", "default"]),
    "text": st.one_of(st.sampled_from(["物流太慢了", "质量很好，推荐", " 差评\u200b ", "不错❤️"]), st.text(min_size=1, max_size=30)),
    "rating": st.one_of(st.integers(1, 5), st.just(4.0)),
    "customer_id": plain_ids,
    "customer_name": st.sampled_from(["张三", " 李四 ", "O'Brien"]),
    "customer_ltv": st.one_of(st.integers(0, 10**6), st.floats(0, 1e9)),
    "product_id": plain_ids,
    "product_name": st.text(max_size=10),
    "category": st.sampled_from(["家居", "数码", " 食品 "]),
    "order_id": plain_ids,
    "created_at": st.one_of(offset_times(2000, 2026), st.just("2026-11-26t13:05:00.123456789z")),
}
HOSTILE_VALUES = st.one_of(
    wrong_types,
    st.none(),
    any_text,
    offset_times(),
    st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2026-06-30T23:59:60Z",
                     "2026-11-26T13:05:00", "a/b", ".", "..", "/r", "", " ", "\x00", "\u200b", "\ud800"]),
)


@st.composite
def review_objects(draw) -> dict[str, Any]:
    """A JSON object of the review schema's shape: the contract's fields with plausible values
    (optional ones present or not), then often one to three fields replaced by anything at all
    (a wrong type, null, any code points, an edge time) or dropped; sometimes an unknown field."""
    raw: dict[str, Any] = {name: draw(GOOD_VALUES[name]) for name in FIELDS if name in REQUIRED or draw(st.booleans())}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        if draw(st.integers(0, 9)) == 0:
            raw.pop(name, None)
        else:
            raw[name] = draw(HOSTILE_VALUES)
    if draw(st.integers(0, 9)) == 0:
        raw[draw(st.text(max_size=5))] = draw(HOSTILE_VALUES)
    return raw


bodies = st.one_of(review_objects(), st.builds(lambda items: {"reviews": items}, st.lists(review_objects(), max_size=3)))


# -- the app --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from triage.db import open_db
    from triage.tokens import create_token
    from web import create_app

    tmp = tmp_path_factory.mktemp("properties")
    config = Settings.from_env(
        {"TRIAGE_DB": str(tmp / "t.db"), "TRIAGE_WEBHOOK_SECRET": SECRET, "TRIAGE_SECRET_KEY": "k"},
        var_dir=tmp / "var",
    )
    app = create_app(config)
    app.testing = False  # an unexpected exception is a 500 response, which the properties forbid
    conn = open_db(config.db_path)
    token = create_token(conn, "properties")[1]
    yield app.test_client(), conn, {"Authorization": f"Bearer {token}"}
    conn.close()


def post(client, payload: Any):
    body = json.dumps(payload).encode()  # ASCII: surrogates travel as \\ud800 escapes
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Triage-Timestamp": ts, "X-Triage-Signature": f"sha256={digest}"}
    return client.post(URL, data=body, headers=headers)


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM reviews").fetchone()[0]


def read_back(client, auth, platform: str, review_id: str, safe: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/reviews/{quote(platform, safe='')}/{quote(review_id, safe=safe)}", headers=auth)
    assert response.status_code == 200, (platform, review_id, response.get_data(as_text=True)[:300])
    return response.get_json()


# -- properties -----------------------------------------------------------------------------------


@pytest.mark.slow
@settings(FAST, max_examples=100)
@given(raw=st.one_of(review_objects(), wrong_types, any_text, st.none()))
def test_validation_never_raises_it_accepts_or_lists_problems(raw):
    review, problems = validate_review(raw, 0, now=utcnow())
    assert (review is None) == bool(problems)
    for item in problems:
        assert set(item) == {"index", "field", "message"} and item["field"] in (*FIELDS, None)
        item["message"].encode("utf-8")  # every message can be sent


@pytest.mark.slow
@settings(FAST, max_examples=50)
@given(payload=bodies)
def test_no_body_of_the_schemas_shape_gets_a_5xx_and_what_is_accepted_reads_back(env, payload):
    client, conn, auth = env
    before = count(conn)
    response = post(client, payload)
    event(f"status {response.status_code}")
    assert response.status_code in (202, 400, 422), response.get_data(as_text=True)[:500]
    answer = response.get_json()
    if response.status_code != 202:
        assert count(conn) == before, "a refused body stored something"
        if response.status_code == 422:
            assert answer["error"] == "invalid_reviews" and answer["items"]
        return
    raws = payload["reviews"] if "reviews" in payload else [payload]
    expected = validate_batch(raws, now=utcnow())
    assert [(r["platform"], r["review_id"]) for r in answer["reviews"]] == [(e.platform, e.review_id) for e in expected]
    assert count(conn) == before + answer["accepted"]
    for outcome, review in zip(answer["reviews"], expected, strict=True):
        stored = read_back(client, auth, review.platform, review.review_id)
        assert (stored["platform"], stored["review_id"]) == (review.platform, review.review_id)
        if outcome["status"] != "accepted":
            continue  # a duplicate of an earlier example: the first version stays
        assert (stored["text"], stored["rating"], stored["customer_id"], stored["product_id"], stored["order_id"]) == (
            review.text, review.rating, review.customer_id, review.product_id, review.order_id
        )
        if review.created_at is not None:
            assert parse_rfc3339(stored["created_at"]) == review.created_at.replace(microsecond=0)


@pytest.mark.slow
@settings(FAST, max_examples=50)
@given(platform=st.one_of(GOOD_VALUES["platform"], any_text), review_id=st.one_of(GOOD_VALUES["review_id"], any_text))
def test_every_accepted_platform_and_review_id_reads_back_however_the_path_is_encoded(env, platform, review_id):
    client, _, auth = env
    response = post(client, {"platform": platform, "review_id": review_id, "text": "还行", "customer_id": "c",
                             "product_id": "p"})
    event(f"status {response.status_code}")
    assert response.status_code in (202, 422), response.get_data(as_text=True)[:500]
    if response.status_code == 422:
        assert {item["field"] for item in response.get_json()["items"]} <= {"platform", "review_id"}
        return
    [outcome] = response.get_json()["reviews"]
    for safe in ("", "/"):  # '/' percent-encoded, and left as the path separator the URL template shows
        stored = read_back(client, auth, outcome["platform"], outcome["review_id"], safe)
        assert (stored["platform"], stored["review_id"]) == (outcome["platform"], outcome["review_id"])
