"""jieba tokenization with the project's e-commerce dictionary and negation scope.

One `jieba.Tokenizer` per process, built lazily: building the prefix dictionary is the single
most expensive start-up step (about 0.6 s), so workers pay it once and tests that never tokenize
never pay it.
"""

from __future__ import annotations

import logging
import marshal
import os
import tempfile
import threading
from importlib import resources
from math import log

import jieba

from classifier.normalize import normalize

__all__ = ["NEGATION_MARK", "TURNING_WORDS", "Segmented", "segment", "tokenize", "tokenize_normalized"]

# Every negator collapses to one mark so that 没坏 / 不坏 / 无损坏 share statistics.
NEGATION_MARK = "不_"
_NEGATORS = frozenset({"不", "没", "没有", "别", "无", "未", "不是", "并不", "从不", "毫不", "绝不", "不太", "不怎么", "不够", "木有", "沒"})
# Degree words may sit between a negator and the word it negates: 不是很好, 没那么快, 不太满意.
_DEGREE = frozenset({"很", "太", "那么", "怎么", "是", "够", "大", "算", "特别", "十分", "非常", "都", "也", "再", "会", "能", "好"})
_SKIP = frozenset({" ", ",", ".", "!", "?", ";", ":", "、", "。", "~", "-", "(", ")", '"', "'"})

# Words that turn a review from one thing to another ("东西不错，就是物流太慢"): a clause starts at
# each of them, so that the complaint after the turn is scored on its own.
TURNING_WORDS = frozenset({
    "但", "但是", "就是", "可惜", "不过", "只是", "然而", "结果", "可是", "却", "只不过", "不料", "没想到",
    "谁知", "谁知道", "唯一", "美中不足", "遗憾", "偏偏", "居然", "竟然",
})

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_cutter: Cutter | None = None
# jieba folds runs of single ASCII letters and digits into one token (its `re_eng`, ASCII only).
_ENG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class Cutter:
    """jieba's accurate mode without HMM, ``tokenizer.lcut(text, HMM=False)``, word for word.

    The same dynamic programme over the same dictionary, written as one loop: jieba builds a dict
    of candidate word ends per character, then takes a max over a generator of tuples calling
    `log` for every candidate; here the candidates are scored as they are found, each word's
    ``log(freq) - log(total)`` is computed once per process and kept, and ties go to the longer
    word as in jieba's tuple max. The arithmetic is jieba's, operation for operation, so the route
    and the words are identical (the tests compare the two on the project's texts and on generated
    ones; all 107k texts of the training corpus, raw and normalised, agreed when this was written).
    It takes half jieba's time, and jieba is the largest part of a prediction. The dictionary must
    not change afterwards (it does not: `_get_tokenizer` loads it once).
    """

    def __init__(self, tokenizer: jieba.Tokenizer) -> None:
        tokenizer.check_initialized()
        self._freq = tokenizer.FREQ
        self._logtotal = log(tokenizer.total)
        self._logp: dict[str, float] = {}
        self._han = jieba.re_han_default
        self._skip = jieba.re_skip_default

    def _score(self, word: str) -> float:
        value = self._logp.get(word)
        if value is None:
            value = self._logp[word] = log(self._freq.get(word) or 1) - self._logtotal
        return value

    def _cut_block(self, sentence: str, out: list[str]) -> None:
        get, logp, logtotal = self._freq.get, self._logp, self._logtotal
        n = len(sentence)
        best = [0.0] * (n + 1)
        end = [0] * n
        for k in range(n - 1, -1, -1):
            top: float | None = None
            top_end = k
            i = k
            frag = sentence[k]
            freq = get(frag)
            while freq is not None:  # every prefix of a dictionary word is in FREQ (as 0 if not a word)
                if freq:
                    p = logp.get(frag)
                    if p is None:
                        p = logp[frag] = log(freq) - logtotal
                    value = p + best[i + 1]
                    if top is None or value >= top:  # equal scores: the later end, as max() of (score, end)
                        top, top_end = value, i
                i += 1
                if i >= n:
                    break
                frag = sentence[k:i + 1]
                freq = get(frag)
            if top is None:  # no dictionary word starts here: the character alone
                top = self._score(sentence[k]) + best[k + 1]
            best[k] = top
            end[k] = top_end
        x = 0
        buf = ""
        while x < n:
            y = end[x] + 1
            word = sentence[x:y]
            if y - x == 1 and word in _ENG:
                buf += word
            else:
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(word)
            x = y
        if buf:
            out.append(buf)

    def lcut(self, text: str) -> list[str]:
        out: list[str] = []
        han, skip = self._han, self._skip
        for block in han.split(text):
            if not block:
                continue
            if han.match(block):
                self._cut_block(block, out)
            else:
                for part in skip.split(block):
                    if skip.match(part):
                        out.append(part)
                    else:
                        out.extend(part)
        return out


