"""Agents' corrections of the model, exported as training rows for the next model.

`export_rows` yields one row per corrected review text, in the format
``python -m classifier train --extra FILE.jsonl`` reads::

    {"text": "...", "sentiment": "negative" | "positive" | null, "causes": [...] | null}

``null`` means "no correction of that part" (the trainer learns only what is given). When several
agents corrected the same text, the latest correction of each part wins. A correction belongs to
the text the agent saw: the review's revision at the time (an edited review's earlier text is
taken from ``review_revisions``), so a customer's later edit cannot pair a correction with text it
was not about. Each row also carries provenance fields the trainer ignores (``review``,
``revision``, ``agent``, ``at``, ``model_version``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any, TextIO

from triage.timeutil import wire_from_db

__all__ = ["export_jsonl", "export_rows"]

_QUERY = """
    SELECT c.id, c.review_pk, c.agent, c.at, c.sentiment, c.causes, c.model_version,
           COALESCE(c.revision, r.revision) AS revision, r.platform, r.review_id,
           CASE WHEN COALESCE(c.revision, r.revision) = r.revision THEN r.text ELSE v.text END AS text
    FROM corrections c
    JOIN reviews r ON r.id = c.review_pk
    LEFT JOIN review_revisions v ON v.review_pk = c.review_pk AND v.revision = c.revision
    ORDER BY c.review_pk, revision, c.at, c.id
"""


def export_rows(conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    """Training rows, one per (review, revision) that was corrected, in review order."""
    current: dict[str, Any] | None = None
    for row in conn.execute(_QUERY):
        if row["text"] is None:
            continue  # the revision's text is gone (cannot happen through the app)
        key = (row["review_pk"], row["revision"])
        if current is None or current["_key"] != key:
            if current is not None:
                yield _finish(current)
            current = {"_key": key, "text": row["text"], "sentiment": None, "causes": None,
                       "review": f"{row['platform']}/{row['review_id']}", "revision": row["revision"]}
        if row["sentiment"] is not None:
            current["sentiment"] = row["sentiment"]
        if row["causes"] is not None:
            current["causes"] = json.loads(row["causes"])
        current.update(agent=row["agent"], at=wire_from_db(row["at"]), model_version=row["model_version"])
    if current is not None:
        yield _finish(current)


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("_key")
    return row


def export_jsonl(conn: sqlite3.Connection, out: TextIO) -> int:
    """Write `export_rows` as JSON Lines to `out`; how many rows were written."""
    count = 0
    for row in export_rows(conn):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
