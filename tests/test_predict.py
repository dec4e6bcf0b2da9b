"""The classifier's batch API and the `python -m classifier predict` contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from classifier import CAUSES

CONTRACT_FIELDS = {"id", "sentiment", "negative_prob", "causes", "cause_probs"}


def run_predict(lines: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "classifier", "predict", "--input", "-", "--output", "-", *extra],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_predict_many_keeps_input_order(classifier) -> None:
    texts = ["很好用，推荐", "物流太慢了，等了一个星期", "质量很好", "用了三天就坏了"]
    batch = classifier.predict_many(texts)
    singles = [classifier.predict(t) for t in texts]
    assert [p.negative_prob for p in batch] == pytest.approx([p.negative_prob for p in singles], abs=1e-6)


def test_prediction_fields_are_well_formed(classifier) -> None:
    p = classifier.predict("东西不错，就是物流太慢")
    assert p.sentiment in {"negative", "positive"}
    assert 0.0 <= p.negative_prob <= 1.0
    assert set(p.cause_probs) == set(CAUSES)
    assert all(0.0 <= v <= 1.0 for v in p.cause_probs.values())
    assert set(p.causes) <= set(CAUSES)


def test_other_is_never_combined_with_a_specific_cause(classifier) -> None:
    for p in classifier.predict_many(["垃圾", "发错货了，颜色也不对", "快递慢，还压坏了", "客服态度差"]):
        assert not ("other" in p.causes and len(p.causes) > 1)


def test_predictions_are_deterministic(classifier) -> None:
    texts = ["色差太大", "非常满意，下次还来"]
    first = [p.to_json(i) for i, p in enumerate(classifier.predict_many(texts))]
    second = [p.to_json(i) for i, p in enumerate(classifier.predict_many(texts))]
    assert first == second


def test_empty_text_is_not_a_complaint(classifier) -> None:
    p = classifier.predict("")
    assert p.sentiment == "positive"
    assert p.causes == ()


def test_very_long_text_is_scored(classifier) -> None:
    p = classifier.predict("物流太慢了。" * 5000)
    assert p.sentiment == "negative"
    assert "logistics" in p.causes


@pytest.mark.slow
def test_cli_explains_only_when_asked() -> None:
    line = json.dumps({"id": 1, "text": "快递太慢了"}, ensure_ascii=False)
    plain = json.loads(run_predict([line], "--jobs", "1").stdout)
    explained = json.loads(run_predict([line], "--jobs", "1", "--explain").stdout)
    assert plain["terms"] == [] and explained["terms"]
    assert {k: v for k, v in plain.items() if k not in ("terms", "cause_terms")} == \
        {k: v for k, v in explained.items() if k not in ("terms", "cause_terms")}


def test_explanations_name_terms_from_the_review(classifier) -> None:
    p = classifier.predict("快递太慢了，等了一个星期才到")
    assert p.terms, "a negative review is explained by at least one term"
    assert "logistics" in p.cause_terms
    joined = "快递太慢了,等了一个星期才到"
    assert all(t.term in joined for t in p.cause_terms["logistics"])
    assert all(t.weight > 0 for t in p.terms)


@pytest.mark.slow
def test_cli_output_has_contract_fields_in_input_order() -> None:
    ids = ["a", 2, "c-3"]
    texts = ["很好", "太差了，发错货", "物流慢"]
    result = run_predict([json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in zip(ids, texts, strict=True)])
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == ids
    for row in rows:
        assert CONTRACT_FIELDS <= set(row)
        assert row["sentiment"] in {"negative", "positive"}
        assert set(row["cause_probs"]) == set(CAUSES)


@pytest.mark.slow
def test_cli_reads_and_writes_files(tmp_path) -> None:
    src = tmp_path / "in.jsonl"
    dst = tmp_path / "out.jsonl"
    src.write_text('{"id": 1, "text": "质量很差"}\n\n{"id": 2, "text": "很满意"}\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "classifier", "predict", "--input", str(src), "--output", str(dst)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(x)["id"] for x in dst.read_text(encoding="utf-8").splitlines()] == [1, 2]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        ('{"text": "no id"}', 'expected an object with "id"'),
        ('{"id": 1, "text": 5}', '"text" must be a string'),
        ("[1, 2]", 'expected an object with "id"'),
    ],
)
@pytest.mark.slow
def test_cli_rejects_bad_input_with_line_number(line: str, message: str) -> None:
    result = run_predict([line])
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.slow
def test_parallel_scoring_matches_in_process_scoring() -> None:
    lines = [json.dumps({"id": i, "text": t}, ensure_ascii=False)
             for i, t in enumerate(["很好", "太慢了", "发错货", "质量差", "满意"] * 7)]
    serial = run_predict(lines, "--jobs", "1", "--batch-size", "4")
    parallel = run_predict(lines, "--jobs", "2", "--batch-size", "4")
    assert serial.returncode == parallel.returncode == 0
    assert parallel.stdout == serial.stdout
    assert [json.loads(x)["id"] for x in parallel.stdout.splitlines()] == list(range(35))
