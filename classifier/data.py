"""Training and evaluation data: the shared sentiment corpus and the project's own cause labels.

The corpus is read from `../shared/datasets/` at training time and never copied into the project;
cause labels are kept as row references into it (`labels/causes/*.csv`) plus example texts the
team wrote itself (`labels/own_examples.jsonl`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classifier.causes import parse_causes

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "datasets" / "online_shopping_train.csv"
LABELS_DIR = REPO_ROOT / "labels"
# The second annotation pass exists to measure agreement; training uses the first pass only.
SECOND_PASS = "second_pass.csv"
# Rows picked by active learning (the model was unsure of them) train but never test: a test set
# chosen for being hard would understate how the model does on the real stream.
ACTIVE_PREFIX = "active_"
REVIEW_PREFIX = "review_"


# The held-out splits, by content hash or row id (see `in_validation`): train leaves them out,
# evaluate rebuilds them.
SENTIMENT_VAL_PERCENT = 10
OWN_VAL_PERCENT = 20
CAUSE_TEST_PERCENT = 20


class DataError(Exception):
    """Training data is missing or malformed."""


@dataclass(frozen=True)
class CorpusRow:
    row: int  # 0-based index of the data row in the CSV (header excluded): the labels' reference
    category: str
    positive: bool
    text: str


@dataclass(frozen=True)
class Example:
    """A review with a sentiment and, when known, its causes (None: causes not labelled)."""

    text: str
    negative: bool
    causes: frozenset[str] | None
    source: str
    domain: str = ""


def corpus_path() -> Path:
    return Path(os.environ.get("TRIAGE_CORPUS", DEFAULT_CORPUS))


def read_corpus(path: Path | None = None) -> list[CorpusRow]:
    path = path or corpus_path()
    if not path.exists():
        raise DataError(
            f"sentiment corpus not found at {path}; it lives in ../shared/datasets/ beside the repo "
            "(or set TRIAGE_CORPUS)"
        )
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"cat", "label", "review"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return [
            CorpusRow(i, r["cat"], r["label"].strip() == "1", (r["review"] or "").lstrip("\ufeff"))
            for i, r in enumerate(reader)
        ]


def _read_label_file(path: Path) -> Iterator[tuple[int, frozenset[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        for lineno, rec in enumerate(csv.DictReader(fh), start=2):
            try:
                yield int(rec["row"]), parse_causes(rec["causes"] or "")
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}:{lineno}: {exc}") from exc


def read_cause_labels(directory: Path | None = None, *, include_second_pass: bool = False) -> dict[int, frozenset[str]]:
    """Hand labels by corpus row.

    A row labelled in two batches keeps its first label; consistency reviews (`review_*.csv`,
    a second reading of rows on the boundaries the first round disagreed about) override both.
    """
    directory = directory or LABELS_DIR / "causes"
    labels: dict[int, frozenset[str]] = {}
    files = sorted(p for p in directory.glob("*.csv") if include_second_pass or p.name != SECOND_PASS)
    for path in (p for p in files if not p.name.startswith(REVIEW_PREFIX)):
        for row, causes in _read_label_file(path):
            labels.setdefault(row, causes)
    for path in (p for p in files if p.name.startswith(REVIEW_PREFIX)):
        labels.update(_read_label_file(path))
    return labels


def train_only_rows(directory: Path | None = None) -> frozenset[int]:
    directory = directory or LABELS_DIR / "causes"
    rows: set[int] = set()
    for path in sorted(directory.glob(f"{ACTIVE_PREFIX}*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            rows.update(int(r["row"]) for r in csv.DictReader(fh))
    return frozenset(rows)


def is_cause_test_row(row: int, train_only: frozenset[int], percent: int) -> bool:
    """The cause test split: a fixed 20% of hand-labelled rows by row id, minus train-only rows."""
    return row not in train_only and in_validation(f"cause-test:{row}", percent)


def read_second_pass(directory: Path | None = None) -> dict[int, frozenset[str]]:
    path = (directory or LABELS_DIR / "causes") / SECOND_PASS
    with path.open(encoding="utf-8", newline="") as fh:
        return {int(r["row"]): parse_causes(r["causes"] or "") for r in csv.DictReader(fh)}


def read_own_examples(paths: list[Path] | None = None) -> Iterator[Example]:
    """Example reviews the team wrote itself (`labels/own_examples*.jsonl`)."""
    for path in paths if paths is not None else sorted(LABELS_DIR.glob("own_examples*.jsonl")):
        yield from _read_own_file(path)


PROBE_FOOD_DELIVERY = LABELS_DIR / "probe_food_delivery.jsonl"


def read_probe(path: Path = PROBE_FOOD_DELIVERY) -> list[Example]:
    """An evaluation-only set (never trained on): food-delivery reviews written independently of
    the training examples, by an annotator who had not seen them.

    Texts that also occur among the training examples (short stock phrases like 好吃 that two
    writers produce independently) are left out, so nothing measured here was seen in training.
    """
    if not path.exists():
        return []
    seen = {e.text.strip() for e in read_own_examples()}
    return [e for e in _read_own_file(path) if e.text.strip() not in seen]


def _read_own_file(path: Path) -> Iterator[Example]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                yield Example(
                    text=rec["text"],
                    negative=rec["sentiment"] == "negative",
                    causes=frozenset(parse_causes(";".join(rec["causes"]))),
                    source="own",
                    domain=rec.get("domain", "food_delivery" if "probe" in path.name else ""),
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise DataError(f"{path}:{lineno}: {exc}") from exc


@dataclass(frozen=True)
class ExtraRow:
    """A correction to train on (`python -m classifier train --extra FILE`): either part may be
    unknown (None), and only the known parts train."""

    text: str
    negative: bool | None
    causes: frozenset[str] | None


def read_extra(path: Path) -> list[ExtraRow]:
    """JSON Lines `{"text", "sentiment": "negative"|"positive"|null, "causes": [...]|null}`, as the
    triage service exports agents' corrections. Every row trains; none is held out."""
    rows: list[ExtraRow] = []
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{where}: not JSON") from exc
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str) or not rec["text"].strip():
                raise DataError(f'{where}: expected an object with a non-empty "text"')
            sentiment = rec.get("sentiment")
            if sentiment not in (None, "negative", "positive"):
                raise DataError(f'{where}: "sentiment" must be "negative", "positive" or null')
            causes = rec.get("causes")
            if causes is not None:
                if not isinstance(causes, list) or not all(isinstance(c, str) for c in causes):
                    raise DataError(f'{where}: "causes" must be a list of cause names or null')
                try:
                    causes = parse_causes(";".join(causes))
                except ValueError as exc:
                    raise DataError(f"{where}: {exc}") from exc
                if "other" in causes and len(causes) > 1:
                    raise DataError(f"{where}: 'other' cannot be combined with a specific cause")
            if sentiment is None and causes is None:
                continue  # nothing to learn from
            rows.append(ExtraRow(rec["text"], None if sentiment is None else sentiment == "negative", causes))
    return rows


def in_validation(text: str, percent: int) -> bool:
    """Stable split by content: identical texts always fall on the same side, so duplicates in the
    corpus cannot leak from training into validation."""
    digest = hashlib.sha1(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent
