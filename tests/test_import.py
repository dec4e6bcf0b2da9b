"""Specification of `triage import FILE`: CSV / JSON Lines through the webhook's validation and ingest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service.commands.imports import cli_import

HEADER = "review_id,platform,text,rating,customer_id,customer_name,customer_ltv,product_id,created_at\n"


@pytest.fixture(autouse=True)
def _clean_redis(redis_conn):
    return redis_conn


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(*rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def stored(db) -> list[dict]:
    return [dict(r) for r in db.execute("SELECT * FROM reviews ORDER BY id")]


def summary(out: str) -> tuple[int, int, int]:
    def count(label):
        return int(re.search(rf"^{label}: (\d+)$", out, re.M).group(1))

    return count("accepted"), count("duplicates"), count("refused")


def test_csv_rows_are_stored_with_typed_values(settings, db, tmp_path, capsys):
    path = write(
        tmp_path,
        "reviews.csv",
        HEADER
        + "r1,taobao,物流太慢了,1,c1,张三,1288.5,p1,2026-11-20T10:00:00+08:00\n"
        + "r2,,质量不错,5,c2,,,p2,\n",
    )
    assert cli_import(settings, str(path)) == 0
    rows = stored(db)
    assert [(r["platform"], r["review_id"], r["rating"], r["customer_ltv"], r["customer_name"]) for r in rows] == [
        ("taobao", "r1", 1, 1288.5, "张三"),
        ("default", "r2", 5, None, None),
    ]
    assert rows[0]["created_at"] == "2026-11-20T02:00:00.000000+00:00"
    assert summary(capsys.readouterr().out) == (2, 0, 0)


def test_jsonl_rows_are_stored(settings, db, tmp_path, make_review):
    path = write(tmp_path, "reviews.jsonl", jsonl(make_review(review_id="a"), make_review(review_id="b")))
    assert cli_import(settings, str(path)) == 0
    assert [r["review_id"] for r in stored(db)] == ["a", "b"]


def test_a_csv_with_a_bom_and_a_quoted_multiline_cell(settings, db, tmp_path):
    path = write(tmp_path, "excel.csv", "\ufeff" + HEADER + 'r1,,"第一行\n第二行",,c1,,,p1,\n')
    assert cli_import(settings, str(path)) == 0
    assert stored(db)[0]["text"] == "第一行\n第二行"


def test_a_gbk_csv_from_chinese_excel_is_read(settings, db, tmp_path):
    path = write(tmp_path, "gbk.csv", (HEADER + "r1,,物流太慢了,2,c1,张三,,p1,\n").encode("gb18030"))
    assert cli_import(settings, str(path)) == 0
    assert (stored(db)[0]["text"], stored(db)[0]["customer_name"]) == ("物流太慢了", "张三")


def test_a_file_neither_utf8_nor_gb18030_is_unreadable_and_nothing_is_stored(settings, db, tmp_path, capsys):
    good = (HEADER + "r1,,物流太慢了,2,c1,,,p1,\n").encode("utf-8")
    path = write(tmp_path, "broken.csv", good + b"r2,,\xff\xfe\xff,2,c2,,,p1,\n")
    assert cli_import(settings, str(path)) == 2
    assert stored(db) == []
    assert "neither UTF-8 nor GB18030" in capsys.readouterr().err


def test_the_format_is_sniffed_without_a_known_extension(settings, db, tmp_path, make_review):
    jsonl_path = write(tmp_path, "export.txt", jsonl(make_review(review_id="j1")))
    csv_path = write(tmp_path, "export.dat", HEADER + "c1,,好评,,c1,,,p1,\n")
    assert (cli_import(settings, str(jsonl_path)), cli_import(settings, str(csv_path))) == (0, 0)
    assert [r["review_id"] for r in stored(db)] == ["j1", "c1"]


def test_platform_option_fills_rows_that_name_none(settings, db, tmp_path, make_review):
    path = write(tmp_path, "r.jsonl", jsonl(make_review(review_id="a"), make_review(review_id="b", platform="jd")))
    cli_import(settings, str(path), platform="pdd")
    assert [r["platform"] for r in stored(db)] == ["pdd", "jd"]


def test_bad_rows_are_refused_with_line_numbers_and_good_rows_imported(settings, db, tmp_path, capsys):
    path = write(
        tmp_path,
        "mixed.csv",
        HEADER
        + "r1,,好,5,c1,,,p1,\n"  # line 2
        + "r2,,,5,c1,,,p1,\n"  # line 3: no text
        + "r3,,差,4.5,c1,,abc,p1,\n"  # line 4: rating and ltv
        + "r4,,还行,3,c1,,,p1,\n",  # line 5
    )
    assert cli_import(settings, str(path)) == 0
    out = capsys.readouterr().out
    assert summary(out) == (2, 0, 2)
    assert "line 3: text: is required" in out
    assert "line 4: rating: must be an integer from 1 to 5; customer_ltv: must be a number" in out
    assert [r["review_id"] for r in stored(db)] == ["r1", "r4"]


def test_invalid_json_lines_are_refused_by_line(settings, db, tmp_path, make_review, capsys):
    path = write(tmp_path, "r.jsonl", jsonl(make_review(review_id="a")) + "{not json\n\n" + '"a string"\n')
    assert cli_import(settings, str(path)) == 0
    out = capsys.readouterr().out
    assert re.search(r"line 2: invalid JSON", out)
    assert "line 4: review must be a JSON object" in out
    assert summary(out) == (1, 0, 2)


def test_reimporting_reports_duplicates_and_stores_nothing_new(settings, db, tmp_path, make_review, capsys):
    path = write(tmp_path, "r.jsonl", jsonl(make_review(review_id="a"), make_review(review_id="b")))
    cli_import(settings, str(path))
    capsys.readouterr()
    assert cli_import(settings, str(path)) == 0
    assert summary(capsys.readouterr().out) == (0, 2, 0)
    assert len(stored(db)) == 2


def test_batches_split_the_file_without_changing_the_outcome(settings, db, tmp_path, make_review, capsys):
    rows = [make_review(review_id=str(i)) for i in range(7)] + [make_review(review_id="3")]
    path = write(tmp_path, "r.jsonl", jsonl(*rows))
    assert cli_import(settings, str(path), batch_size=3) == 0
    assert summary(capsys.readouterr().out) == (7, 1, 0)


def test_at_most_20_reasons_are_printed_but_all_are_counted(settings, tmp_path, make_review, capsys):
    rows = [make_review(review_id=str(i), text="") for i in range(25)] + [make_review(review_id="ok")]
    path = write(tmp_path, "r.jsonl", jsonl(*rows))
    assert cli_import(settings, str(path)) == 0
    out = capsys.readouterr().out
    assert summary(out) == (1, 0, 25)
    assert len(re.findall(r"^  line \d+:", out, re.M)) == 20
    assert "... and 5 more refused row(s)" in out


def test_progress_is_shown_on_stderr(settings, tmp_path, make_review, capsys):
    path = write(tmp_path, "r.jsonl", jsonl(*(make_review(review_id=str(i)) for i in range(3))))
    cli_import(settings, str(path))
    captured = capsys.readouterr()
    assert "importing r.jsonl" in captured.err and "100%" in captured.err and "3/3" in captured.err
    assert "100%" not in captured.out


def test_every_row_refused_exits_1(settings, tmp_path, make_review):
    path = write(tmp_path, "r.jsonl", jsonl(make_review(text=""), make_review(customer_id=...)))
    assert cli_import(settings, str(path)) == 1


def test_an_empty_file_exits_1(settings, tmp_path):
    assert cli_import(settings, str(write(tmp_path, "empty.csv", ""))) == 1


def test_a_missing_file_exits_2(settings, tmp_path, capsys):
    assert cli_import(settings, str(tmp_path / "nope.csv")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_csv_without_the_required_columns_exits_2(settings, tmp_path, capsys):
    path = write(tmp_path, "r.csv", "id,comment\n1,好\n")
    assert cli_import(settings, str(path)) == 2
    assert "review_id, text, customer_id, product_id" in capsys.readouterr().err


def test_a_json_array_file_exits_2_with_a_hint(settings, tmp_path, make_review, capsys):
    path = write(tmp_path, "r.json", json.dumps([make_review()]))
    assert cli_import(settings, str(path)) == 2
    assert "JSON Lines" in capsys.readouterr().err


def test_a_number_too_big_for_a_float_is_a_refused_row_not_a_crash(settings, db, tmp_path, capsys):
    huge = "1" + "0" * 400
    path = write(tmp_path, "big.jsonl", jsonl({"review_id": "ok", "text": "好评", "customer_id": "c1", "product_id": "p1"})
                 + f'{{"review_id": "big", "text": "好评", "customer_id": "c2", "product_id": "p1", "customer_ltv": {huge}}}\n')
    assert cli_import(settings, str(path)) == 0
    assert [r["review_id"] for r in stored(db)] == ["ok"]
    out = capsys.readouterr().out
    assert summary(out) == (1, 0, 1) and "line 2: customer_ltv: must be a number" in out
