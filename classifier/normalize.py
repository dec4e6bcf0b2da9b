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

__all__ = ["normalize"]

_TAG = re.compile(r"<[^>]{0,200}>")
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
    text = text.translate(_traditional_table())
    text = _EMOJI.sub(_emoji_to_word, text)
    text = text.lower()
    text = _PUNCT_RUN.sub(r"\1", text)
    text = _REPEAT.sub(r"\1\1", text)
    return _WHITESPACE.sub(" ", text).strip()
