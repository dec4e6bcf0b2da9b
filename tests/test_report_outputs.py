"""JSON, CSV and HTML show the same figures; HTML is self-contained and escapes connector text."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest

from service.commands.reports import cli_weekly
from tests.report_rows import add_case, add_review, add_reviews
from triage.reports.charts import pct
from triage.reports.render import render_csv, render_html, render_json
from triage.reports.weekly import build_weekly
from triage.reports.weeks import IsoWeek

W48 = IsoWeek(2026, 48)
NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
MID = "2026-11-25T12:00:00+08:00"
EVIL = "<script>alert('x')</script>保温杯"


@pytest.fixture()
def filled(db):
    add_reviews(db, 6, MID, sentiment="negative", rating=1, causes=["logistics"], category="家居", product_id="p-evil",
                product_name=EVIL)
    add_reviews(db, 2, MID, sentiment="negative", rating=5, causes=["defect", "description_mismatch"],
                category="数码", product_id="p2", product_name="蓝牙耳机")
    add_reviews(db, 20, MID, sentiment="positive", rating=5, category="数码", product_id="p2", product_name="蓝牙耳机")
    add_reviews(db, 3, MID, category=None, product_id="p3")
    add_reviews(db, 4, "2026-11-18T12:00:00+08:00", sentiment="negative", rating=2, category="家居")
    add_case(db, "2026-11-25T10:00:00+08:00", first_contact_due="2026-11-25T18:00:00+08:00",
             first_contacted_at="2026-11-25T10:30:00+08:00", resolution_due="2026-11-27T18:00:00+08:00")
    return db


@pytest.fixture()
def report(filled):
    return build_weekly(filled, W48, "Asia/Shanghai", now=NOW)


def csv_table(data: bytes) -> dict[tuple[str, str, str], str]:
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    return {(r["section"], r["key"], r["metric"]): r["value"] for r in rows}


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def test_json_is_the_report(report):
    assert json.loads(render_json(report)) == report


def test_csv_starts_with_a_bom_and_the_documented_header(report):
    data = render_csv(report)
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines()[0] == "section,key,label,metric,value"


def test_csv_holds_the_json_figures(report):
    table = csv_table(render_csv(report))
    for metric in ("reviews", "negative", "negative_rate", "rating_negative_rate", "hidden_complaint_rate", "scored"):
        assert number(table["summary", "", metric]) == report[metric], metric
    for cause, n in report["by_cause"].items():
        assert int(table["by_cause", cause, "reviews"]) == n
    for item in report["by_category"]:
        for metric in ("reviews", "negative", "negative_rate"):
            assert number(table["by_category", item["category"] or "", metric]) == item[metric]
    for rank, item in enumerate(report["top_products"], start=1):
        assert int(table["top_products", item["product_id"], "rank"]) == rank
        assert int(table["top_products", item["product_id"], "negative"]) == item["negative"]
    for metric, value in report["cases"].items():
        assert number(table["cases", "", metric]) == value
    for item in report["trend"]:
        assert int(table["trend", item["week"], "reviews"]) == item["reviews"]
    assert number(table["previous", "2026-W47", "negative_rate"]) == report["previous"]["negative_rate"]


def html_metric(html: str, attribute: str, key: str) -> str:
    match = re.search(rf'data-{attribute}="{re.escape(key)}">([^<]*)<', html)
    assert match, f"no data-{attribute}={key}"
    return match[1]


def test_html_shows_the_json_figures(report):
    html = render_html(report)
    assert html_metric(html, "metric", "reviews") == f"{report['reviews']:,}"
    assert html_metric(html, "metric", "negative") == f"{report['negative']:,}"
    for metric in ("negative_rate", "rating_negative_rate", "hidden_complaint_rate"):
        assert html_metric(html, "metric", metric) == pct(report[metric])
    for cause, n in report["by_cause"].items():
        assert html_metric(html, "cause", cause) == f"{n:,}"
    for metric, value in report["cases"].items():
        assert html_metric(html, "case", metric) == ("—" if value is None else f"{value:,}")
    for item in report["trend"]:
        assert html_metric(html, "trend", f"{item['week']}:negative_rate") == pct(item["negative_rate"])


def test_the_three_formats_agree_through_the_command_line(filled, settings, tmp_path):
    outputs = {}
    for fmt in ("json", "csv", "html"):
        path = tmp_path / f"report.{fmt}"
        assert cli_weekly(settings, week="2026-W48", fmt=fmt, output=str(path)) == 0
        outputs[fmt] = path.read_bytes()
    report = json.loads(outputs["json"])
    table = csv_table(outputs["csv"])
    html = outputs["html"].decode("utf-8")
    assert int(table["summary", "", "negative"]) == report["negative"] == 8
    assert number(table["summary", "", "negative_rate"]) == report["negative_rate"] == 8 / 31
    assert html_metric(html, "metric", "negative_rate") == pct(report["negative_rate"]) == "25.81%"
    assert html_metric(html, "metric", "rating_negative_rate") == pct(report["rating_negative_rate"]) == "21.43%"


def test_html_has_no_external_references(report):
    html = render_html(report)
    for needle in ("http://", "https://", "src=", "<script", "<link", "@import", "url(", "//fonts"):
        assert needle not in html.lower(), needle


def test_html_escapes_connector_text(report):
    html = render_html(report)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;保温杯" in html
    assert "<script>" not in html


def test_html_declares_utf8_and_a_cjk_font_stack_and_carries_chinese(report):
    html = render_html(report)
    assert '<meta charset="utf-8">' in html
    assert '"Noto Sans CJK SC"' in html and '"Microsoft YaHei"' in html and '"PingFang SC"' in html
    assert "差评周报 2026-W48" in html and "物流" in html and "蓝牙耳机" in html


def test_html_charts_are_inline_well_formed_svg(report):
    charts = re.findall(r"<svg\b.*?</svg>", render_html(report), flags=re.S)
    assert len(charts) == 3
    parsed = [ElementTree.fromstring(chart) for chart in charts]  # raises on malformed markup
    texts = {t.text for chart in parsed for t in chart.iter("text")}
    assert {"W48", "物流", "数码"} <= texts
    assert "家居" not in texts  # 8 reviews: too few for a rate bar (it stays in the table)


def test_an_empty_week_renders_in_every_format(db):
    empty = build_weekly(db, W48, "Asia/Shanghai", now=NOW)
    assert "本周没有评价" in render_html(empty)
    assert csv_table(render_csv(empty))["summary", "", "negative_rate"] == ""
    assert json.loads(render_json(empty))["negative_rate"] is None


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1", "-1+2", "@SUM(A1)"])
def test_csv_keeps_formula_like_names_as_text(db, name):
    add_review(db, MID, sentiment="negative", product_id="p", product_name=name)
    data = render_csv(build_weekly(db, W48, "Asia/Shanghai", now=NOW))
    rows = [r for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig"))) if r["section"] == "top_products"]
    assert {r["label"] for r in rows} == {"'" + name}


def test_cli_refuses_a_week_that_does_not_exist(settings, capsys):
    assert cli_weekly(settings, week="2027-W53", fmt="json") == 2
    assert "2027 has 52 ISO weeks" in capsys.readouterr().err


def test_cli_writes_to_stdout_without_output(filled, settings, capsysbinary):
    assert cli_weekly(settings, week="2026-W48", fmt="csv") == 0
    assert capsysbinary.readouterr().out.startswith(b"\xef\xbb\xbfsection,key,label,metric,value")
