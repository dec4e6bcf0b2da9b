"""The JSON columns of a scored review, as the score job ships them and `triage.apply` stores them.

Pure (no database): the scoring machines import it, so serialising happens where the work scales
out, not in the single database writer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["stored_json"]


def stored_json(result: Mapping[str, Any]) -> dict[str, str]:
    """{"causes", "cause_probs", "terms", "complaints"}: the reviews columns' JSON text for one score result."""
    return {
        "causes": json.dumps(list(result["causes"])),
        "cause_probs": json.dumps(result.get("cause_probs") or {}),
        "terms": json.dumps({"sentiment": result.get("terms") or [], "causes": result.get("cause_terms") or {}},
                            ensure_ascii=False),
        "complaints": json.dumps(list(result.get("complaints") or []), ensure_ascii=False),
    }

