"""Sarcasm cues (classifier/sarcasm.py): praise that means its opposite."""

from __future__ import annotations

import pytest

from classifier.normalize import normalize
from classifier.sarcasm import FLIP, TONE, sarcasm_cue


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("五星好评，还会回购，才怪", FLIP),
        ("会推荐给朋友才怪！", FLIP),
        ("呵呵，买了就后悔", TONE),
        ("这个'降噪'耳机，地铁上啥也听不清", TONE),
        ("真是快啊，十天才到", TONE),
        ("真好吃，下次还来", None),
        ("质量很好，推荐", None),
        ("才怪你不喜欢", None),  # 才怪 that does not close the clause
    ],
)
def test_cues(text: str, cue: str | None) -> None:
    assert sarcasm_cue(normalize(text)) == cue


@pytest.mark.parametrize(
    "text",
    [
        "五星好评，还会回购，才怪",
        "服务一流啊，才怪",
        "呵呵，说好的三天发货，一个礼拜了还没动静",
        "这个'防水'手表，洗个手就进水了",
    ],
)
def test_sarcastic_reviews_read_as_complaints(classifier, text: str) -> None:
    p = classifier.predict(text)
    assert p.sentiment == "negative", (text, p.negative_prob)
    assert p.causes


def test_sincere_praise_with_the_same_devices_stays_praise(classifier) -> None:
    for text in ["真是太好用了啊，推荐", "这款'小黑瓶'真的好用，回购第三次", "呵呵，挺好的，满意"]:
        p = classifier.predict(text)
        assert p.sentiment == "positive", (text, p.negative_prob)
        assert not p.causes
