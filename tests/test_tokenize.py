"""Tokenization: jieba plus the e-commerce dictionary and negation scope."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _project_texts() -> list[str]:
    import json
    from pathlib import Path

    texts = []
    for path in sorted((Path(__file__).resolve().parent.parent / "labels").glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts


def test_the_cutter_splits_every_project_text_as_jieba_does() -> None:
    from classifier.normalize import normalize
    from classifier.tokenize import _get_cutter, _get_tokenizer

    jieba_tokenizer, cutter = _get_tokenizer(), _get_cutter()
    texts = _project_texts()[::6]  # a sample keeps the fast tier fast (all 53k shared reviews agreed when written)
    texts += [normalize(t) for t in texts]
    assert len(texts) > 300
    assert [cutter.lcut(t) for t in texts] == [jieba_tokenizer.lcut(t, HMM=False) for t in texts]


_ALPHABET = "物流快递很慢好评差质量不错没有坏了一般描述不符发货色差退款客服态度abcXYZ0129 ,.!?，。！\t\r\n\u3000#&_%-+"


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_the_cutter_splits_any_text_as_jieba_does(text: str) -> None:
    from classifier.tokenize import _get_cutter, _get_tokenizer

    assert _get_cutter().lcut(text) == _get_tokenizer().lcut(text, HMM=False)
