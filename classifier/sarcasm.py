"""Sarcasm cues: praise that means its opposite.

Chinese reviewers mark irony with a few stock devices, and a bag-of-words model reads each of
them as the praise it quotes. The treatment is deliberately small and rule-based, applied after
the model has scored the review and its clauses:

| cue | example | effect |
|---|---|---|
| 才怪 closing a clause | 好评，下次还买，才怪 | the review's tone flips: negative_prob becomes max(p, 1 - p) |
| 呵呵 | 呵呵，三天了还没发货 | with a complaining clause, the review takes that clause's tone |
| quoted praise | 真是"静音"啊，跟拖拉机一样 | with a complaining clause, the review takes that clause's tone |
| 真是…啊/呢 with stock praise | 物流真快呢，半个月就到了呢 | with a complaining clause, the review takes that clause's tone |

TONE cues count only in reviews of at most three clauses. "With a complaining clause" means another clause of the review (not the one holding the cue)
reads as a confident complaint on its own
(probability >= 0.7, as for complaint spans): the cue alone is not enough, since 真是太好吃了啊 and a quoted product name
are sincere. The cues only ever raise negative_prob; causes still come from the models, and a
sarcastic review with no specific cause gets `other`. Tests: tests/test_sarcasm.py.
"""

from __future__ import annotations

import re

__all__ = ["FLIP", "MAX_TONE_CLAUSES", "TONE", "find_cue", "sarcasm_cue"]

FLIP = "flip"  # the review means the opposite of what it says
TONE = "tone"  # the review means what its complaining clause says

# 才怪 at the end of a clause (or alone): "才怪你不喜欢" is not a closing 才怪.
_CAIGUAI = re.compile(r"才怪(了|呢|啦)?[吧]?(?:[,.!?;~ ]|$)")
_HEHE = re.compile(r"呵呵")
# A short quoted stretch: the quotes survive normalisation as ' " “ ” ‘ ’ 「 」.
_QUOTED = re.compile(r"[\"'“‘「『][^\"'“”‘’「」『』]{1,6}[\"'”’」』]")
# Irony is short: in a long review, quotes name books and products and 呵呵 is a laugh (on the
# corpus's validation split, TONE cues in longer reviews were wrong 14 times out of 15).
MAX_TONE_CLAUSES = 3
# 真是/真…啊: only with the stock praise of sarcasm (快, 好, 给力 …), never a bare 真.
_ZHENSHI = re.compile(r"真(是|的是)?(太|够|好)?(快|好|棒|给力|厉害|准时|神速|耐用|结实|新鲜|大方|靠谱|专业|贴心|用心)(啊|呢|呀)")


def sarcasm_cue(normalized: str) -> str | None:
    """FLIP, TONE or None for a normalised review."""
    found = find_cue(normalized)
    return found[0] if found else None


def find_cue(normalized: str) -> tuple[str, int, int] | None:
    """The cue and where it sits in the normalised text ([start, end)); the clause that holds a
    TONE cue does not count as the complaining clause that confirms it."""
    m = _CAIGUAI.search(normalized)
    if m:
        return FLIP, m.start(), m.end()
    for regex in (_HEHE, _QUOTED, _ZHENSHI):
        m = regex.search(normalized)
        if m:
            return TONE, m.start(), m.end()
    return None
