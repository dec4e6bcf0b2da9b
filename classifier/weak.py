"""Labelling functions for weak supervision of complaint causes.

Each function looks at a normalised review and votes for one cause. They were written by reading
the hand-labelled training rows (never the held-out test rows) and are deliberately high-precision:
they add examples the seed set lacks, not decisions the model must copy. A vote is suppressed when
the cue is negated or reassured ("没有色差", "没压坏", "不是假货").
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["LABELLING_FUNCTIONS", "weak_causes"]

_NEGATED = re.compile(r"(没有|没|不是|并非|无|不会|未|担心|怕|以为|本来)$")


def _matcher(cause: str, pattern: str) -> Callable[[str], str | None]:
    regex = re.compile(pattern)

    def vote(text: str) -> str | None:
        for m in regex.finditer(text):
            if not _NEGATED.search(text[max(0, m.start() - 4):m.start()]):
                return cause
        return None

    vote.__name__ = f"lf_{cause}"
    return vote


LABELLING_FUNCTIONS: tuple[Callable[[str], str | None], ...] = (
    _matcher("logistics", r"(快递|物流|送货|配送|发货|到货|派送|送餐|骑手|外卖小哥|快递员|送货员)[^,.!?;。]{0,6}"
                          r"(太慢|很慢|慢死|超慢|慢了|慢得|好慢|真慢|特别慢|极其慢|非常慢|龟速|蜗牛|延迟|晚了|超时|跟不上|太差|很差|态度(差|恶劣|不好|太差)|不送|没送到|不让验货|不给看)"),
    _matcher("logistics", r"([一二三四五六七八九十两0-9]+(天|个星期|星期|周|个小时|小时|分钟))才(到|送到|收到|发货|送来)"),
    _matcher("logistics", r"(不送上门|不(给|肯)?送上楼|没(有)?收到(货|东西|商品)|(钱给了|付款)[^,.!?]{0,4}不发货|不发货|发货(太)?慢|包装(太|很|也太|特别)?(差|垃圾|简陋|太烂)|让我自己(去)?取|送错(地方|了地址)|(包裹|快递)丢了|(外)?包装[^,.!?]{0,4}(压坏|破损|破了|烂了)|压坏了|压扁了|(汤|粥|汁)(洒|撒)了)"),
    _matcher("defect", r"(坏了|用了?[一二三四五六七八九十两几0-9]+(天|次|个月|周)就(坏|不能用|不行)|死机|黑屏|花屏|蓝屏|坏点|漏液|漏水|掉色|褪色|起球|开线|脱线|划痕|发霉|变质|烂了|腐烂|过期|有虫|头发|异物|臭了|馊了|不制热|不能开机|开不了机|充不进电)"),
    _matcher("description_mismatch", r"(色差|与描述不符|描述不符|和图片不(一样|符)|与图片不(一样|符)|图片不符|实物与|发错|错发|少发|漏发|少送|漏送|少了[一两几0-9]|赠品(没|呢|在哪)|假货|不是正品|盗版|高仿|山寨|翻新|二手|尺码(不准|偏大|偏小|不标准)|偏大|偏小|缺斤少两|不一样)"),
    _matcher("other", r"(客服[^,.!?]{0,6}(态度|不理|不回|差|垃圾)|降价|价保|保价|太贵|不值|性价比(低|不高|太低)|不好吃|难吃|一般般|太咸|太淡|太油)"),
)


def weak_causes(normalized: str) -> set[str]:
    """Causes voted for by the labelling functions; `other` only when no specific cause fired."""
    votes = {cause for lf in LABELLING_FUNCTIONS if (cause := lf(normalized))}
    if len(votes) > 1:
        votes.discard("other")
    return votes
