"""Specification of triage.validation: the contract's review table, every problem reported."""

from __future__ import annotations

import datetime as dt

import pytest

from triage.errors import TooLarge, ValidationFailed
from triage.validation import MAX_BATCH, Review, reviews_from_body, validate_batch, validate_review

UTC = dt.UTC


def review(**overrides):
    base = {"review_id": "r1", "text": "物流太慢了", "customer_id": "c1", "product_id": "p1"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def problems(raw, index=0):
    result, items = validate_review(raw, index)
    assert result is None
    return items


def test_minimal_review_gets_defaults():
    result, items = validate_review(review())
    assert items == []
    assert result == Review(platform="default", review_id="r1", text="物流太慢了", customer_id="c1", product_id="p1")


def test_full_review_is_normalised():
    result, _ = validate_review(
        review(
            platform="taobao",
            rating=2,
            customer_name="张三",
            customer_ltv=1288,
            product_name="保温杯",
            category="家居",
            order_id="o9",
            created_at="2026-11-26T13:05:00+08:00",
        )
    )
    assert result == Review(
        platform="taobao",
        review_id="r1",
        text="物流太慢了",
        customer_id="c1",
        product_id="p1",
        rating=2,
        customer_name="张三",
        customer_ltv=1288.0,
        product_name="保温杯",
        category="家居",
        order_id="o9",
        created_at=dt.datetime(2026, 11, 26, 5, 5, tzinfo=UTC),
    )


def test_unknown_fields_are_ignored():
    result, items = validate_review(review(shop="旗舰店", likes=3))
    assert items == [] and result is not None


def test_text_is_trimmed():
    result, _ = validate_review(review(text="  质量很差  \n"))
    assert result.text == "质量很差"


def test_text_limit_counts_characters_after_trimming():
    result, _ = validate_review(review(text="  " + "差" * 5000 + "  "))
    assert result is not None and len(result.text) == 5000


def test_review_id_is_kept_verbatim():
    result, _ = validate_review(review(review_id=" A-1 "))
    assert result.review_id == " A-1 "


@pytest.mark.parametrize("rating", [1, 5, 4.0])
def test_integral_ratings_are_accepted(rating):
    result, _ = validate_review(review(rating=rating))
    assert result.rating == int(rating) and isinstance(result.rating, int)


@pytest.mark.parametrize("field", ["rating", "customer_ltv", "customer_name", "created_at", "platform"])
def test_null_optional_field_means_absent(field):
    result, items = validate_review(review(**{field: None}))
    assert items == [] and result is not None


@pytest.mark.parametrize("field", ["customer_name", "product_name", "category", "order_id"])
def test_blank_optional_strings_are_stored_as_absent(field):
    result, _ = validate_review(review(**{field: "  "}))
    assert getattr(result, field) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-26T13:05:00Z", dt.datetime(2026, 11, 26, 13, 5, tzinfo=UTC)),
        ("2026-11-26t13:05:00z", dt.datetime(2026, 11, 26, 13, 5, tzinfo=UTC)),
        ("2026-11-26 13:05:00+08:00", dt.datetime(2026, 11, 26, 5, 5, tzinfo=UTC)),
        ("2026-11-26T13:05:00.250-05:30", dt.datetime(2026, 11, 26, 18, 35, 0, 250000, tzinfo=UTC)),
    ],
)
def test_created_at_is_rfc3339_stored_in_utc(value, expected):
    result, _ = validate_review(review(created_at=value))
    assert result.created_at == expected and result.created_at.utcoffset() == dt.timedelta(0)


RFC3339_MESSAGE = "must be RFC 3339 with a UTC offset, e.g. 2026-11-26T13:05:00+08:00"

BAD_FIELDS = [
    # (overrides, field, message)
    ({"review_id": ...}, "review_id", "is required"),
    ({"review_id": None}, "review_id", "is required"),
    ({"review_id": ""}, "review_id", "must not be blank"),
    ({"review_id": "   "}, "review_id", "must not be blank"),
    ({"review_id": 12345}, "review_id", "must be a string"),
    ({"review_id": "x" * 129}, "review_id", "must be at most 128 characters"),
    ({"platform": ""}, "platform", "must not be blank"),
    ({"platform": "p" * 33}, "platform", "must be at most 32 characters"),
    ({"platform": 7}, "platform", "must be a string"),
    ({"text": ...}, "text", "is required"),
    ({"text": ""}, "text", "must not be blank"),
    ({"text": " \n\t "}, "text", "must not be blank"),
    ({"text": ["差"]}, "text", "must be a string"),
    ({"text": "差" * 5001}, "text", "must be at most 5000 characters"),
    ({"rating": 0}, "rating", "must be an integer from 1 to 5"),
    ({"rating": 6}, "rating", "must be an integer from 1 to 5"),
    ({"rating": 4.5}, "rating", "must be an integer from 1 to 5"),
    ({"rating": True}, "rating", "must be an integer from 1 to 5"),
    ({"rating": "4"}, "rating", "must be an integer from 1 to 5"),
    ({"customer_id": ...}, "customer_id", "is required"),
    ({"customer_id": ""}, "customer_id", "must not be blank"),
    ({"customer_id": 42}, "customer_id", "must be a string"),
    ({"customer_name": 42}, "customer_name", "must be a string"),
    ({"customer_ltv": -0.01}, "customer_ltv", "must be at least 0"),
    ({"customer_ltv": "100"}, "customer_ltv", "must be a number"),
    ({"customer_ltv": False}, "customer_ltv", "must be a number"),
    ({"customer_ltv": float("inf")}, "customer_ltv", "must be a number"),
    ({"customer_ltv": float("nan")}, "customer_ltv", "must be a number"),
    ({"customer_ltv": 10**400}, "customer_ltv", "must be a number"),  # no float has it: not a crash
    ({"product_id": ...}, "product_id", "is required"),
    ({"product_id": " "}, "product_id", "must not be blank"),
    ({"product_name": {"zh": "杯"}}, "product_name", "must be a string"),
    ({"category": 1}, "category", "must be a string"),
    ({"order_id": 998}, "order_id", "must be a string"),
    ({"created_at": 1764133500}, "created_at", "must be an RFC 3339 string"),
    ({"created_at": "2026-11-26T13:05:00"}, "created_at", RFC3339_MESSAGE),
    ({"created_at": "2026-11-26"}, "created_at", RFC3339_MESSAGE),
    ({"created_at": "20261126T130500+0800"}, "created_at", RFC3339_MESSAGE),
    ({"created_at": "yesterday"}, "created_at", RFC3339_MESSAGE),
    ({"created_at": "2026-02-30T13:05:00+08:00"}, "created_at", "is not a valid date and time"),
    ({"created_at": "2026-12-31T23:59:60Z"}, "created_at", "is not a valid date and time"),
]


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_FIELDS, ids=[f"{f}:{m}" for _, f, m in BAD_FIELDS])
def test_bad_field_is_reported_with_index_field_and_message(overrides, field, message):
    assert problems(review(**overrides), index=3) == [{"index": 3, "field": field, "message": message}]


