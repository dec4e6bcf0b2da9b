"""The report in three formats: JSON, CSV (for Excel) and a self-contained HTML page.

HTML: one file with inline CSS and inline SVG charts drawn here on the server — no scripts, no
web fonts, no external references — so the CLI's output opens from disk and prints. Chinese
text relies on the reader's system fonts (a CJK font stack in the CSS) and `<meta charset>`.
The page served at /reports/weekly is the same template with navigation `PageLinks` added.
Jinja2 autoescaping is on: product and category names come from connectors, i.e. strangers.

CSV layout (one tidy table, UTF-8 with BOM so Excel shows Chinese; RFC 4180 quoting):

    section,key,label,metric,value

    section   report | summary | previous | change | by_cause | by_category | categories_by_rate |
              top_products | top_products_by_rate | cases | trend | cs_shift | cs_agent | cs_overall |
              sla_by_priority | breached_cases | alerts | alerts_by_cause | alerts_items
    key       the item within the section: cause code, category, product_id, ISO week; empty
              for single-row sections (summary, change, cases, report)
    label     a human name for the key: 物流 for logistics, the product name, 未分类 for reviews
              without a category, the week's start date in the trend
    metric    the figure's name as in the JSON object (reviews, negative, negative_rate, ...)
    value     integers as digits; rates as ratios 0..1 in full precision (format as % in
              Excel); empty for null; text as is

Every rate comes with its n: `negative_rate_n` beside `negative_rate` in the summary, and in the
CS sections each rate as three rows `<rate>_count`, `<rate>_n`, `<rate>_rate` (e.g. `satisfaction_count`,
`satisfaction_n`, `satisfaction_rate`), plus `change_<rate>` for week-on-week differences. In Excel:
Insert → PivotTable over the whole sheet, `section` as a filter, `key` (or `label`) as rows, `metric`
as columns, `value` as values (Sum; each cell holds exactly one row). The CS sections' keys are
shift names (cs_shift) and agent usernames (cs_agent); `cs_overall` has an empty key.

Text cells that Excel would take for a formula (starting with = + - @ or a tab/CR) are
prefixed with an apostrophe, so a product named "=HYPERLINK(...)" stays text.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from classifier.causes import CAUSE_NAMES_ZH
from triage.reports.charts import bar_chart, line_chart, pct

__all__ = ["CAUSE_LABELS", "PageLinks", "render_csv", "render_html", "render_json"]

CAUSE_LABELS = CAUSE_NAMES_ZH
UNCATEGORISED = "未分类"
CHART_CATEGORIES = 10

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class PastReport:
    week: str
    url: str
    generated_at: str | None
    model_version: str | None


@dataclass
class PageLinks:
    """Navigation shown on the served page; the standalone file has none (nothing to link to)."""

    previous_url: str
    next_url: str | None
    csv_url: str
    json_url: str | None = None
    past: list[PastReport] = field(default_factory=list)


def render_json(report: dict[str, Any]) -> bytes:
    return (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# CSV


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # repr round-trips floats exactly
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _csv_rows(report: dict[str, Any]) -> list[tuple[str, Any, Any, str, Any]]:
    rows: list[tuple[str, Any, Any, str, Any]] = []
    for metric in ("week", "start", "end", "timezone", "generated_at", "model_version", "published", "complete"):
        rows.append(("report", "", "", metric, report.get(metric)))
    for metric in ("reviews", "negative", "negative_rate", "scored", "rated", "rating_negative",
                   "rating_negative_rate", "hidden_complaints", "hidden_complaint_rate"):
        rows.append(("summary", "", "", metric, report[metric]))
    previous = report["previous"]
    for metric, value in previous.items():
        if metric != "week":
            rows.append(("previous", previous["week"], "", metric, value))
    for metric, n in report.get("rates_n", {}).items():
        rows.append(("summary", "", "", f"{metric}_n", n))
    for metric, value in report["change"].items():
        rows.append(("change", "", "", metric, value))
    for cause, n in report["by_cause"].items():
        rows.append(("by_cause", cause, CAUSE_LABELS.get(cause, cause), "reviews", n))
    for item in report["by_category"]:
        for metric in ("reviews", "negative", "negative_rate"):
            rows.append(("by_category", item["category"], item["category"] or UNCATEGORISED, metric, item[metric]))
    for rank, item in enumerate(report.get("categories_by_rate", []), start=1):
        key, label = item["category"], item["category"] or UNCATEGORISED
        rows.append(("categories_by_rate", key, label, "rank", rank))
        for metric in ("reviews", "negative", "negative_rate"):
            rows.append(("categories_by_rate", key, label, metric, item[metric]))
    for section in ("top_products", "top_products_by_rate"):
        for rank, item in enumerate(report[section], start=1):
            key, label = item["product_id"], item["product_name"]
            rows.append((section, key, label, "rank", rank))
            for metric in ("category", "reviews", "negative", "negative_rate"):
                rows.append((section, key, label, metric, item[metric]))
    for metric, value in report["cases"].items():
        rows.append(("cases", "", "", metric, value))
    for item in report["trend"]:
        for metric in ("reviews", "negative", "negative_rate", "rating_negative_rate", "hidden_complaint_rate",
                       "enough"):
            if metric in item:
                rows.append(("trend", item["week"], _local_date(item["start"]).isoformat(), metric, item[metric]))
    cs = report.get("cs")
    if cs:
        for group in cs["by_shift"]:
            rows.extend(_cs_rows("cs_shift", group["key"], group["label"], group))
        for group in cs["by_agent"]:
            rows.extend(_cs_rows("cs_agent", group["key"], group["key"], group))
        rows.extend(_cs_rows("cs_overall", "", "", cs["overall"]))
    for item in report.get("sla_by_priority", []):
        p = item["priority"]
        rows.append(("sla_by_priority", p, p, "opened", item["opened"]))
        for name in ("first_contact_within_sla", "resolved_within_sla"):
            rate = item[name]
            rows += [("sla_by_priority", p, p, f"{name}_count", rate["count"]),
                     ("sla_by_priority", p, p, f"{name}_n", rate["n"]),
                     ("sla_by_priority", p, p, f"{name}_rate", rate["rate"])]
        rows.append(("sla_by_priority", p, p, "breached", item["breached"]))
    breached = report.get("breached_cases")
    if breached:
        rows.append(("breached_cases", "", "", "total", breached["total"]))
        for item in breached["items"]:
            for metric in ("priority", "status", "assignee", "clock", "due", "opened_at"):
                rows.append(("breached_cases", item["id"], item["url"], metric, item[metric]))
    rows.extend(_alert_rows(report.get("alerts")))
    return rows


def _alert_rows(alerts: dict[str, Any] | None) -> list[tuple[str, Any, Any, str, Any]]:
    """The product alerts (差评预警) section: the week's figures, alerts opened per cause, and the
    week's alerts themselves (key: alert id; label: the product id, or the category for a category alert)."""
    if not alerts:  # a report published before alerts existed
        return []
    rows: list[tuple[str, Any, Any, str, Any]] = [
        ("alerts", "", "", metric, alerts[metric])
        for metric in ("opened", "resolved", "open_at_week_end", "median_hours_to_resolve", "listing_audits")
    ]
    for cause, n in alerts["by_cause"].items():
        rows.append(("alerts_by_cause", cause, CAUSE_LABELS.get(cause, cause), "opened", n))
    for item in alerts["items"]:
        label = item["product_id"] if item["product_id"] is not None else item["category"]
        for metric in ("product_id", "category", "cause", "count", "status"):
            rows.append(("alerts_items", item["id"], label, metric, item[metric]))
    return rows


