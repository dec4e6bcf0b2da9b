"""A short fingerprint of a review text, shared by the scoring host and the database host.

Scoring results carry the fingerprint of the text they scored, so the database host can tell
results for a review's earlier revision (scored while the customer edited it) from results for
its current text. No sqlite3 here: the scoring host imports this.
"""

from __future__ import annotations

import hashlib

__all__ = ["text_fingerprint"]


def text_fingerprint(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