def _get_tokenizer() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                _load_prefix_dict(tok)
                with resources.as_file(resources.files("classifier").joinpath("userdict.txt")) as path:
                    tok.load_userdict(str(path))
                _tokenizer = tok
    return _tokenizer


def _get_cutter() -> Cutter:
    global _cutter
    if _cutter is None:
        tokenizer = _get_tokenizer()
        with _lock:
            if _cutter is None:
                _cutter = Cutter(tokenizer)
    return _cutter


def _load_prefix_dict(tok: jieba.Tokenizer) -> None:
    """`tok.initialize()`, reading jieba's cached prefix dictionary from bytes.

    jieba unmarshals its cache (~500k words) straight from the file object, which reads it a few
    bytes at a time: ~1.2 s per process against ~0.4 s for the same `marshal` data from one read.
    Where the cache is missing or unreadable, jieba builds (and caches) it as usual."""
    if tok.dictionary == jieba.DEFAULT_DICT and not tok.initialized:
        cache = os.path.join(tok.tmp_dir or tempfile.gettempdir(), tok.cache_file or "jieba.cache")
        try:
            with open(cache, "rb") as f:
                tok.FREQ, tok.total = marshal.loads(f.read())
        except (OSError, ValueError, EOFError, TypeError):
            pass
        else:
            tok.initialized = True
            return
    tok.initialize()


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


class Segmented:
    """Tokens of one normalised review and its clauses.

    `tokens` are the model's tokens (negation merged, spaces dropped, punctuation kept);
    `token_clause[i]` is the clause of token i (-1 for punctuation); `clauses` are the clauses'
    [start, end) character ranges in the normalised text; `raw_lengths` / `raw_clause` give every
    jieba token's length and clause, so that characters can be assigned to clauses.
    """

    __slots__ = ("clauses", "raw_clause", "raw_lengths", "token_clause", "tokens")

    def __init__(self, tokens: list[str], token_clause: list[int], clauses: list[tuple[int, int]],
                 raw_lengths: list[int], raw_clause: list[int]) -> None:
        self.tokens = tokens
        self.token_clause = token_clause
        self.clauses = clauses
        self.raw_lengths = raw_lengths
        self.raw_clause = raw_clause


# Quotes stay inside their clause: "真是'静音'啊" is one clause, and the quotes are a sarcasm cue.
_QUOTES = frozenset("'\"“”‘’「」『』")


def _is_boundary(word: str) -> bool:
    return len(word) == 1 and not word.isalnum() and word not in _QUOTES


def segment(text: str) -> Segmented:
    """Tokenize normalised text and split it into clauses in the same pass.

    A clause ends at punctuation or whitespace and a new one starts at a turning word (但是, 就是,
    可惜 …), which belongs to the clause it opens. Negation is merged as in `apply_negation`, but
    never across a clause boundary.
    """
    words = _get_cutter().lcut(text)
    tokens: list[str] = []
    token_clause: list[int] = []
    clauses: list[tuple[int, int]] = []
    raw_lengths = list(map(len, words))
    raw_clause: list[int] = []
    add_token, add_clause, add_raw = tokens.append, token_clause.append, raw_clause.append
    quotes, turning, negators = _QUOTES, TURNING_WORDS, _NEGATORS
    clause = -1
    start = 0
    is_open = False
    pos = 0
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        size = raw_lengths[i]
        if size == 1 and not word.isalnum() and word not in quotes:  # punctuation or space: a boundary
            if is_open:
                clauses.append((start, pos))
                is_open = False
            add_raw(-1)
            if word != " ":
                add_token(word)
                add_clause(-1)
            pos += 1
            i += 1
            continue
        if not is_open or word in turning:
            if is_open:
                clauses.append((start, pos))
            clause += 1
            start = pos
            is_open = True
        if word in negators and i + 1 < n:
            j = i + 1
            if words[j] in _DEGREE and j + 1 < n and not _is_boundary(words[j + 1]):
                j += 1
            target = words[j]
            if not _is_boundary(target) and target not in negators and target not in turning:
                add_token(NEGATION_MARK + target)
                add_clause(clause)
                for k in range(i, j + 1):
                    add_raw(clause)
                    pos += raw_lengths[k]
                i = j + 1
                continue
        add_token(word)
        add_clause(clause)
        add_raw(clause)
        pos += size
        i += 1
    if is_open:
        clauses.append((start, pos))
    return Segmented(tokens, token_clause, clauses, raw_lengths, raw_clause)


def tokenize_normalized(text: str) -> list[str]:
    """Tokens of text that has already been through `normalize`."""
    # HMM discovery of unknown words costs ~25% of jieba's time and adds little for classification:
    # the dictionary plus the project's terms cover review vocabulary, and character n-grams cover the rest.
    return apply_negation(_get_cutter().lcut(text))


def tokenize(text: str) -> list[str]:
    """Normalise then tokenize one review."""
    return tokenize_normalized(normalize(text))
