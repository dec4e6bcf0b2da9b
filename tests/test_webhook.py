"""Specification of POST /api/v1/webhooks/reviews, the contract's signed review delivery."""

from __future__ import annotations

import io
import json
import sqlite3
import time

import pytest
from rq import Queue

from tests.conftest import sign
from triage.config import Settings
from triage.timeutil import from_db
from web import create_app

URL = "/api/v1/webhooks/reviews"


@pytest.fixture(autouse=True)
def _clean_redis(redis_conn):
    """Whatever the pipeline enqueues lands in the test Redis, emptied around each test."""
    return redis_conn


@pytest.fixture()
def post(client, signed):
    def send(payload, **kwargs):
        body, headers = signed(payload, **kwargs)
        return client.post(URL, data=body, headers=headers)

    return send


def stored_rows(settings) -> list[sqlite3.Row]:
    """The reviews table as another process sees it: a fresh connection, not the app's."""
    conn = sqlite3.connect(settings.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM reviews ORDER BY id").fetchall()
    finally:
        conn.close()


# -- accepted ---------------------------------------------------------------------------------


def test_one_review_is_accepted_with_202(post, make_review):
    response = post(make_review(review_id="r1", platform="taobao"))
    assert response.status_code == 202
    assert response.get_json() == {
        "accepted": 1,
        "duplicates": 0,
        "updated": 0,
        "reviews": [{"platform": "taobao", "review_id": "r1", "status": "accepted"}],
    }


def test_202_means_committed_before_the_response(post, make_review, settings):
    post(make_review(review_id="r1", text="  质量太差了  ", rating=1, customer_ltv=3200.5))
    [row] = stored_rows(settings)
    assert (row["platform"], row["review_id"], row["text"], row["rating"], row["customer_ltv"], row["status"]) == (
        "default",
        "r1",
        "质量太差了",
        1,
        3200.5,
        "pending",
    )


def test_missing_created_at_defaults_to_the_time_of_receipt(post, make_review, settings):
    post(make_review())
    [row] = stored_rows(settings)
    assert row["created_at"] == row["received_at"]
    assert abs(from_db(row["received_at"]).timestamp() - time.time()) < 60


def test_created_at_with_offset_is_stored_as_utc(post, make_review, settings):
    post(make_review(created_at="2026-11-26T08:30:00+08:00"))
    [row] = stored_rows(settings)
    assert row["created_at"] == "2026-11-26T00:30:00.000000+00:00"


def test_unknown_fields_are_ignored(post, make_review, settings):
    response = post(make_review(shop_name="旗舰店", images=["a.jpg"]))
    assert response.status_code == 202 and len(stored_rows(settings)) == 1


def test_batch_reports_each_review_in_input_order(post, make_review):
    response = post({"reviews": [make_review(review_id="b"), make_review(review_id="a", platform="jd")]})
    assert response.status_code == 202
    assert response.get_json()["reviews"] == [
        {"platform": "default", "review_id": "b", "status": "accepted"},
        {"platform": "jd", "review_id": "a", "status": "accepted"},
    ]


def test_the_customer_is_recorded(post, make_review, db):
    post(make_review(customer_id="c9", customer_name="李四", customer_ltv=88, created_at="2026-11-20T10:00:00Z"))
    customer = db.execute("SELECT * FROM customers WHERE customer_id = 'c9'").fetchone()
    assert (customer["name"], customer["ltv"], customer["first_seen_at"], customer["last_seen_at"]) == (
        "李四",
        88.0,
        "2026-11-20T10:00:00.000000+00:00",
        "2026-11-20T10:00:00.000000+00:00",
    )


def test_content_type_with_charset_is_accepted(client, signed, make_review):
    body, headers = signed(make_review())
    headers["Content-Type"] = "application/json; charset=utf-8"
    assert client.post(URL, data=body, headers=headers).status_code == 202


# -- duplicates -------------------------------------------------------------------------------


def test_redelivery_is_a_duplicate_and_nothing_is_stored_again(post, make_review, settings):
    post(make_review(review_id="r1", text="第一次"))
    before = [dict(r) for r in stored_rows(settings)]
    response = post(make_review(review_id="r1", text="第一次"))
    assert response.status_code == 202
    assert response.get_json() == {
        "accepted": 0,
        "duplicates": 1,
        "updated": 0,
        "reviews": [{"platform": "default", "review_id": "r1", "status": "duplicate"}],
    }
    assert [dict(r) for r in stored_rows(settings)] == before


def test_redelivery_does_not_touch_the_customer(post, make_review, db):
    post(make_review(review_id="r1", customer_name="张三", customer_ltv=10))
    post(make_review(review_id="r1", customer_name="改名", customer_ltv=99999))
    customer = db.execute("SELECT name, ltv FROM customers").fetchone()
    assert tuple(customer) == ("张三", 10.0)


def test_mixed_batch_of_new_and_redelivered_reviews(post, make_review, settings):
    post(make_review(review_id="old"))
    response = post({"reviews": [make_review(review_id="new1"), make_review(review_id="old"), make_review(review_id="new2")]})
    body = response.get_json()
    assert (body["accepted"], body["duplicates"]) == (2, 1)
    assert [r["status"] for r in body["reviews"]] == ["accepted", "duplicate", "accepted"]
    assert [r["review_id"] for r in stored_rows(settings)] == ["old", "new1", "new2"]


def test_an_identical_repeat_inside_one_batch_is_a_duplicate_of_the_first(post, make_review, settings):
    response = post({"reviews": [make_review(review_id="r1"), make_review(review_id="r1")]})
    body = response.get_json()
    assert (response.status_code, body["accepted"], body["duplicates"]) == (202, 1, 1)
    assert [r["status"] for r in body["reviews"]] == ["accepted", "duplicate"]
    assert len(stored_rows(settings)) == 1


def test_a_changed_repeat_inside_one_batch_is_refused_and_nothing_stored(post, make_review, settings):
    response = post({"reviews": [make_review(review_id="r1", text="先"), make_review(review_id="r1", text="后")]})
    assert response.status_code == 422
    [item] = response.get_json()["items"]
    assert (item["index"], item["field"]) == (1, "review_id") and "index 0" in item["message"]
    assert stored_rows(settings) == []


def test_the_same_review_id_on_another_platform_is_another_review(post, make_review, settings):
    post(make_review(review_id="r1", platform="taobao"))
    response = post(make_review(review_id="r1", platform="jd"))
    assert response.get_json()["accepted"] == 1 and len(stored_rows(settings)) == 2


# -- signature --------------------------------------------------------------------------------


def test_forged_signature_is_refused_and_nothing_stored(post, make_review, settings):
    response = post(make_review(), secret="not-the-secret")
    assert (response.status_code, response.get_json()) == (401, {"error": "bad_signature"})
    assert stored_rows(settings) == []


def test_missing_signature_headers_are_a_bad_signature(client, make_review):
    response = client.post(URL, json=make_review())
    assert (response.status_code, response.get_json()) == (401, {"error": "bad_signature"})


def test_a_body_changed_after_signing_is_refused(client, signed, make_review):
    body, headers = signed(make_review(review_id="r1"))
    tampered = body.replace(b'"r1"', b'"r2"')
    assert client.post(URL, data=tampered, headers=headers).get_json() == {"error": "bad_signature"}


@pytest.mark.parametrize("offset", [-301, 301], ids=["stale", "future"])
def test_a_timestamp_over_300_seconds_away_is_refused(post, make_review, settings, offset):
    response = post(make_review(), timestamp=int(time.time()) + offset)
    assert (response.status_code, response.get_json()) == (401, {"error": "stale_timestamp"})
    assert stored_rows(settings) == []


def test_a_timestamp_within_tolerance_is_accepted(post, make_review):
    assert post(make_review(), timestamp=int(time.time()) - 240).status_code == 202


@pytest.mark.parametrize("secret", ["new-secret", "old-secret"])
def test_every_configured_secret_is_accepted_during_rotation(tmp_path, signed, make_review, secret):
    settings = Settings.from_env(
        {
            "TRIAGE_DB": str(tmp_path / "rotate.db"),
            "TRIAGE_WEBHOOK_SECRET": "new-secret, old-secret",
            "TRIAGE_SECRET_KEY": "k",
        },
        var_dir=tmp_path / "var",
    )
    body, headers = signed(make_review(), secret=secret)
    assert create_app(settings).test_client().post(URL, data=body, headers=headers).status_code == 202


# -- refused requests -------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonp"])
def test_anything_but_json_is_unsupported_media_type(client, signed, make_review, content_type):
    body, headers = signed(make_review())
    del headers["Content-Type"]
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(URL, data=body, headers=headers)
    assert (response.status_code, response.get_json()["error"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    "body",
    [b'{"review_id": "r1",', b"", b"NaN", b'{"customer_ltv": Infinity}', "好".encode("gbk")],
    ids=["truncated", "empty", "nan", "infinity", "not-utf8"],
)
def test_a_body_that_is_not_json_is_invalid_json(client, make_review, body):
    response = client.post(URL, data=body, headers=sign(body))
    assert (response.status_code, response.get_json()["error"]) == (400, "invalid_json")
    assert response.get_json()["message"]


def test_a_body_over_1_mib_is_too_large(client, make_review):
    body = json.dumps(make_review(text="差" * 400_000), ensure_ascii=False).encode()
    assert len(body) > 1024 * 1024
    response = client.post(URL, data=body, headers=sign(body))
    assert (response.status_code, response.get_json()["error"]) == (413, "too_large")


def test_size_is_checked_before_the_signature(client):
    body = b" " * (1024 * 1024 + 1)
    response = client.post(URL, data=body, headers=sign(body, secret="forged"))
    assert response.status_code == 413


def test_a_body_of_exactly_1_mib_is_not_too_large(client, make_review):
    review = json.dumps(make_review(), ensure_ascii=False).encode()
    body = review + b" " * (1024 * 1024 - len(review))
    assert client.post(URL, data=body, headers=sign(body)).status_code == 202


def test_a_chunked_body_over_1_mib_is_too_large_without_content_length(client):
    body = b" " * (1024 * 1024 + 10)
    headers = {**sign(body), "Transfer-Encoding": "chunked"}
    response = client.post(URL, input_stream=io.BytesIO(body), headers=headers,
                           environ_overrides={"wsgi.input_terminated": True})
    assert (response.status_code, response.get_json()["error"]) == (413, "too_large")


def test_more_than_500_reviews_is_too_large(post, make_review, settings):
    response = post({"reviews": [make_review(review_id=str(i)) for i in range(501)]})
    assert (response.status_code, response.get_json()["error"]) == (413, "too_large")
    assert stored_rows(settings) == []


def test_invalid_batch_lists_every_bad_field_and_stores_nothing(post, make_review, settings):
    response = post(
        {
            "reviews": [
                make_review(review_id="good"),
                make_review(review_id="bad1", text=" ", rating=4.5),
                make_review(review_id="bad2", customer_id=...),
            ]
        }
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid_reviews"
    assert response.get_json()["items"] == [
        {"index": 1, "field": "text", "message": "must not be blank"},
        {"index": 1, "field": "rating", "message": "must be an integer from 1 to 5"},
        {"index": 2, "field": "customer_id", "message": "is required"},
    ]
    assert stored_rows(settings) == []


def test_an_invalid_single_review_is_reported_at_index_0(post, make_review):
    response = post(make_review(created_at="2026-11-26 08:30"))
    assert response.get_json()["items"] == [
        {
            "index": 0,
            "field": "created_at",
            "message": "must be RFC 3339 with a UTC offset, e.g. 2026-11-26T13:05:00+08:00",
        }
    ]


def test_a_number_too_big_for_a_float_is_invalid_not_a_crash(client, signed, make_review, settings):
    review = json.dumps(make_review(), ensure_ascii=False).encode()
    body, headers = signed(review[:-1] + b', "customer_ltv": 1' + b"0" * 400 + b"}")
    response = client.post(URL, data=body, headers=headers)
    assert (response.status_code, response.get_json()["items"]) == (
        422, [{"index": 0, "field": "customer_ltv", "message": "must be a number"}]
    )
    assert stored_rows(settings) == []


def test_a_json_body_of_the_wrong_shape_is_invalid_reviews(post, make_review):
    response = post([make_review()])
    assert (response.status_code, response.get_json()["error"]) == (422, "invalid_reviews")


def test_get_is_not_allowed_and_answered_in_json(client):
    response = client.get(URL)
    assert (response.status_code, response.get_json()["error"]) == (405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


# -- scoring hand-off -------------------------------------------------------------------------


def score_jobs(redis_conn) -> list:
    return Queue("score", connection=redis_conn).get_jobs()


def test_accepted_reviews_are_enqueued_for_scoring(post, make_review, settings, redis_conn):
    post({"reviews": [make_review(review_id="a"), make_review(review_id="b")]})
    rows = stored_rows(settings)
    assert all(r["enqueued_at"] is not None for r in rows)
    [job] = score_jobs(redis_conn)
    assert [pk for pk, _text in job.args[0]] == [r["id"] for r in rows]


def test_a_redelivered_review_is_not_enqueued_again(post, make_review, redis_conn):
    post(make_review(review_id="a"))
    post(make_review(review_id="a"))
    assert len(score_jobs(redis_conn)) == 1


def test_an_unreachable_redis_does_not_fail_the_202(settings_without_redis, signed, make_review):
    settings = settings_without_redis
    body, headers = signed(make_review())
    response = create_app(settings).test_client().post(URL, data=body, headers=headers)
    assert response.status_code == 202
    assert [r["status"] for r in stored_rows(settings)] == ["pending"]
