"""Case priority: the rules, in one place, and the reasons a case shows for its priority. Pure.

The rules
---------
1. **Risk.** A complaint's priority comes from its risk score (`triage.risk`: P1 ≥ 0.85, P2 ≥ 0.60,
   else P3). The score already weighs the negative probability, the rating, the cause, repeat
   complaints, a top-10 % customer and a hidden complainer.
2. **Safety is P1.** A complaint whose original text reports a safety risk — injury, burns, fire
   or smoke, exploding or swelling batteries, electric shock, allergy, food poisoning, choking, or a
   child hurt or put at risk by the product — is P1 whatever its score. The terms are a reviewed
   list (`SAFETY_RULES`) matched on the original text (full-width forms folded); a term preceded
   by a negation or a prevention word (不/没/无/未/防 …: "不会过敏", "防烫伤") does not count, and a
   child word counts only next to a hazard ("婴儿车轮子掉了" yes, "孩子很喜欢" no). Safety raises
   a complaint; it does not by itself make a review a complaint (a 5★ "没有异味" is not one).
3. **Top customers first.** A complaint from a top-10 % customer by lifetime value (the
   threshold of `triage.apply.cached_ltv_threshold`) gives its case value tier ``top``; the queue
   order (`triage.cases.queue`, ``sort=queue``) puts every ``top`` case above every ``regular`` one of
   the same priority, and then the nearest due time.
4. **Within 48 hours.** The default SLA policy (`triage.sla`) resolves every complaint within 48
   wall-clock hours (P1 within 24), the customer's clock, not business hours; first contact is due
   within 1 / 4 / 8 business hours for P1 / P2 / P3.
5. **A case keeps its highest priority.** A later review of the same customer joins the case and
   may raise its priority, never lower it.

Every case stores its ``priority_reasons``: short reasons with a code and a Chinese label, e.g.
``{"code": "safety", "label": "安全风险：烫伤"}``, shown on the case page, so nobody has to guess
why a case is where it is in the queue.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from triage.risk import P1_THRESHOLD, P2_THRESHOLD, Risk

__all__ = [
    "SAFETY_RULES",
    "Priority",
    "SafetyHit",
    "decide",
    "merge_reasons",
    "safety_hits",
]

CAUSE_LABELS = {"defect": "质量问题", "logistics": "物流问题", "description_mismatch": "描述不符", "other": "其他问题"}

# (code, label, terms). Terms are regular expressions over the folded original text. Reviewed
# for the usual false friends: "划伤" alone is mostly a scratched product ("外壳有划伤"), so only
# a body part makes it an injury; "中毒" alone is slang for "addicted" ("吃了就中毒"), so only
# 食物中毒 and its symptoms count; "炸" alone is frying ("炸鸡").
_BODY = "(?:手|手指|脚|腿|脸|嘴|眼睛|皮肤|胳膊|头|身上|孩子|宝宝|小孩|婴儿|人)"
SAFETY_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("burn", "烫伤", ("烫伤", "烧伤", "灼伤", f"{_BODY}.{{0,3}}烫(?:红|起泡|破|到)", "烫起泡")),
    ("fire", "起火冒烟", ("起火", "着火", "冒烟", "冒火", "自燃", "烧焦", "火花", "冒出火")),
    ("explosion", "爆炸", ("爆炸", "炸裂", "炸开", "爆开", "电池鼓包", "鼓包", "爆燃")),
    ("electric", "漏电触电", ("漏电", "触电", "电到(?:手|人|我)", "被电(?:了|到)", "电击", "麻手")),
    ("injury", "受伤", ("受伤", "割伤", "扎伤", "砸伤", "夹伤", "摔伤", "刮伤", "流血", "出血", "骨折",
                        f"{_BODY}.{{0,3}}(?:划|割|扎|夹|刮)(?:伤|破|出血|了个口)", "划伤(?:了)?" + _BODY,
                        "伤到" + _BODY, "伤了" + _BODY)),
    ("allergy", "过敏", ("过敏", "起疹子", "起红疹", "皮疹", "红肿", "起包")),
    ("food_poisoning", "食品安全", ("食物中毒", "拉肚子", "腹泻", "上吐下泻", "呕吐", "吃坏肚子", "肚子疼",
                                     "发霉", "霉变", "变质", "吃出(?:虫|头发|异物|玻璃|铁丝)")),
    ("choking", "窒息误吞", ("窒息", "噎住", "卡喉咙", "卡在喉咙", "误吞", "吞下去", "吞进")),
)
# A child word makes a safety risk only next to a hazard (within a few characters either way).
_CHILD = "(?:孩子|小孩|婴儿|宝宝|儿童|幼儿|娃)"
_CHILD_HAZARD = "(?:掉了|脱落|松动|断了|断裂|散架|翻了|倒了|摔|夹|割|划|扎|尖|锋利|小零件|零件掉|吞|吃进|烫|异味刺鼻|甲醛)"
_CHILD_RULE = ("child", "儿童安全", (f"{_CHILD}.{{0,12}}{_CHILD_HAZARD}", f"{_CHILD_HAZARD}.{{0,8}}{_CHILD}"))
# Words that turn a following term into a non-event or a feature: "不会过敏", "没有漏电", "防烫伤".
_NEGATION = re.compile(r"(?:不|没|無|无|未|别|防|免|避免|不会|没有|不用担心)$")
_COMPILED = tuple((code, label, re.compile("|".join(terms))) for code, label, terms in (*SAFETY_RULES, _CHILD_RULE))


@dataclass(frozen=True)
class SafetyHit:
    code: str  # burn, fire, explosion, electric, injury, allergy, food_poisoning, choking, child
    label: str  # Chinese, for the case page
    term: str  # the text that matched
    start: int  # offsets into the original text
    end: int


def _fold(text: str) -> str:
    # Full-width letters/digits/punctuation to their usual forms; NFKC keeps the length of CJK text
    # the same, so offsets still point into the original. (Where it would not, fall back.)
    folded = unicodedata.normalize("NFKC", text)
    return folded if len(folded) == len(text) else text


def safety_hits(text: str) -> list[SafetyHit]:
    """Every safety risk the text reports, one hit per kind (its first un-negated mention)."""
    folded = _fold(text)
    hits = []
    for code, label, pattern in _COMPILED:
        for match in pattern.finditer(folded):
            before = folded[max(0, match.start() - 4):match.start()].replace("不小心", "")  # "accidentally"
            if _NEGATION.search(before) or re.search(r"(?:不|没|无|防)[^，。,.!！?？]{0,2}$", before):
                continue
            hits.append(SafetyHit(code, label, text[match.start():match.end()], match.start(), match.end()))
            break
    return hits


@dataclass(frozen=True)
class Priority:
    priority: str | None  # None: not a complaint, no case
    reasons: list[dict[str, str]]
    safety: list[SafetyHit]


def _reason(code: str, label: str) -> dict[str, str]:
    return {"code": code, "label": label}


def decide(assessed: Risk, text: str, causes: Sequence[str], rating: int | None) -> Priority:
    """The priority of one scored review (see the module docstring) and its reasons."""
    if not assessed.complaint:
        return Priority(None, [], [])
    hits = safety_hits(text)
    priority = "P1" if hits else assessed.priority
    reasons = [_reason("safety", f"安全风险：{hit.label}（“{hit.term}”）") for hit in hits]
    factors = assessed.factors
    if factors.get("top_customer"):
        reasons.append(_reason("top_customer", "高价值客户（消费额前10%）"))
    if assessed.score >= P1_THRESHOLD:
        label = f"流失风险高（{assessed.score:.2f} ≥ {P1_THRESHOLD}）"
    elif assessed.score >= P2_THRESHOLD:
        label = f"流失风险中（{assessed.score:.2f} ≥ {P2_THRESHOLD}）"
    else:
        label = f"流失风险低（{assessed.score:.2f}）"
    reasons.append({**_reason("risk", label), "score": round(assessed.score, 4)})
    if rating is not None and rating <= 2:
        reasons.append(_reason("low_rating", f"{rating}星差评"))
    if factors.get("hidden_complainer"):
        reasons.append(_reason("hidden_complainer", "好评里的抱怨（星级看不出来）"))
    prior = factors.get("prior_complaints") or 0
    if prior:
        reasons.append(_reason("repeat", f"30天内第{prior + 1}次投诉"))
    for cause in causes:
        if cause in CAUSE_LABELS and cause != "other":
            reasons.append(_reason(f"cause_{cause}", CAUSE_LABELS[cause]))
    return Priority(priority, reasons, hits)


def merge_reasons(existing: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A case's reasons after another review joins: safety first, each reason once (the highest
    risk figure stays, as the case keeps its highest priority; a later repeat count replaces an
    earlier one)."""
    merged: dict[str, dict[str, Any]] = {}
    for reason in (*existing, *new):
        key = reason["label"] if reason["code"] == "safety" else reason["code"]
        kept = merged.get(key)
        if kept is not None and reason["code"] == "risk" and kept.get("score", 0) >= reason.get("score", 0):
            continue
        merged[key] = reason
    return sorted(merged.values(), key=lambda r: (r["code"] != "safety", r["code"] != "top_customer"))
