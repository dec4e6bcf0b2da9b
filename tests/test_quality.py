"""Quality floor of the shipped model on clear, hand-written cases (not used in training).

Each table is a specification a product person would sign: an unambiguous review and what any
reasonable model must say. A regression that breaks several of them fails the build; the tolerance
of one miss per table keeps the check about quality, not about one borderline sentence.
"""

from __future__ import annotations

import pytest

CLEAR_CAUSES = {
    "logistics": [
        "快递太慢了，下单一个星期才收到",
        "物流慢得离谱，催了三次才发货",
        "快递员态度极差，不肯送上楼",
        "外卖送了两个小时，饭菜全凉了",
        "包裹在路上被压坏了，外箱全烂",
        "骑手把汤洒了一袋子",
        "说好次日达，结果第五天才到",
        "快递放在门卫也不打电话通知",
    ],
    "defect": [
        "用了三天就坏了，开不了机",
        "屏幕上有好几个坏点",
        "洗了一次就严重掉色",
        "水果烂了一大半，还有发霉的",
        "衣服线头很多，穿一次就开线了",
        "充电器插上就冒烟，根本不能用",
        "菜里吃出了头发，恶心",
        "保温杯漏水，盖子拧紧也漏",
    ],
    "description_mismatch": [
        "色差太大，和图片完全不是一个颜色",
        "买的黑色发来的是白色，发错货了",
        "尺码严重偏小，按尺码表买的根本穿不上",
        "说好的赠品一个都没有",
        "明显是假货，和专柜的正品不一样",
        "标称一公斤，实际称了只有七百克",
        "页面写的是新款，收到的是旧款",
        "点了两份只送来一份，少送了",
    ],
}

CLEAR_SENTIMENT = [
    ("非常满意，质量很好，下次还会回购", "positive"),
    ("物流很快，包装完好，好评", "positive"),
    ("味道很好，分量也足，推荐", "positive"),
    ("东西很好，没有色差，很满意", "positive"),
    ("本来担心是假货，收到后验证是正品，放心了", "positive"),
    ("太差了，再也不会买了", "negative"),
    ("质量很差，退货", "negative"),
    ("很不满意，和描述的完全不一样", "negative"),
    ("难吃死了，还贵", "negative"),
    ("垃圾产品，浪费钱", "negative"),
]

NO_COMPLAINT = [
    "很好用，非常喜欢",
    "快递小哥很给力，第二天就到了",
    "颜色和图片一样，尺码也标准",
    "包装很用心，没有压坏",
    "好吃，会再点的",
]


@pytest.mark.parametrize("cause", sorted(CLEAR_CAUSES))
def test_clear_complaints_get_their_cause(classifier, cause: str) -> None:
    texts = CLEAR_CAUSES[cause]
    missed = [t for t, p in zip(texts, classifier.predict_many(texts), strict=True) if cause not in p.causes]
    assert len(missed) <= 1, f"{cause} missed on: {missed}"


def test_clear_sentiment(classifier) -> None:
    preds = classifier.predict_many([t for t, _ in CLEAR_SENTIMENT])
    wrong = [(t, want) for (t, want), p in zip(CLEAR_SENTIMENT, preds, strict=True) if p.sentiment != want]
    assert len(wrong) <= 1, wrong


def test_plain_praise_carries_no_cause(classifier) -> None:
    preds = classifier.predict_many(NO_COMPLAINT)
    flagged = [(t, p.causes) for t, p in zip(NO_COMPLAINT, preds, strict=True) if p.causes]
    assert len(flagged) <= 1, flagged


def test_negation_flips_sentiment(classifier) -> None:
    assert classifier.predict("很满意").negative_prob < classifier.predict("很不满意").negative_prob


def test_mixed_review_keeps_its_complaint(classifier) -> None:
    p = classifier.predict("东西不错，就是物流太慢了")
    assert "logistics" in p.causes
