"""jieba tokenization with the project's e-commerce dictionary and negation scope.

One `jieba.Tokenizer` per process, built lazily: building the prefix dictionary is the single
most expensive start-up step (about 0.6 s), so workers pay it once and tests that never tokenize
never pay it.
"""

from __future__ import annotations

import logging
import threading
from importlib import resources

import jieba

from classifier.normalize import normalize

__all__ = ["NEGATION_MARK", "tokenize", "tokenize_normalized"]

# Every negator collapses to one mark so that 没坏 / 不坏 / 无损坏 share statistics.
NEGATION_MARK = "不_"
_NEGATORS = frozenset({"不", "没", "没有", "别", "无", "未", "不是", "并不", "从不", "毫不", "绝不", "不太", "不怎么", "不够", "木有", "沒"})
# Degree words may sit between a negator and the word it negates: 不是很好, 没那么快, 不太满意.
_DEGREE = frozenset({"很", "太", "那么", "怎么", "是", "够", "大", "算", "特别", "十分", "非常", "都", "也", "再", "会", "能", "好"})
_SKIP = frozenset({" ", ",", ".", "!", "?", ";", ":", "、", "。", "~", "-", "(", ")", '"', "'"})

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _get_tokenizer() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                with resources.as_file(resources.files("classifier").joinpath("userdict.txt")) as path:
                    tok.load_userdict(str(path))
                _tokenizer = tok
    return _tokenizer


def apply_negation(words: list[str]) -> list[str]:
    """Merge each negator with the word it negates (skipping one degree word).

    `["很", "不", "满意"]` becomes `["很", "不_满意"]`, so the model never sees a bare 满意 in a
    complaint. A negator at the end or before punctuation stays as it is.
    """
    out: list[str] = []
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        if word in _NEGATORS and i + 1 < n:
            j = i + 1
            if words[j] in _DEGREE and j + 1 < n and words[j + 1] not in _SKIP:
                j += 1
            target = words[j]
            if target not in _SKIP and target not in _NEGATORS:
                out.append(NEGATION_MARK + target)
                i = j + 1
                continue
        if word != " ":
            out.append(word)
        i += 1
    return out


def tokenize_normalized(text: str) -> list[str]:
    """Tokens of text that has already been through `normalize`."""
    # HMM discovery of unknown words costs ~25% of jieba's time and adds little for classification:
    # the dictionary plus the project's terms cover review vocabulary, and character n-grams cover the rest.
    return apply_negation(_get_tokenizer().lcut(text, HMM=False))


def tokenize(text: str) -> list[str]:
    """Normalise then tokenize one review."""
    return tokenize_normalized(normalize(text))
