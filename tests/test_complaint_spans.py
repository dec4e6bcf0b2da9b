"""Complaint spans: the clauses that complain, as offsets into the original text (contract:
"Classifier output gains complaint spans")."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from classifier.normalize import normalize, normalize_with_offsets
from classifier.tokenize import segment

MIXED = [
    ("味道不错，就是送得太慢了，凉透了", "logistics", "送得太慢"),
    ("东西挺好，可惜少发了一个配件", "description_mismatch", "少发了一个配件"),
    ("衣服很好看，但是洗了一次就掉色了", "defect", "掉色"),
]


@pytest.mark.parametrize(("text", "cause", "fragment"), MIXED)
def test_a_complaint_inside_a_happy_review_is_kept(classifier, text: str, cause: str, fragment: str) -> None:
    p = classifier.predict(text)
    assert cause in p.causes
    spans = [c for c in p.complaints if c.cause == cause]
    assert spans and any(fragment in text[c.start:c.end] for c in spans)


def test_causes_are_the_union_of_the_spans_causes(classifier) -> None:
    texts = [t for t, _, _ in MIXED] + ["物流太慢了", "垃圾", "发错货了，颜色也不对", "很好用，推荐"]
    for p in classifier.predict_many(texts):
        assert set(p.causes) == {c.cause for c in p.complaints}


def test_praise_has_no_complaint_spans(classifier) -> None:
    p = classifier.predict("很好用，物流也快，推荐")
    assert p.complaints == ()


def test_spans_point_into_the_original_text_not_the_normalised_one(classifier) -> None:
    # Full-width letters, an entity, emoji and a run of "！" all change length when normalised.
    text = "ＡＢＣ牌子不错👍👍&amp;包装好！！！！可惜 物流太慢了😡😡，等了一个星期"
    p = classifier.predict(text)
    assert "logistics" in p.causes
    span = next(c for c in p.complaints if c.cause == "logistics")
    assert "物流太慢" in text[span.start:span.end] or "等了一个星期" in text[span.start:span.end]
    assert 0 <= span.start < span.end <= len(text)


@pytest.mark.parametrize("text", ["!!!", "。。。？？", "😡😡", "...差", "   "])
def test_reviews_without_words_are_scored(classifier, text: str) -> None:
    p = classifier.predict(text)
    assert set(p.causes) == {c.cause for c in p.complaints}
    assert all(0 <= c.start <= c.end <= len(text) for c in p.complaints)


def test_span_json_fields(classifier) -> None:
    out = classifier.predict("东西不错，就是物流太慢").to_json()
    assert out["complaints"]
    assert set(out["complaints"][0]) == {"start", "end", "cause", "prob"}


@pytest.mark.slow
def test_cli_output_carries_complaints() -> None:
    line = json.dumps({"id": 1, "text": "味道不错，就是送得太慢了"}, ensure_ascii=False)
    result = subprocess.run([sys.executable, "-m", "classifier", "predict", "--input", "-", "--output", "-", "--jobs", "1"],
                            input=line + "\n", capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    text = "味道不错，就是送得太慢了"
    assert [text[c["start"]:c["end"]] for c in row["complaints"]] == ["就是送得太慢了"]


def test_explanations_are_skipped_when_not_asked(classifier) -> None:
    p = classifier.predict_many(["物流太慢了"], explain=False)[0]
    assert p.terms == () and p.cause_terms == {}
    assert p.complaints


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("味道不错，就是送得太慢了，凉透了", ["味道不错", "就是送得太慢了", "凉透了"]),
        ("东西挺好 可惜少发了一个配件", ["东西挺好", "可惜少发了一个配件"]),
        ("质量好但是贵", ["质量好", "但是贵"]),
        ("真是'静音'啊", ["真是'静音'啊"]),  # quotes stay inside their clause
        ("很不满意", ["很不满意"]),
    ],
)
def test_clauses_split_at_punctuation_and_turning_words(text: str, clauses: list[str]) -> None:
    normalized = normalize(text)
    assert [normalized[a:b] for a, b in segment(normalized).clauses] == clauses


@pytest.mark.parametrize(
    "text",
    ["質量很差！！！&amp; 發錯貨了😡😡 ＡＢＣ", "东西不错，就是物流太慢了！！！", "&lt;b&gt;差评&lt;/b&gt;", "好好好好好好",
     "  物流\n\t很快  ", "#好评# 不错", "…真的…", ""],
)
def test_offset_map_matches_normalize(text: str) -> None:
    normalized, starts, ends = normalize_with_offsets(text)
    assert normalized == normalize(text)
    assert len(starts) == len(ends) == len(normalized)
    assert all(0 <= a < b <= len(text) for a, b in zip(starts, ends, strict=True))
    assert starts == sorted(starts)


def test_offset_map_points_at_the_original_characters() -> None:
    text = "質量&amp;好！！！"
    normalized, starts, ends = normalize_with_offsets(text)
    assert normalized == "质量&好!"
    assert [text[a:b] for a, b in zip(starts, ends, strict=True)] == ["質", "量", "&amp;", "好", "！！！"]
