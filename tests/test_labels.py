"""The team's label files: well-formed, and the evaluation-only probe never leaks into training."""

from __future__ import annotations

import csv

import pytest

from classifier.causes import CAUSES
from classifier.data import LABELS_DIR, read_cause_labels, read_own_examples, read_probe

LABEL_FILES = sorted((LABELS_DIR / "causes").glob("*.csv"))


@pytest.mark.parametrize("path", LABEL_FILES, ids=lambda p: p.name)
def test_label_file_has_one_valid_line_per_row(path) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == ["row", "causes"]
    ids = [int(r["row"]) for r in rows]
    assert len(ids) == len(set(ids)), "a row is labelled twice in one file"
    for r in rows:
        causes = [c for c in r["causes"].split(";") if c]
        assert set(causes) <= set(CAUSES)
        assert not ("other" in causes and len(causes) > 1), f"row {r['row']}: other combined with a cause"


def test_enough_rows_are_labelled_by_hand() -> None:
    assert len(read_cause_labels()) >= 1500


def test_own_examples_are_well_formed() -> None:
    examples = list(read_own_examples())
    assert len(examples) >= 500
    assert all(e.text.strip() and e.causes is not None for e in examples)


def test_the_probe_is_never_read_as_training_data() -> None:
    probe = {e.text for e in read_probe()}
    assert probe, "the evaluation probe exists"
    assert probe.isdisjoint(e.text for e in read_own_examples())


def test_the_unseen_test_set_is_never_a_training_file(tmp_path) -> None:
    import inspect

    from classifier import data

    (tmp_path / "eval_unseen.jsonl").write_text('{"text": "x", "sentiment": "negative", "causes": []}\n', "utf-8")
    (tmp_path / "own_examples_9.jsonl").write_text('{"text": "y", "sentiment": "positive", "causes": []}\n', "utf-8")
    source = inspect.getsource(data)
    assert "eval_unseen" not in source
    texts = [e.text for e in data.read_own_examples(sorted(tmp_path.glob("own_examples*.jsonl")))]
    assert texts == ["y"]


def test_round_four_examples_cover_eight_new_categories() -> None:
    training_categories = {"书籍", "平板", "手机", "水果", "洗发水", "热水器", "蒙牛", "衣服", "计算机", "酒店"}
    domains = {e.domain for e in read_own_examples(sorted(LABELS_DIR.glob("own_examples_4*.jsonl")))}
    new = domains - training_categories - {"food_delivery", "sarcasm"}
    assert len(new) >= 8, new
