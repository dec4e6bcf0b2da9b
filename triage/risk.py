"""Risk of losing a customer over one review, and the case priority it implies. Pure.

A review is a **complaint** when the model reads it as negative, or the customer gave 1-2 stars
(the platforms' 差评), or the text is mixed — the model finds a complaint cause and the negative
probability is at least 0.4 ("不错，就是物流太慢"). A cause alone on a text the model reads as
clearly positive does not count: the cause thresholds favour recall (precision 0.62-0.81), and
"音质很好……推荐！" must not open a case. A review that is not a complaint — a positive review
with no complaint — never opens a case, whatever its other factors.

Factors (each in [0, 1])
------------------------

======================  ======  ===========================================================
factor                  symbol  value
======================  ======  ===========================================================
negative probability    n       the classifier's calibrated ``negative_prob``
rating                  g       1★ 1.0 · 2★ 0.75 · 3★ 0.4 · 4★ 0.1 · 5★ 0.0; no rating: g = n
causes                  c       most severe cause: defect 1.0 · description_mismatch 0.8 ·
                                logistics 0.6 · other 0.5; no cause 0
repeated complaints     k       min(p, 3) / 3, p = the customer's earlier complaints within
                                the 30 days before this review
customer value          v       1 if the customer's LTV is in the top 10 % (≥ the 90th
                                percentile of known LTVs, nearest rank), else 0
hidden complainer       h       1 if rated 4-5★ but the text complains (as above, without
                                the rating rule)
======================  ======  ===========================================================

Score
-----
::

    base = 0.45·n + 0.20·g + 0.20·c                      (at most 0.85)
    risk = 1 − (1 − base)·(1 − 0.35·k)·(1 − 0.25·v)·(1 − 0.30·h)

The three "amplifiers" (k, v, h) each close part of the remaining gap to 1, so the score stays in
[0, 1], grows with every factor, and no single amplifier decides alone. The base tops out at
0.85 on purpose: the angriest one-off 1★ defect review lands just under P1, and it takes a
repeat complaint, a top customer or a hidden complainer on top to reach P1.

Fewer stars mean more risk, with one deliberate exception: a 4-5★ review whose text complains
scores above a plain 3★ complaint. The platforms' star-based 差评 monitoring never sees it, so
nobody else will act on it, and the customer is unhappy in a way that is easy to miss.

Priority (complaints only)
--------------------------

========  ===============
priority  risk
========  ===============
P1        ≥ 0.85
P2        ≥ 0.60
P3        below 0.60
(none)    not a complaint
========  ===============

Worked examples: 1★ "用了两天就坏了" (n 0.98, defect) → 0.84, P2; the same from a top-10 %
customer → 0.88, P1; 5★ "好评，就是快递太慢" (n 0.7, logistics, a hidden complainer) → 0.60,
P2; 5★ "很好用" (n 0.05, no cause) → no case; 5★ "刮得很干净" (n 0.38, a stray defect cause)
→ no case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = [
    "CAUSE_SEVERITY",
    "P1_THRESHOLD",
    "P2_THRESHOLD",
    "RATING_SEVERITY",
    "REPEAT_WINDOW",
    "Risk",
    "RiskInput",
    "assess",
    "is_complaint",
    "is_hidden_complainer",
    "is_top_customer",
    "nearest_rank",
    "priority_for",
    "text_complains",
]

RATING_SEVERITY = {1: 1.0, 2: 0.75, 3: 0.4, 4: 0.1, 5: 0.0}
CAUSE_SEVERITY = {"defect": 1.0, "description_mismatch": 0.8, "logistics": 0.6, "other": 0.5}
W_NEGATIVE, W_RATING, W_CAUSE = 0.45, 0.20, 0.20
LIFT_REPEAT, LIFT_VALUE, LIFT_HIDDEN = 0.35, 0.25, 0.30
REPEAT_CAP = 3
REPEAT_WINDOW = timedelta(days=30)
TOP_CUSTOMER_PERCENT = 90
P1_THRESHOLD, P2_THRESHOLD = 0.85, 0.60
COMPLAINT_MAX_RATING = 2
CAUSE_MIN_NEGATIVE_PROB = 0.4  # a cause makes a complaint only with at least this negative_prob
HIDDEN_MIN_RATING = 4


@dataclass(frozen=True)
class RiskInput:
    negative_prob: float
    sentiment: str  # "negative" | "positive"
    causes: Sequence[str]
    rating: int | None
    prior_complaints: int = 0  # the customer's complaints in the 30 days before this review
    customer_ltv: float | None = None
    ltv_threshold: float | None = None  # from `triage.apply.cached_ltv_threshold`; None: unknown


@dataclass(frozen=True)
class Risk:
    score: float
    priority: str | None
    complaint: bool
    factors: dict[str, Any]  # stored as reviews.risk_factors, so agents see why

    def to_json(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), "priority": self.priority, **self.factors}


def text_complains(sentiment: str, negative_prob: float, causes: Sequence[str]) -> bool:
    return sentiment == "negative" or (bool(causes) and negative_prob >= CAUSE_MIN_NEGATIVE_PROB)


def is_complaint(sentiment: str, negative_prob: float, causes: Sequence[str], rating: int | None) -> bool:
    low_rating = rating is not None and rating <= COMPLAINT_MAX_RATING
    return low_rating or text_complains(sentiment, negative_prob, causes)


def is_hidden_complainer(sentiment: str, negative_prob: float, causes: Sequence[str], rating: int | None) -> bool:
    """Stars say happy, text says otherwise: the complaint a star-based filter misses."""
    return rating is not None and rating >= HIDDEN_MIN_RATING and text_complains(sentiment, negative_prob, causes)


def nearest_rank(count: int) -> int:
    """1-based rank of the 90th percentile among `count` sorted values (nearest-rank method)."""
    # Integer arithmetic: ceil(0.9 * 10) is 10 in floating point (0.9 * 10 = 9.000000000000002).
    return max(-(-TOP_CUSTOMER_PERCENT * count // 100), 1)


def is_top_customer(ltv: float | None, threshold: float | None) -> bool:
    return ltv is not None and threshold is not None and ltv >= threshold


def priority_for(score: float, complaint: bool) -> str | None:
    if not complaint:
        return None
    if score >= P1_THRESHOLD:
        return "P1"
    if score >= P2_THRESHOLD:
        return "P2"
    return "P3"


def assess(inp: RiskInput) -> Risk:
    """The risk score and priority of one review (see the module docstring for the formula)."""
    n = min(max(float(inp.negative_prob), 0.0), 1.0)
    g = RATING_SEVERITY[inp.rating] if inp.rating in RATING_SEVERITY else n
    c = max((CAUSE_SEVERITY.get(cause, CAUSE_SEVERITY["other"]) for cause in inp.causes), default=0.0)
    k = min(max(inp.prior_complaints, 0), REPEAT_CAP) / REPEAT_CAP
    v = 1.0 if is_top_customer(inp.customer_ltv, inp.ltv_threshold) else 0.0
    h = 1.0 if is_hidden_complainer(inp.sentiment, n, inp.causes, inp.rating) else 0.0
    base = W_NEGATIVE * n + W_RATING * g + W_CAUSE * c
    score = 1 - (1 - base) * (1 - LIFT_REPEAT * k) * (1 - LIFT_VALUE * v) * (1 - LIFT_HIDDEN * h)
    score = min(max(score, 0.0), 1.0)
    complaint = is_complaint(inp.sentiment, n, inp.causes, inp.rating)
    factors = {
        "negative_prob": round(n, 4),
        "rating": round(g, 4),
        "causes": round(c, 4),
        "prior_complaints": inp.prior_complaints,
        "top_customer": bool(v),
        "hidden_complainer": bool(h),
        "complaint": complaint,
    }
    return Risk(score, priority_for(score, complaint), complaint, factors)
