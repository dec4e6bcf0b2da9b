"""Specification of the string, time and batch rules of triage.validation that the contract leaves open.

Every string field must be storable and sendable (valid Unicode, no NUL), visible when required,
bounded, and (for the keys of the read URL) able to read back. See docs/ingestion.md.
"""

from __future__ import annotations

import datetime as dt

import pytest

from triage.validation import (
    loads_json,
    normalise_platform,
    reviews_from_body,
    validate_review,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
STRING_FIELDS = [
    "review_id",
    "platform",
    "text",
    "customer_id",
    "customer_name",
    "product_id",
    "product_name",
    "category",
    "order_id",
]


def review(**overrides):
    base = {"review_id": "r1", "text": "物流太慢了", "customer_id": "c1", "product_id": "p1"}
    base.update(overrides)
    return base


def problem(raw) -> tuple[str, str]:
    result, items = validate_review(raw, 0, now=NOW)
    assert result is None, "expected the review to be refused"
    [item] = items
    return item["field"], item["message"]


def accepted(raw):
    result, items = validate_review(raw, 0, now=NOW)
    assert items == []
    return result


# -- Unicode ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", STRING_FIELDS)
@pytest.mark.parametrize("value", ["\ud800", "a\udfff", "好\udc00评"])
def test_a_lone_surrogate_in_any_string_field_is_refused_naming_the_field(field, value):
    field_name, message = problem(review(**{field: value}))
    assert field_name == field and "unpaired surrogate" in message


def test_a_surrogate_pair_written_as_json_escapes_is_one_character():
    [result] = reviews_from_body(loads_json('{"review_id": "r1", "text": "\\ud83d\\ude00 好", '
                                            '"customer_id": "c1", "product_id": "p1"}'), now=NOW)
    assert result.text == "😀 好"


@pytest.mark.parametrize("field", STRING_FIELDS)
def test_nul_inside_any_string_field_is_refused(field):
    assert problem(review(**{field: "ab\x00cd"}))[0] == field


@pytest.mark.parametrize("field", ["customer_name", "product_name", "category", "order_id"])
def test_nul_hidden_in_a_blank_optional_field_is_refused_not_dropped(field):
    field_name, message = problem(review(**{field: " \x00 "}))
    assert field_name == field and "NUL" in message


# -- blank ------------------------------------------------------------------------------------

INVISIBLE = [
    "\x00",
    "\x00\x00\x00",
    "\u200b\u200b",  # zero-width space
    "\ufeff",  # byte order mark
    "\u200d\u200c\u2060",  # zero-width joiner, non-joiner, word joiner
    "\x07\x1b",
    " \t\n\u3000\u00a0",  # ideographic and no-break spaces
    "\u3164",  # Hangul filler
    "\u2800",  # braille blank
    "\u0301\u0301",  # combining marks with nothing to combine with
    "\u202e\u200f",  # bidi controls
]


@pytest.mark.parametrize("field", ["text", "review_id", "customer_id", "product_id", "platform"])
@pytest.mark.parametrize("value", INVISIBLE, ids=[ascii(v) for v in INVISIBLE])
def test_a_required_field_of_only_invisible_characters_is_blank(field, value):
    assert problem(review(**{field: value})) == (field, "must not be blank")


@pytest.mark.parametrize("field", ["customer_name", "product_name", "category", "order_id"])
def test_an_optional_field_of_only_zero_width_characters_is_absent(field):
    assert getattr(accepted(review(**{field: "\u200b \ufeff"})), field) is None


def test_text_is_trimmed_of_zero_width_and_bom_characters_too():
    assert accepted(review(text="\ufeff\u200b 质量很差 \u200b\n")).text == "质量很差"


def test_an_emoji_variation_selector_at_the_end_of_text_is_kept():
    assert accepted(review(text="不错❤️")).text == "不错❤️"


def test_text_keeps_tabs_and_line_breaks_inside():
    assert accepted(review(text="第一行\r\n第二行\t完")).text == "第一行\r\n第二行\t完"


@pytest.mark.parametrize("char", ["\x07", "\x1b", "\x7f", "\x85", "\x0b"])
def test_other_control_characters_in_text_are_refused(char):
    field, message = problem(review(text=f"物流{char}太慢"))
    assert field == "text" and f"U+{ord(char):04X}" in message


@pytest.mark.parametrize("field", ["customer_name", "product_name", "category"])
@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\u2028"])
def test_names_are_one_line(field, char):
    assert problem(review(**{field: f"张{char}三"}))[0] == field


@pytest.mark.parametrize("field", ["customer_name", "product_name", "category"])
def test_names_are_trimmed(field):
    assert getattr(accepted(review(**{field: "  家居\u200b "})), field) == "家居"


# -- lengths ----------------------------------------------------------------------------------

LIMITS = [
    ("review_id", 128),
    ("customer_id", 128),
    ("product_id", 128),
    ("order_id", 128),
    ("customer_name", 200),
    ("product_name", 200),
    ("category", 200),
    ("text", 5000),
]


@pytest.mark.parametrize(("field", "limit"), LIMITS)
def test_every_string_field_is_bounded(field, limit):
    assert getattr(accepted(review(**{field: "字" * limit})), field) == "字" * limit
    assert problem(review(**{field: "字" * (limit + 1)})) == (field, f"must be at most {limit} characters")


@pytest.mark.parametrize("field", ["customer_id", "customer_name", "product_id"])
def test_a_field_of_900k_characters_is_refused(field):
    assert problem(review(**{field: "x" * 900_000}))[0] == field


def test_a_platform_is_at_most_32_characters_after_normalising():
    assert accepted(review(platform=" " + "P" * 32 + " ")).platform == "p" * 32
    assert problem(review(platform="p" * 33)) == ("platform", "must be at most 32 characters")


# -- platform ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["tb", "tb ", "TB", " Tb\t", "ＴＢ", "\u200btb"])
def test_platform_is_trimmed_and_lower_cased_into_one_name(value):
    assert accepted(review(platform=value)).platform == "tb"


def test_normalise_platform_is_what_validation_stores():
    assert normalise_platform(" JD.com ") == "jd.com"


@pytest.mark.parametrize("value", ["天猫", "pdd", "douyin-shop", "jd_2", "v1.2"])
def test_platform_may_be_letters_of_any_script_digits_dot_dash_underscore(value):
    assert accepted(review(platform=value)).platform == value


@pytest.mark.parametrize("value", ["a/b", "a b", ".", "..", "-tb", "_tb", "tb?", "tb#1", "tb%2F", "a\\b", "t\nb"])
def test_a_platform_that_is_not_one_url_segment_is_refused(value):
    assert problem(review(platform=value))[0] == "platform"


# -- ids and the read URL ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["a\nb", "a\rb", "a\tb", "\x00", "a\x1bb", "a\u200bb", "a\u202eb", "a\u2028b", "\ufeffr1", "a\x85b"],
    ids=ascii,
)
@pytest.mark.parametrize("field", ["review_id", "customer_id", "product_id", "order_id"])
def test_ids_refuse_control_format_and_line_separator_characters(field, value):
    assert problem(review(**{field: value}))[0] == field


