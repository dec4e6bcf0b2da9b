"""What every page shares: the names and links base.html shows, and the HTML error page.

The navigation depends on the signed-in agent's role; a link appears only to those who may
follow it (the views check again: hiding a link is not access control).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, g, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from web.db import get_settings

__all__ = ["PRODUCT_NAME", "ROLE_NAMES", "NavLink", "error_page", "init_app", "nav_links"]

PRODUCT_NAME = "差评跟进台"
ROLE_NAMES = {"agent": "客服", "supervisor": "主管", "admin": "管理员"}


@dataclass(frozen=True)
class NavLink:
    endpoint: str
    label: str
    roles: tuple[str, ...]


NAV = (
    NavLink("queue.index", "工单队列", ("agent", "supervisor", "admin")),
    NavLink("supervisor.index", "主管看板", ("supervisor", "admin")),
    NavLink("reports.weekly_page", "差评周报", ("supervisor", "admin")),
    NavLink("alerts.index", "差评预警", ("supervisor", "admin")),
)

# Flask's English error names, said in Chinese with a hint of what to do next.
_ERRORS = {
    400: ("请求有误", "请求无法处理。请返回上一页检查后重试。"),
    403: ("无权访问", "您的账号没有访问此页面的权限。"),
    404: ("页面不存在", "找不到这个页面，链接可能已失效。"),
    405: ("不支持的操作", "此页面不支持这种操作。"),
    500: ("服务器出错", "服务器暂时出了问题，请稍后重试；问题持续时请联系管理员。"),
    503: ("系统繁忙", "数据库正忙，您的操作没有生效。请几秒后刷新页面重试。"),
}
CSRF_FAILED = ("页面已过期", "表单缺少有效的安全令牌（页面停留过久，或来自其他网站）。请刷新页面后重新提交。")


def nav_links(agent: Any) -> list[dict[str, Any]]:
    if agent is None:
        return []
    return [
        {"url": url_for(link.endpoint), "label": link.label, "current": request.endpoint == link.endpoint}
        for link in NAV
        if agent.role in link.roles
    ]


def _page_context() -> dict[str, Any]:
    agent = g.get("agent")
    return {
        "product_name": PRODUCT_NAME,
        "current_agent": agent,
        "role_name": ROLE_NAMES.get(agent.role, agent.role) if agent else None,
        "nav": nav_links(agent),
        "role_names": ROLE_NAMES,
        "timezone": get_settings().timezone,
    }


def error_page(exc: HTTPException) -> tuple[str, int]:
    """A Chinese HTML page for an HTTP error on a human-facing path."""
    from flask_wtf.csrf import CSRFError

    status = exc.code or 500
    if isinstance(exc, CSRFError):
        title, message = CSRF_FAILED
    else:
        title, message = _ERRORS.get(status, (f"错误 {status}", exc.description or ""))
    return render_template("error.html", title=title, message=message, status=status), status


def init_app(app: Flask) -> None:
    app.context_processor(_page_context)
