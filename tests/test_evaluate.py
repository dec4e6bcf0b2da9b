"""Evaluation on a labelled file: per category and per cause, with 95% intervals."""

from __future__ import annotations

import json

import numpy as np

from classifier.evaluate import labelled_figures
from classifier.metrics import bootstrap_f1, wilson

ROWS = [
    {"text": "物流太慢了，等了一个星期", "sentiment": "negative", "causes": ["logistics"], "category": "家具"},
    {"text": "很好用，推荐", "sentiment": "positive", "causes": [], "category": "家具"},
    {"text": "发错货了", "sentiment": "negative", "causes": ["description_mismatch"], "category": "宠物"},
    {"text": "用了三天就坏了", "sentiment": "negative", "causes": ["defect"], "category": "宠物"},
    {"text": "味道不错", "sentiment": "positive", "causes": None, "category": "宠物"},
]


def test_labelled_file_figures_per_category_and_cause(classifier, tmp_path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    fig = labelled_figures(classifier, path)
    assert fig["size"] == 5
    assert fig["sentiment"]["size"] == 5
    assert set(fig["sentiment"]["groups"]) == {"家具", "宠物"}
    assert fig["causes"]["size"] == 4  # the row with unknown causes is left out of cause figures
    assert fig["causes"]["groups"]["宠物"]["size"] == 2
    lo, hi = fig["sentiment"]["ci95"]
    assert lo <= fig["sentiment"]["accuracy"] <= hi


def test_wilson_interval_brackets_the_proportion() -> None:
    lo, hi = wilson(90, 100)
    assert lo < 0.9 < hi
    assert wilson(0, 0) is None


def test_bootstrap_interval_is_seeded_and_brackets_f1() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random((200, 4)) < 0.3
    pred = truth ^ (rng.random((200, 4)) < 0.1)
    first = bootstrap_f1(truth, pred)
    assert first == bootstrap_f1(truth, pred)
    lo, hi = first["macro_specific"]
    assert 0.0 <= lo < hi <= 1.0
