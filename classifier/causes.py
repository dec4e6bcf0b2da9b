"""The complaint causes, in the order the models emit them (see docs/cause-guidelines.md)."""

from __future__ import annotations

CAUSES: tuple[str, ...] = ("logistics", "defect", "description_mismatch", "other")
# `other` is the residual cause: it applies only when the review complains and none of these does.
SPECIFIC_CAUSES: tuple[str, ...] = CAUSES[:3]
CAUSE_NAMES_ZH: dict[str, str] = {
    "logistics": "物流",
    "defect": "质量问题",
    "description_mismatch": "描述不符",
    "other": "其他",
}


def parse_causes(value: str) -> frozenset[str]:
    """Causes from the `;`-joined form used in the label files; unknown names are an error."""
    causes = frozenset(c.strip() for c in value.split(";") if c.strip())
    unknown = causes - set(CAUSES)
    if unknown:
        raise ValueError(f"unknown cause(s): {', '.join(sorted(unknown))}")
    return causes