def _cs_rows(section: str, key: str, label: str, group: dict[str, Any]) -> list[tuple[str, Any, Any, str, Any]]:
    minutes = group["first_contact_minutes"]
    rows: list[tuple[str, Any, Any, str, Any]] = [
        (section, key, label, "cases_handled", group["cases_handled"]),
        (section, key, label, "first_contact_minutes_median", minutes["median"]),
        (section, key, label, "first_contact_minutes_p90", minutes["p90"]),
        (section, key, label, "first_contact_minutes_n", minutes["n"]),
        (section, key, label, "not_contacted", group["not_contacted"]),
        (section, key, label, "resolved", group["resolved"]),
        (section, key, label, "resolved_within_sla", group["resolved_within_sla"]),
    ]
    for name, rate in group["rates"].items():
        rows += [(section, key, label, f"{name}_count", rate["count"]), (section, key, label, f"{name}_n", rate["n"]),
                 (section, key, label, f"{name}_rate", rate["rate"])]
    for name, value in group.get("change", {}).items():
        rows.append((section, key, label, f"change_{name}", value))
    return rows


def render_csv(report: dict[str, Any]) -> bytes:
    """The report as CSV bytes (UTF-8 with BOM); layout in the module docstring."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("section", "key", "label", "metric", "value"))
    for row in _csv_rows(report):
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


# --------------------------------------------------------------------------------------------
# HTML


def _local_date(wire: str) -> date:
    return datetime.fromisoformat(wire).date()


def _points(change: float | None) -> str:
    """A change of ratios as percentage points: 0.0123 → "+1.23 个百分点"."""
    if change is None:
        return "—"
    return f"{change * 100:+.2f} 个百分点"


def _num(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,}"


def _short(text: str, limit: int = 10) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _charts(report: dict[str, Any]) -> dict[str, Any]:
    trend = report["trend"]
    trend_chart = line_chart(
        [item["week"][5:] + ("*" if item.get("enough") is False else "") for item in trend],
        [
            ("差评率（文本判定）", "negative", [item["negative_rate"] for item in trend]),
            ("平台差评率（≤2星）", "rating", [item["rating_negative_rate"] for item in trend]),
        ],
    )
    # A week with too few reviews keeps its point (the line stays whole) but not a bare rate label.
    thin = {x for (x, label) in trend_chart.x_labels if label.endswith("*")}
    for series in trend_chart.series:
        series.dots = [(x, y, "样本少" if x in thin else label) for x, y, label in series.dots]
    total = sum(report["by_cause"].values())
    cause_chart = bar_chart(
        [
            (CAUSE_LABELS.get(cause, _short(cause)), n, f"{n:,}（{pct(n / total if total else None, 1)}）")
            for cause, n in report["by_cause"].items()
        ]
    )
    # Only categories with enough reviews get a rate bar: 1 negative out of 1 is not the worst category.
    least = report.get("category_min_reviews", 0)
    categories = [item for item in report["by_category"] if item["reviews"] >= least][:CHART_CATEGORIES]
    category_chart = bar_chart(
        [
            (
                _short(item["category"] or UNCATEGORISED),
                item["negative_rate"] or 0.0,
                f"{pct(item['negative_rate'], 1)}（{item['negative']:,}/{item['reviews']:,}）",
            )
            for item in categories
        ]
    )
    return {"trend": trend_chart, "causes": cause_chart, "categories": category_chart}


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g} 分钟" if value < 60 else f"{value / 60:.1f} 小时"


def _minutes_change(change: float | None) -> str:
    return "—" if change is None else f"{change:+g} 分钟"


def _rate_text(rate: dict[str, Any] | None, small: int) -> str:
    """A rate with its n; a small sample as count/n, never a bare percentage."""
    if not rate or not rate["n"]:
        return "—"
    if rate["n"] < small:
        return f"{rate['count']}/{rate['n']}（样本少）"
    return f"{pct(rate['rate'], 1)}（n={rate['n']:,}）"


def render_html(report: dict[str, Any], links: PageLinks | None = None) -> str:
    """The report page; with `links` the served page's navigation, without it a standalone file."""
    start = _local_date(report["start"])
    last_day = _local_date(report["end"]) - timedelta(days=1)
    return _env.get_template("weekly.html").render(
        report=report,
        links=links,
        charts=_charts(report),
        first_day=start.isoformat(),
        last_day=last_day.isoformat(),
        cause_labels=CAUSE_LABELS,
        uncategorised=UNCATEGORISED,
        pct=pct,
        points=_points,
        num=_num,
        minutes=_minutes,
        minutes_change=_minutes_change,
        rate_text=_rate_text,
        thin_weeks=[item["week"] for item in report["trend"] if item.get("enough") is False],
    )
