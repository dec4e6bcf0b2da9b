"""Tokenization: jieba plus the e-commerce dictionary and negation scope."""

import pytest

from classifier.tokenize import NEGATION_MARK, apply_negation, tokenize


@pytest.mark.parametrize(
    ("text", "expected_token"),
    [
        ("快递小哥态度很好", "快递小哥"),
        ("有色差", "色差"),
        ("商家发错货了", "发错货"),
        ("快递不送上门", "不送上门"),
        ("支持价保吗", "价保"),
        ("七天无理由退货", "七天无理由退货"),
        ("洗发水漏液了", "漏液"),
    ],
)
def test_user_dictionary_terms_stay_whole(text: str, expected_token: str) -> None:
    assert expected_token in tokenize(text)


@pytest.mark.parametrize(
    ("text", "negated", "bare"),
    [
        ("很不满意", "不_满意", "满意"),
        ("没有坏", "不_坏", "坏"),
        ("不是很好", "不_好", "好"),  # a degree word between negator and word is skipped
        ("别买", "不_买", "买"),
        ("没色差", "不_色差", "色差"),
    ],
)
def test_negation_merges_with_the_negated_word(text: str, negated: str, bare: str) -> None:
    tokens = tokenize(text)
    assert negated in tokens
    assert bare not in tokens


def test_satisfied_and_not_satisfied_share_no_sentiment_token() -> None:
    assert set(tokenize("满意")).isdisjoint(tokenize("不满意"))


def test_negation_does_not_cross_punctuation() -> None:
    assert apply_negation(["不", ",", "好"]) == ["不", ",", "好"]


def test_trailing_negator_is_kept() -> None:
    assert apply_negation(["好", "不"]) == ["好", "不"]


def test_traditional_text_tokenizes_like_simplified() -> None:
    assert tokenize("質量很差，發錯貨了") == tokenize("质量很差，发错货了")


def test_emoji_and_whitespace_never_become_tokens() -> None:
    tokens = tokenize("  很好 👍  ")
    assert all(t.strip() for t in tokens)
    assert "赞" in tokens


def test_negation_mark_is_documented_prefix() -> None:
    assert NEGATION_MARK == "不_"