@pytest.mark.parametrize("value", ["/r1", "r1/", "a//b", ".", "..", "a/./b", "a/../b", "./a"])
def test_a_review_id_that_a_url_would_rewrite_is_refused(value):
    field, message = problem(review(review_id=value))
    assert field == "review_id" and "URL" in message


@pytest.mark.parametrize("value", ["a/b", "订单-1", "a b", " A-1 ", "100%", "a?b#c", "a.b", "...", "😀"])
def test_review_ids_that_read_back_are_kept_verbatim(value):
    assert accepted(review(review_id=value)).review_id == value


# -- created_at -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9999-12-31T23:59:59-14:00", "must not be more than 1 day ahead of the server clock"),
        ("9999-12-31T23:59:59+14:00", "must not be more than 1 day ahead of the server clock"),
        ("0001-01-01T00:00:00+14:00", "must not be before 2000-01-01T00:00:00Z"),
        ("0001-01-01T00:00:00-14:00", "must not be before 2000-01-01T00:00:00Z"),
        ("1999-12-31T23:59:59Z", "must not be before 2000-01-01T00:00:00Z"),
        ("2000-01-01T07:59:59+08:00", "must not be before 2000-01-01T00:00:00Z"),
        ("2026-12-01T12:00:01Z", "must not be more than 1 day ahead of the server clock"),
        ("2027-01-01T00:00:00+08:00", "must not be more than 1 day ahead of the server clock"),
        ("0000-01-01T00:00:00Z", "must not be before 2000-01-01T00:00:00Z"),
        ("２０２６-11-26T13:05:00+08:00", "must be RFC 3339 with a UTC offset, e.g. 2026-11-26T13:05:00+08:00"),
        ("2026-11-26T13:05:00+24:00", "is not a valid date and time"),
    ],
)
def test_created_at_outside_2000_to_one_day_ahead_is_refused(value, message):
    assert problem(review(created_at=value)) == ("created_at", message)


@pytest.mark.parametrize(
    "value", ["2000-01-01T00:00:00Z", "2000-01-01T08:00:00+08:00", "2026-12-01T12:00:00Z", "2026-12-01T20:00:00+08:00"]
)
def test_created_at_at_the_bounds_is_accepted(value):
    assert accepted(review(created_at=value)).created_at is not None


def test_the_future_bound_follows_the_clock_it_is_given():
    later = NOW + dt.timedelta(days=400)
    result, items = validate_review(review(created_at="2027-12-01T00:00:00Z"), 0, now=later)
    assert items == [] and result.created_at.year == 2027


# -- bodies and batches -----------------------------------------------------------------------


def test_a_json_object_with_a_repeated_key_is_not_valid_json():
    with pytest.raises(ValueError, match="duplicate key 'text'"):
        loads_json('{"text": "好评", "text": "差评"}')


def test_a_repeated_key_with_a_surrogate_is_reported_in_ascii():
    with pytest.raises(ValueError) as caught:
        loads_json('{"\\ud800": 1, "\\ud800": 2}')
    assert str(caught.value).isascii()


def test_a_review_repeated_within_a_batch_is_kept_in_order_for_ingest():
    first, second = reviews_from_body({"reviews": [review(), review(text="改了")]}, now=NOW)
    assert (first.review_id, second.review_id, second.text) == (first.review_id, first.review_id, "改了")


def test_a_repeat_that_differs_only_in_platform_spelling_is_the_same_review():
    first, second = reviews_from_body({"reviews": [review(platform="tb"), review(platform="TB ")]}, now=NOW)
    assert first == second


def test_the_same_review_id_on_two_platforms_in_one_batch_is_two_reviews():
    assert len(reviews_from_body({"reviews": [review(platform="tb"), review(platform="jd")]}, now=NOW)) == 2
