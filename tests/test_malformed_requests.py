"""Standing test: malformed webhook requests each get their 4xx with a clear message, never a 5xx,
and nothing is stored.

One table, one app for the module (in-process Flask client, no Redis), so it stays in the fast tier.
Add a row whenever a new kind of bad input is found.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from triage.config import Settings

URL = "/api/v1/webhooks/reviews"
SECRET = "malformed-secret"
GOOD = {"review_id": "r1", "text": "物流太慢了，等了两个星期", "customer_id": "c1", "product_id": "p1"}


def review(**overrides: Any) -> dict[str, Any]:
    return {k: v for k, v in {**GOOD, **overrides}.items() if v is not ...}


def encode(payload: Any) -> bytes:
    # ensure_ascii: lone surrogates travel as \\ud800 escapes, as a JavaScript or Java connector sends them.
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def signature(body: bytes, timestamp: str, secret: str = SECRET, prefix: str = "sha256=") -> str:
    return prefix + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    return {"Content-Type": "application/json", "X-Triage-Timestamp": ts, "X-Triage-Signature": signature(body, ts)}


Headers = Callable[[bytes], dict[str, str]]


def with_headers(**changes: str | None) -> Headers:
    """Signed headers with some replaced (None removes one)."""

    def make(body: bytes) -> dict[str, str]:
        headers = signed_headers(body)
        for name, value in changes.items():
            name = name.replace("_", "-")
            headers.pop(name, None)
            if value is not None:
                headers[name] = value
        return headers

    return make


def timestamped(offset: int, sign_as: int | None = None, secret: str = SECRET, prefix: str = "sha256=") -> Headers:
    def make(body: bytes) -> dict[str, str]:
        ts = str(int(time.time()) + offset)
        signed_ts = ts if sign_as is None else str(int(time.time()) + sign_as)
        return {
            "Content-Type": "application/json",
            "X-Triage-Timestamp": ts,
            "X-Triage-Signature": signature(body, signed_ts, secret, prefix),
        }

    return make


def signed_for(other_body: bytes) -> Headers:
    return lambda body: signed_headers(other_body) | {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Case:
    name: str
    payload: Any
    status: int = 422
    error: str = "invalid_reviews"
    field: str | None = None  # 422: the field an item must name
    says: str = ""  # a fragment the message (or an item's message) must hold
    headers: Headers = signed_headers
    method: str = "POST"


def field_case(name: str, field_name: str, says: str = "", **overrides: Any) -> Case:
    return Case(name, review(**overrides), field=field_name, says=says)


ONE_MIB = 1024 * 1024

CASES = [
    # -- not JSON (400) ---------------------------------------------------------------------
    Case("not JSON at all", b"review_id=r1&text=bad", 400, "invalid_json", says="not valid JSON"),
    Case("empty body", b"", 400, "invalid_json"),
    Case("truncated JSON", b'{"review_id": "r1", "text": "x"', 400, "invalid_json"),
    Case("trailing garbage", encode(GOOD) + b" x", 400, "invalid_json", says="Extra data"),
    Case("single-quoted keys", b"{'review_id': 'r1'}", 400, "invalid_json"),
    Case("NaN rating", encode(GOOD)[:-1] + b', "rating": NaN}', 400, "invalid_json", says="NaN"),
    Case("Infinity ltv", encode(GOOD)[:-1] + b', "customer_ltv": Infinity}', 400, "invalid_json", says="Infinity"),
    Case("-Infinity ltv", encode(GOOD)[:-1] + b', "customer_ltv": -Infinity}', 400, "invalid_json"),
    Case("not UTF-8 (GBK)", json.dumps(GOOD, ensure_ascii=False).encode("gbk"), 400, "invalid_json", says="UTF-8"),
    Case("UTF-16 body", json.dumps(GOOD).encode("utf-16"), 400, "invalid_json"),
    Case("surrogate as raw UTF-8 bytes", b'{"review_id": "r1", "text": "\xed\xa0\x80"}', 400, "invalid_json", says="UTF-8"),
    Case("byte order mark", b"\xef\xbb\xbf" + encode(GOOD), 400, "invalid_json", says="byte order mark"),
    Case("repeated key", b'{"review_id": "r1", "review_id": "r2", "text": "x", "customer_id": "c", "product_id": "p"}',
         400, "invalid_json", says="duplicate key"),
    Case("number of 5000 digits", encode(GOOD)[:-1] + b', "rating": ' + b"9" * 5000 + b"}", 400, "invalid_json",
         says="digits"),
    Case("nested 100000 deep", b"[" * 100_000 + b"]" * 100_000, 400, "invalid_json", says="nested"),
    # -- transport: media type, size, method ------------------------------------------------
    Case("text/plain", GOOD, 415, "unsupported_media_type", headers=with_headers(Content_Type="text/plain")),
    Case("no content type", GOOD, 415, "unsupported_media_type", headers=with_headers(Content_Type=None)),
    Case("form content type", GOOD, 415, "unsupported_media_type",
         headers=with_headers(Content_Type="application/x-www-form-urlencoded")),
    Case("body over 1 MiB", review(text="差" * (ONE_MIB // 3 + 10)), 413, "too_large"),
    Case("501 reviews", {"reviews": [review(review_id=f"r{i}") for i in range(501)]}, 413, "too_large", says="500"),
    Case("GET on the webhook", None, 405, "method_not_allowed", method="GET"),
    Case("PUT on the webhook", GOOD, 405, "method_not_allowed", method="PUT"),
    # -- signature and timestamp (401, body exactly {"error": ...}) -------------------------
    Case("no signature headers", GOOD, 401, "bad_signature",
         headers=with_headers(X_Triage_Timestamp=None, X_Triage_Signature=None)),
    Case("timestamp header only", GOOD, 401, "bad_signature", headers=with_headers(X_Triage_Signature=None)),
    Case("signature header only", GOOD, 401, "bad_signature", headers=with_headers(X_Triage_Timestamp=None)),
    Case("empty signature", GOOD, 401, "bad_signature", headers=with_headers(X_Triage_Signature="")),
    Case("wrong secret", GOOD, 401, "bad_signature", headers=timestamped(0, secret="guess")),
    Case("sha1= prefix", GOOD, 401, "bad_signature", headers=timestamped(0, prefix="sha1=")),
    Case("no sha256= prefix", GOOD, 401, "bad_signature", headers=timestamped(0, prefix="")),
    Case("truncated hex", GOOD, 401, "bad_signature", headers=with_headers(X_Triage_Signature="sha256=abcdef")),
    Case("signature over another body", GOOD, 401, "bad_signature", headers=signed_for(encode(review(text="好评")))),
    Case("signed with another timestamp", GOOD, 401, "bad_signature", headers=timestamped(0, sign_as=-1)),
    Case("timestamp in scientific notation", GOOD, 401, "bad_signature",
         headers=with_headers(X_Triage_Timestamp="1.7e9")),
    Case("stale timestamp", GOOD, 401, "stale_timestamp", headers=timestamped(-301)),
    Case("timestamp from the future", GOOD, 401, "stale_timestamp", headers=timestamped(+301)),
    # -- body shape (422, index null) -------------------------------------------------------
    Case("top-level array", [GOOD], field=None, says="review object"),
    Case("top-level string", "r1", field=None, says="review object"),
    Case("top-level null", None, field=None, says="review object"),
    Case("top-level number", 42, field=None, says="review object"),
    Case("reviews is an object", {"reviews": GOOD}, field="reviews", says="list"),
    Case("reviews is null", {"reviews": None}, field="reviews", says="list"),
    Case("empty batch", {"reviews": []}, field="reviews", says="at least one"),
    Case("batch of non-objects", {"reviews": [1, "r1", None, [GOOD]]}, field=None, says="JSON object"),
    Case("one bad review among good ones",
         {"reviews": [review(review_id="a"), review(review_id="b", text="\ud800"), review(review_id="c")]},
         field="text", says="surrogate"),
    # -- required fields --------------------------------------------------------------------
    field_case("review_id missing", "review_id", "required", review_id=...),
    field_case("text missing", "text", "required", text=...),
    field_case("customer_id missing", "customer_id", "required", customer_id=...),
    field_case("product_id missing", "product_id", "required", product_id=None),
    # -- lone surrogates, every string field ------------------------------------------------
    *[
        field_case(f"lone surrogate in {name}", name, "surrogate", **{name: value})
        for name, value in [
            ("text", "\ud800"),
            ("review_id", "\ud800"),
            ("customer_id", "c\udfff"),
            ("product_id", "\udbff"),
            ("platform", "tb\ud800"),
            ("customer_name", "张\ud800"),
            ("product_name", "\udc00杯"),
            ("category", "\ud83d"),
            ("order_id", "o\ude00"),
        ]
    ],
    # -- blank and invisible ----------------------------------------------------------------
    field_case("text of NULs", "text", "blank", text="\x00\x00\x00"),
    field_case("text of zero-width spaces", "text", "blank", text="\u200b\u200b\ufeff"),
    field_case("text of control characters", "text", "blank", text="\x01\x02\x1b"),
    field_case("text of whitespace", "text", "blank", text=" \t\n\u3000"),
    field_case("text of Hangul fillers", "text", "blank", text="\u3164\u3164"),
    field_case("NUL inside text", "text", "NUL", text="物流\x00太慢"),
    field_case("bell inside text", "text", "U+0007", text="物流\x07太慢"),
    field_case("NUL in customer_name", "customer_name", "NUL", customer_name="张三\x00"),
    field_case("blank review_id", "review_id", "blank", review_id="\u200b"),
    field_case("blank platform", "platform", "blank", platform="  "),
    # -- lengths ----------------------------------------------------------------------------
    field_case("text over 5000 after trimming", "text", "5000", text=" " + "差" * 5001 + " "),
    field_case("review_id of 129", "review_id", "128", review_id="r" * 129),
    field_case("customer_id of 300k", "customer_id", "128", customer_id="c" * 300_000),
    field_case("product_id of 900k", "product_id", "128", product_id="p" * 900_000),
    field_case("customer_name of 300k", "customer_name", "200", customer_name="n" * 300_000),
    field_case("product_name of 201", "product_name", "200", product_name="杯" * 201),
    field_case("category of 201", "category", "200", category="类" * 201),
    field_case("order_id of 129", "order_id", "128", order_id="o" * 129),
    field_case("platform of 33", "platform", "32", platform="p" * 33),
    # -- values that cannot read back -------------------------------------------------------
    field_case("platform with a slash", "platform", "letters", platform="a/b"),
    field_case("platform with a space", "platform", "letters", platform="t b"),
    field_case("platform '..'", "platform", "letters", platform=".."),
    field_case("review_id with a newline", "review_id", "U+000A", review_id="a\nb"),
    field_case("review_id with a tab", "review_id", "U+0009", review_id="a\tb"),
    field_case("review_id with a zero-width space", "review_id", "U+200B", review_id="a\u200bb"),
    field_case("review_id with a bidi override", "review_id", "U+202E", review_id="\u202eab"),
    field_case("review_id '..'", "review_id", "URL", review_id=".."),
    field_case("review_id with a leading slash", "review_id", "URL", review_id="/r1"),
    field_case("review_id with '//'", "review_id", "URL", review_id="a//b"),
    field_case("customer_id with a line separator", "customer_id", "U+2028", customer_id="c\u20281"),
    field_case("customer_name on two lines", "customer_name", "U+000A", customer_name="张\n三"),
    # -- created_at -------------------------------------------------------------------------
    field_case("created_at 9999 at -14:00", "created_at", "ahead", created_at="9999-12-31T23:59:59-14:00"),
    field_case("created_at 0001 at +14:00", "created_at", "before 2000", created_at="0001-01-01T00:00:00+14:00"),
    field_case("created_at in 2100", "created_at", "ahead", created_at="2100-01-01T00:00:00Z"),
    field_case("created_at two days ahead", "created_at", "ahead",
               created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2 * 86400))),
    field_case("created_at in 1999", "created_at", "before 2000", created_at="1999-12-31T23:59:59Z"),
    field_case("created_at without offset", "created_at", "RFC 3339", created_at="2026-11-26T13:05:00"),
    field_case("created_at date only", "created_at", "RFC 3339", created_at="2026-11-26"),
    field_case("created_at as a number", "created_at", "string", created_at=1764133500),
    field_case("created_at in words", "created_at", "RFC 3339", created_at="yesterday"),
    field_case("created_at leap second", "created_at", "valid", created_at="2026-06-30T23:59:60Z"),
    field_case("created_at 30 February", "created_at", "valid", created_at="2026-02-30T10:00:00+08:00"),
    field_case("created_at offset +24:00", "created_at", "valid", created_at="2026-11-26T13:05:00+24:00"),
    # -- wrong types ------------------------------------------------------------------------
    field_case("review_id as a number", "review_id", "string", review_id=12345),
    field_case("review_id as an array", "review_id", "string", review_id=["r1"]),
    field_case("text as an array", "text", "string", text=["物流太慢"]),
    field_case("text as an object", "text", "string", text={"zh": "物流太慢"}),
    field_case("text as true", "text", "string", text=True),
    field_case("customer_id as an array", "customer_id", "string", customer_id=["c1"]),
    field_case("product_id as an object", "product_id", "string", product_id={"id": "p1"}),
    field_case("platform as a number", "platform", "string", platform=7),
    field_case("customer_name as a number", "customer_name", "string", customer_name=42),
    field_case("category as an object", "category", "string", category={"name": "家居"}),
    field_case("order_id as an array", "order_id", "string", order_id=["o1"]),
    field_case("rating true", "rating", "integer", rating=True),
    field_case("rating false", "rating", "integer", rating=False),
    field_case("rating 4.5", "rating", "integer", rating=4.5),
    field_case("rating '5'", "rating", "integer", rating="5"),
    field_case("rating 0", "rating", "integer", rating=0),
    field_case("rating 6", "rating", "integer", rating=6),
    field_case("rating -1", "rating", "integer", rating=-1),
    field_case("rating 10**30", "rating", "integer", rating=10**30),
    field_case("rating as an array", "rating", "integer", rating=[5]),
    field_case("rating as an object", "rating", "integer", rating={"stars": 5}),
    Case("rating 1e400 (infinite)", encode(GOOD)[:-1] + b', "rating": 1e400}', field="rating", says="integer"),
    field_case("customer_ltv negative", "customer_ltv", "at least 0", customer_ltv=-0.01),
    field_case("customer_ltv as a string", "customer_ltv", "number", customer_ltv="1288"),
    field_case("customer_ltv true", "customer_ltv", "number", customer_ltv=True),
    field_case("customer_ltv of 400 digits", "customer_ltv", "number", customer_ltv=10**400),
    Case("customer_ltv 1e400 (infinite)", encode(GOOD)[:-1] + b', "customer_ltv": 1e400}', field="customer_ltv",
         says="number"),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from web import create_app

    tmp = tmp_path_factory.mktemp("malformed")
    settings = Settings.from_env(
        {"TRIAGE_DB": str(tmp / "t.db"), "TRIAGE_WEBHOOK_SECRET": SECRET, "TRIAGE_SECRET_KEY": "k"},
        var_dir=tmp / "var",
    )
    app = create_app(settings)
    # As in production: an unexpected exception becomes a 500 response here, not a test error,
    # so the assertion below reports it with the case's name.
    app.testing = False
    conn = sqlite3.connect(settings.db_path)
    yield app.test_client(), conn
    conn.close()


def stored(conn: sqlite3.Connection) -> tuple[int, int]:
    return conn.execute("SELECT (SELECT count(*) FROM reviews), (SELECT count(*) FROM customers)").fetchone()


def test_the_table_is_long_enough_and_its_names_are_unique():
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_malformed_request_gets_its_4xx_with_a_clear_message_and_stores_nothing(env, case):
    client, conn = env
    before = stored(conn)
    body = encode(case.payload) if case.method != "GET" else b""
    response = client.open(URL, method=case.method, data=body, headers=case.headers(body))

    assert response.status_code == case.status, response.get_data(as_text=True)[:500]
    assert response.is_json
    answer = response.get_json()
    assert answer["error"] == case.error
    if case.status == 401:
        assert answer == {"error": case.error}  # the contract's exact body: nothing for a guesser
    elif case.status == 422:
        assert answer["items"], "a 422 lists its problems"
        for item in answer["items"]:
            assert set(item) == {"index", "field", "message"} and item["message"]
        named = [item for item in answer["items"] if item["field"] == case.field]
        assert named, f"no item names {case.field!r}: {answer['items']}"
        assert any(case.says in item["message"] for item in named), answer["items"]
    else:
        assert answer.get("message"), "a refusal says why"
        assert case.says in answer["message"]
    assert stored(conn) == before, "a refused request stored something"