def test_every_bad_field_of_a_review_is_reported_in_contract_order():
    raw = {"order_id": 1, "rating": 9, "text": "", "platform": ""}
    assert problems(raw) == [
        {"index": 0, "field": "review_id", "message": "is required"},
        {"index": 0, "field": "platform", "message": "must not be blank"},
        {"index": 0, "field": "text", "message": "must not be blank"},
        {"index": 0, "field": "rating", "message": "must be an integer from 1 to 5"},
        {"index": 0, "field": "customer_id", "message": "is required"},
        {"index": 0, "field": "product_id", "message": "is required"},
        {"index": 0, "field": "order_id", "message": "must be a string"},
    ]


@pytest.mark.parametrize("raw", ["review", 42, ["r1"], None])
def test_a_review_that_is_not_an_object_is_one_problem(raw):
    assert problems(raw, index=2) == [{"index": 2, "field": None, "message": "review must be a JSON object"}]


def test_default_platform_fills_only_an_absent_platform():
    absent, _ = validate_review(review(), default_platform="jd")
    present, _ = validate_review(review(platform="pdd"), default_platform="jd")
    assert (absent.platform, present.platform) == ("jd", "pdd")


def test_batch_reports_every_bad_review_by_index():
    raws = [review(review_id="ok"), review(text=""), review(), review(rating=0, customer_id=...)]
    with pytest.raises(ValidationFailed) as caught:
        validate_batch(raws)
    assert caught.value.items == [
        {"index": 1, "field": "text", "message": "must not be blank"},
        {"index": 3, "field": "rating", "message": "must be an integer from 1 to 5"},
        {"index": 3, "field": "customer_id", "message": "is required"},
    ]


def test_body_with_one_review_object_is_a_batch_of_one():
    assert [r.review_id for r in reviews_from_body(review(review_id="solo"))] == ["solo"]


def test_body_with_reviews_list_is_a_batch_in_order():
    body = {"reviews": [review(review_id="a"), review(review_id="b")]}
    assert [r.review_id for r in reviews_from_body(body)] == ["a", "b"]


def test_an_empty_batch_is_invalid():
    with pytest.raises(ValidationFailed) as caught:
        reviews_from_body({"reviews": []})
    assert caught.value.items == [{"index": None, "field": "reviews", "message": "must hold at least one review"}]


def test_single_review_problems_have_index_zero():
    with pytest.raises(ValidationFailed) as caught:
        reviews_from_body(review(text=None))
    assert caught.value.items == [{"index": 0, "field": "text", "message": "is required"}]


def test_reviews_that_is_not_a_list_is_invalid():
    with pytest.raises(ValidationFailed) as caught:
        reviews_from_body({"reviews": review()})
    assert caught.value.items == [{"index": None, "field": "reviews", "message": "must be a list of review objects"}]


@pytest.mark.parametrize("payload", [[review()], "review", 3, None])
def test_body_that_is_neither_object_nor_batch_is_invalid(payload):
    with pytest.raises(ValidationFailed) as caught:
        reviews_from_body(payload)
    assert [(i["index"], i["field"]) for i in caught.value.items] == [(None, None)]


def test_500_reviews_are_allowed():
    assert len(reviews_from_body({"reviews": [review(review_id=str(i)) for i in range(MAX_BATCH)]})) == 500


def test_501_reviews_are_too_large_before_any_is_validated():
    with pytest.raises(TooLarge):
        reviews_from_body({"reviews": [{}] * (MAX_BATCH + 1)})


def test_the_ascii_fast_paths_agree_with_the_unicode_categories():
    import unicodedata

    from triage import validation as v

    ascii_chars = [chr(i) for i in range(128)]
    invisible = {c for c in ascii_chars if v._is_invisible(c)}
    trimmed = {c for c in ascii_chars if c.isspace() or unicodedata.category(c) in v._TRIMMED_CATEGORIES}
    forbidden = {c for c in ascii_chars if unicodedata.category(c) in v._ID_FORBIDDEN_CATEGORIES}
    assert invisible == trimmed == set(v._ASCII_INVISIBLE)
    assert forbidden == {c for c in ascii_chars if v._ASCII_ID_FORBIDDEN.fullmatch(c)}
