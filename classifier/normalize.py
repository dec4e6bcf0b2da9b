"""Text normalisation applied before tokenization, identically at training and prediction time.

The steps are deterministic and cheap: they run over every review a worker scores, so they are
built from `str.translate` tables and precompiled regular expressions rather than per-character
Python loops.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from importlib import resources

__all__ = ["normalize", "normalize_with_offsets"]

_TAG = re.compile(r"<[^>]{0,200}>")
# html.unescape's own entity pattern, so that decoding one match at a time equals decoding the whole text.
_ENTITY = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
# "#" is a hashtag sign in reviews, never part of a word; dropping it also keeps word features apart
# from the character n-gram features, whose names start with "#" (see features.py).
_HASH = re.compile(r"#+")
_WHITESPACE = re.compile(r"\s+")
# Three or more of the same character collapse to two: "好好好好" keeps its emphasis as "好好"
# without inventing a new token per run length.
_REPEAT = re.compile(r"(.)\1{2,}")
# Runs of mixed punctuation ("!?!?", "。。。，") collapse to their first mark.
_PUNCT_RUN = re.compile(r"([!?,.;:~。，！？；：、…·\-—])[!?,.;:~。，！？；：、…·\-—]+")

# Emoji carry sentiment that the text around them often does not; the common ones become words
# the models already know, the rest are dropped.
_EMOJI_WORDS = {
    "👍": "赞", "👏": "赞", "💯": "赞", "❤": "喜欢", "😍": "喜欢", "🥰": "喜欢", "😘": "喜欢",
    "😊": "开心", "😄": "开心", "😁": "开心", "😀": "开心", "🙂": "开心", "😂": "哈哈", "🤣": "哈哈",
    "👎": "差", "😡": "生气", "😠": "生气", "🤬": "生气", "😤": "生气", "😭": "难过", "😢": "难过",
    "😞": "失望", "😔": "失望", "😒": "无语", "🙄": "无语", "😓": "无语", "💩": "垃圾", "🤮": "恶心",
}
_EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0001F900-\U0001F9FF\U0000FE0F\U0000200D"
    "\U0001F1E6-\U0001F1FF\U00002B00-\U00002BFF]"
)


@lru_cache(maxsize=1)
def _traditional_table() -> dict[int, str]:
    """Character table traditional -> simplified, from OpenCC's TSCharacters dictionary.

    Character-level conversion (not OpenCC's phrase segmentation) keeps this a single
    `str.translate`; review text is short and colloquial, where phrase-level variants barely matter.
    """
    table: dict[int, str] = {}
    text = resources.files("opencc").joinpath("dictionary/TSCharacters.txt").read_text("utf-8")
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 2 or len(parts[0]) != 1:
            continue
        simplified = parts[1].split(" ")[0]
        if simplified and simplified != parts[0]:
            table[ord(parts[0])] = simplified
    return table


@lru_cache(maxsize=1)
def _traditional_chars() -> frozenset[str]:
    return frozenset(chr(c) for c in _traditional_table())


def _to_simplified(text: str) -> str:
    # A set test finds in one C loop whether a review has any traditional character at all (most
    # have none); `str.translate` with a 4,000-entry dict costs ~10x more per character.
    return text if _traditional_chars().isdisjoint(text) else text.translate(_traditional_table())


def _emoji_to_word(match: re.Match[str]) -> str:
    word = _EMOJI_WORDS.get(match.group(0))
    return f" {word} " if word else " "


def normalize(text: str) -> str:
    """Return `text` in the canonical form the tokenizer and models expect.

    Order matters: entities are decoded before tags are stripped (so `&lt;b&gt;` becomes a
    tag and goes), and width folding runs before punctuation collapsing (so `！！` and `!!`
    collapse alike).
    """
    if not text:
        return ""
    text = html.unescape(text)
    text = _TAG.sub(" ", text)
    # NFKC folds full-width Latin letters, digits and punctuation to half-width.
    text = unicodedata.normalize("NFKC", text)
    text = _to_simplified(text)
    text = _EMOJI.sub(_emoji_to_word, text)
    text = text.lower()
    text = _HASH.sub(" ", text)
    text = _PUNCT_RUN.sub(r"\1", text)
    text = _REPEAT.sub(r"\1\1", text)
    return _WHITESPACE.sub(" ", text).strip()


# -- the same normalisation, with a map back to the original text -------------------------------
# Complaint spans are reported as offsets into the text the customer wrote, while the models read
# normalised text whose length differs (entities, emoji words, collapsed runs). This slower twin of
# `normalize` carries, for every output character, the [start, end) of the original characters it
# came from. It runs only for reviews that have a complaint to point at.

Mapped = tuple[str, list[int], list[int]]


def _sub_mapped(regex: re.Pattern[str], repl, text: str, starts: list[int], ends: list[int]) -> Mapped:
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    pos = 0
    for m in regex.finditer(text):
        a, b = m.span()
        out.append(text[pos:a])
        new_starts += starts[pos:a]
        new_ends += ends[pos:a]
        r = repl(m)
        if r:
            out.append(r)
            new_starts += [starts[a]] * len(r)
            new_ends += [ends[b - 1]] * len(r)
        pos = b
    if pos == 0:
        return text, starts, ends
    out.append(text[pos:])
    new_starts += starts[pos:]
    new_ends += ends[pos:]
    return "".join(out), new_starts, new_ends


def _per_char(fn, text: str, starts: list[int], ends: list[int]) -> Mapped:
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    for ch, s, e in zip(text, starts, ends, strict=True):
        r = fn(ch)
        out.append(r)
        new_starts += [s] * len(r)
        new_ends += [e] * len(r)
    return "".join(out), new_starts, new_ends


def normalize_with_offsets(text: str, expected: str | None = None) -> Mapped:
    """`normalize(text)` plus, per output character, the original [start, end) it came from.

    `text[starts[i]:ends[j - 1]]` is the original of normalised characters i..j-1. `expected`,
    when given, is `normalize(text)` already computed. Where a
    step cannot be mapped character by character (NFKC composing combining marks), the result
    still equals `normalize(text)` and offsets fall back to a proportional map.
    """
    if not text:
        return "", [], []
    starts = list(range(len(text)))
    ends = list(range(1, len(text) + 1))
    s = text
    if "&" in s:
        s, starts, ends = _sub_mapped(_ENTITY, lambda m: html.unescape(m.group(0)), s, starts, ends)
    if "<" in s:
        s, starts, ends = _sub_mapped(_TAG, lambda m: " ", s, starts, ends)
    if not unicodedata.is_normalized("NFKC", s):
        folded = unicodedata.normalize("NFKC", s)
        # Full-width punctuation and letters fold one to one (the common case); anything that
        # expands ("…" -> "...") is mapped character by character.
        if len(folded) == len(s):
            s = folded
        else:
            s, starts, ends = _per_char(lambda c: unicodedata.normalize("NFKC", c), s, starts, ends)
    s = _to_simplified(s)  # one character to one character (checked in tests)
    s, starts, ends = _sub_mapped(_EMOJI, _emoji_to_word, s, starts, ends)
    lowered = s.lower()
    if len(lowered) == len(s):
        s = lowered
    else:
        s, starts, ends = _per_char(str.lower, s, starts, ends)
    s, starts, ends = _sub_mapped(_HASH, lambda m: " ", s, starts, ends)
    s, starts, ends = _sub_mapped(_PUNCT_RUN, lambda m: m.group(1), s, starts, ends)
    s, starts, ends = _sub_mapped(_REPEAT, lambda m: m.group(1) * 2, s, starts, ends)
    s, starts, ends = _sub_mapped(_WHITESPACE, lambda m: " ", s, starts, ends)
    lead = len(s) - len(s.lstrip())
    trail = len(s.rstrip())
    s, starts, ends = s[lead:trail], starts[lead:trail], ends[lead:trail]
    if expected is None:
        expected = normalize(text)
    if s != expected:
        n = len(expected)
        starts = [i * len(text) // max(n, 1) for i in range(n)]
        ends = [min(len(text), (i + 1) * len(text) // max(n, 1) + 1) for i in range(n)]
        s = expected
    return s, starts, ends
