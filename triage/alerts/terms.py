"""The terms that recur across an alert's reviews (色差, 尺码偏小, 漏液): what ops should fix.

Pure functions over what each review already carries: the classifier's explanation terms for the
alert's cause, and the text of its complaining clauses (complaint spans), or the whole text when a
review has no spans. Clauses are cut into words with the project's jieba tokenizer; a word and the
word after it also count as one term (尺码 + 偏小 -> 尺码偏小), because the pair is usually what names
the fault.

A term recurs when it appears in at least `min_reviews` of the reviews (counted once per review).
Of two overlapping terms that appear in the same reviews, only the longer is listed: 尺码偏小 in
four reviews hides 偏小 in the same four, but 偏小 in six stays next to it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

__all__ = [
    "RecurringTerm",
    "ReviewEvidence",
    "candidate_terms",
    "evidence_from_stored",
    "highlight",
    "recurring_terms",
]

# Words that recur in every complaint and name no fault.
STOPWORDS = frozenset(
    """
    的 了 是 我 你 他 她 它 也 都 很 就 还 又 和 跟 与 在 有 没 不 吧 啊 呢 吗 哦 呀 嘛 哈 么 这 那 个 一 上 下 给 让 被 把
    说 要 会 能 可以 可能 已经 一个 一下 一点 一样 这个 那个 这样 那样 什么 怎么 为什么 真的 真是 实在 感觉 觉得 认为
    东西 商品 宝贝 产品 卖家 商家 店家 客服 店铺 亲 收到 买 购买 下单 拿到 用 使用 还是 但是 不过 而且 然后 就是 只是
    非常 特别 太 比较 有点 有些 一些 好 不好 差 很差 太差 差评 垃圾 失望 不满意 满意 垃圾 坑 无语 以后 再也 千万
    没有 不是 知道 看 看到 发现 问题 情况 时候 现在 今天 昨天 第一次 次 天 们 啦 哎 唉
    """.split()
)
_PUNCT = re.compile(r"^[\W_]+$")
_NEGATION_MARK = "不_"


@dataclass(frozen=True)
class ReviewEvidence:
    """What one review says about the alert's cause."""

    terms: Sequence[str] = ()  # the classifier's explanation terms for the cause
    spans: Sequence[str] = ()  # the complaining clauses' text (text[start:end]) for the cause


@dataclass(frozen=True)
class RecurringTerm:
    term: str
    reviews: int  # how many of the reviews carry it
    share: float  # reviews / all reviews of the alert

    def to_json(self) -> dict[str, Any]:
        return {"term": self.term, "reviews": self.reviews, "share": round(self.share, 4)}


def _keep(word: str) -> bool:
    return len(word) >= 2 and word not in STOPWORDS and not _PUNCT.match(word) and not word.isdigit()


def _words(text: str) -> list[str]:
    from classifier.tokenize import tokenize  # jieba loads on first use, not on import

    return [w.replace(_NEGATION_MARK, "不") for w in tokenize(text)]


def candidate_terms(evidence: ReviewEvidence) -> set[str]:
    """The distinct terms one review offers: its explanation terms, the words of its spans, and
    adjacent word pairs whose parts are both content words."""
    out = {t.strip() for t in evidence.terms if _keep(t.strip())}
    for span in evidence.spans:
        words = _words(span)
        out.update(w for w in words if _keep(w))
        for left, right in pairwise(words):
            # A pair needs one real word on each side (尺码 + 偏小); a single character such as
            # 色 in 色差 is already inside a jieba word.
            if _keep(left) and (_keep(right) or (len(right) == 1 and right not in STOPWORDS and not _PUNCT.match(right))):
                out.add(left + right)
    return out


def recurring_terms(
    reviews: Sequence[ReviewEvidence],
    *,
    min_reviews: int = 2,
    limit: int = 8,
) -> list[RecurringTerm]:
    """Terms found in at least `min_reviews` of `reviews`, most widespread first (longer first on ties)."""
    if not reviews:
        return []
    df: Counter[str] = Counter()
    for evidence in reviews:
        df.update(candidate_terms(evidence))
    frequent = {t: n for t, n in df.items() if n >= max(min_reviews, 1)}
    # A shorter term inside a longer one that appears in as many reviews adds nothing.
    kept = [
        t for t, n in frequent.items()
        if not any(t != other and t in other and frequent[other] >= n for other in frequent)
    ]
    kept.sort(key=lambda t: (-frequent[t], -len(t), t))
    total = len(reviews)
    return [RecurringTerm(t, frequent[t], frequent[t] / total) for t in kept[:limit]]


def evidence_from_stored(
    cause: str,
    text: str,
    stored_terms: str | Mapping[str, Any] | None,
    complaints: Iterable[Mapping[str, Any]] | None = None,
) -> ReviewEvidence:
    """A review's evidence for `cause` from its stored columns: `terms` (JSON as the apply path
    writes it: {"sentiment": [...], "causes": {cause: [{"term", "weight"}]}}) and complaint spans
    ([{"start", "end", "cause"}]). Without spans for the cause the whole text stands in."""
    if isinstance(stored_terms, str):
        try:
            stored_terms = json.loads(stored_terms)
        except ValueError:
            stored_terms = None
    terms: list[str] = []
    if isinstance(stored_terms, Mapping):
        for item in (stored_terms.get("causes") or {}).get(cause) or []:
            term = item.get("term") if isinstance(item, Mapping) else item
            if isinstance(term, str):
                terms.append(term)
    spans = [
        text[int(c["start"]):int(c["end"])]
        for c in complaints or ()
        if c.get("cause") == cause and 0 <= int(c["start"]) < int(c["end"]) <= len(text)
    ]
    return ReviewEvidence(tuple(terms), tuple(spans) if spans else (text,))


def highlight(text: str, terms: Iterable[str]) -> list[tuple[str, bool]]:
    """`text` cut into (segment, highlighted) pieces where any of `terms` occurs (longest first,
    non-overlapping), for a template to wrap the highlighted ones in <mark> with escaping intact."""
    ordered = sorted({t for t in terms if t}, key=len, reverse=True)
    if not ordered or not text:
        return [(text, False)] if text else []
    marked = [False] * len(text)
    for term in ordered:
        start = text.find(term)
        while start != -1:
            end = start + len(term)
            if not any(marked[start:end]):
                marked[start:end] = [True] * len(term)
            start = text.find(term, end)
    pieces: list[tuple[str, bool]] = []
    for ch, flag in zip(text, marked, strict=True):
        if pieces and pieces[-1][1] == flag:
            pieces[-1] = (pieces[-1][0] + ch, flag)
        else:
            pieces.append((ch, flag))
    return pieces
