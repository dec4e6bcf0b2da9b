"""Presentation helpers the page templates share: local times, SLA countdowns, JSON columns.

Times are stored in UTC; people see them in TRIAGE_TIMEZONE (the settings' zone). Countdown
elements carry the due instant as RFC 3339 (`data-due`) so static/app.js can tick them every second
without any inline script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask

from triage.cases.clocks import Clocks
from triage.timeutil import from_db, to_wire
from web.db import get_settings

__all__ = ["Countdown", "countdown", "init_app", "json_list", "json_obj", "local_time"]


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return from_db(str(value))


def local_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time (text or datetime) in the configured zone; '' for None."""
    moment = _moment(value)
    if moment is None:
        return ""
    return moment.astimezone(get_settings().zone).strftime(fmt)


def wire_time(value: Any) -> str:
    moment = _moment(value)
    return to_wire(moment) or "" if moment is not None else ""


def json_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    try:
        loaded = json.loads(value) if value else []
    except (TypeError, ValueError):
        return []
    return loaded if isinstance(loaded, list) else []


def json_obj(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        loaded = json.loads(value) if value else {}
    except (TypeError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


@dataclass(frozen=True)
class Countdown:
    """The clock an agent races right now: first contact until it is made, then resolution."""

    clock: str                 # "first_contact" | "resolution"
    label: str                 # 首次联系 / 解决
    due: datetime | None
    state: str                 # ok | at_risk | breached | met
    next_change: datetime | None

    @property
    def due_wire(self) -> str:
        return to_wire(self.due) or "" if self.due else ""

    @property
    def next_wire(self) -> str:
        return to_wire(self.next_change) or "" if self.next_change else ""


def countdown(clocks: Clocks, first_contacted: bool, active: bool) -> Countdown:
    if first_contacted or not active:
        return Countdown("resolution", "解决时限", clocks.resolution_due, clocks.resolution,
                         clocks.next_check if active else None)
    return Countdown("first_contact", "首次联系", clocks.first_contact_due, clocks.first_contact, clocks.next_check)


def remaining_text(due: datetime | None, now: datetime) -> str:
    """What the countdown shows before the script takes over (and without script): 剩 3小时12分 / 超时 20分."""
    if due is None:
        return "已暂停"
    seconds = int((due - now).total_seconds())
    late = seconds < 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days}天{hours}小时"
    elif hours:
        text = f"{hours}小时{minutes}分"
    else:
        text = f"{minutes}分钟"
    return f"超时 {text}" if late else f"剩 {text}"


def init_app(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(wire_time, "wire_time")
    app.add_template_filter(json_list, "json_list")
    app.add_template_filter(json_obj, "json_obj")
