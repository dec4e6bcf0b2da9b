"""Normalisation: the canonical text the tokenizer and models see."""

import pytest

from classifier.normalize import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),  # full-width Latin and digits fold to half-width
        ("质量很好，物流很快！", "质量很好,物流很快!"),  # full-width punctuation folds too
        ("質量很差，發錯貨了", "质量很差,发错货了"),  # traditional to simplified
        ("這個產品顏色與圖片不符", "这个产品颜色与图片不符"),
        ("&lt;b&gt;差评&lt;/b&gt;", "差评"),  # entities decoded, then the tags they form removed
        ("<p>很好</p><br/>用", "很好 用"),
        ("太慢了！！！！！！", "太慢了!"),  # runs of punctuation collapse
        ("什么鬼？！？！", "什么鬼?"),
        ("好好好好好好", "好好"),  # runs of one character keep their emphasis as a pair
        ("哈哈哈哈哈", "哈哈"),
        ("  物流\n\t很快  ", "物流 很快"),  # whitespace collapses and trims
        ("👍👍很满意", "赞 赞 很满意"),  # sentiment-bearing emoji become words
        ("太差了😡", "太差了 生气"),
        ("还行🙃吧", "还行 吧"),  # other emoji are dropped
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_normalize_is_idempotent() -> None:
    text = "質量很差！！！&amp; 發錯貨了😡😡 ＡＢＣ"
    assert normalize(normalize(text)) == normalize(text)


def test_normalize_is_deterministic() -> None:
    text = "東西不錯，就是物流太慢了！！！"
    assert len({normalize(text) for _ in range(5)}) == 1
