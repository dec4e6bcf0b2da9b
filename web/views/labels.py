"""Chinese names for the codes the domain stores, in the order the pages offer them.

The API speaks codes (`wecom`, `refund`, `at_risk`); people read these. One table per kind, kept
here so every page and the tests say the same thing.
"""

from __future__ import annotations

from classifier.causes import CAUSE_NAMES_ZH, CAUSES

__all__ = [
    "CAUSE_NAMES",
    "CHANNELS",
    "CLOSE_REASONS",
    "EVENT_KINDS",
    "OUTCOMES",
    "PLATFORMS",
    "PRIORITY_NAMES",
    "RESOLUTIONS",
    "SATISFACTION",
    "SENTIMENTS",
    "SLA_STATES",
    "STATUSES",
    "cause_name",
    "platform_name",
]

CAUSE_NAMES: dict[str, str] = {c: CAUSE_NAMES_ZH[c] for c in CAUSES}
STATUSES = {
    "open": "待认领",
    "claimed": "已认领",
    "contacted": "已联系",
    "waiting_customer": "等待顾客",
    "resolved": "已解决",
    "closed": "已关闭",
}
PRIORITY_NAMES = {"P1": "P1 紧急", "P2": "P2 重要", "P3": "P3 一般"}
SLA_STATES = {"ok": "正常", "at_risk": "即将超时", "breached": "已超时", "met": "已达标"}
# 企业微信 first: it is where most shops reach their buyers.
CHANNELS = {"wecom": "企业微信", "phone": "电话", "im": "旺旺/平台IM", "sms": "短信", "email": "邮件"}
OUTCOMES = {"reached": "已联系上", "no_answer": "未接通/未读", "message_sent": "已留言", "replied": "顾客已回复"}
RESOLUTIONS = {
    "refund": "退款",
    "replacement": "换货",
    "reship": "补发",
    "coupon": "优惠券补偿",
    "explained": "解释说明",
    "other": "其他",
}
SATISFACTION = {"satisfied": "满意", "neutral": "一般", "unsatisfied": "不满意", "": "未回答"}
CLOSE_REASONS = {"unreachable": "联系不上顾客", "duplicate": "重复工单", "other": "其他原因"}
SENTIMENTS = {"negative": "差评", "positive": "好评"}
PLATFORMS = {
    "taobao": "淘宝",
    "tmall": "天猫",
    "jd": "京东",
    "pinduoduo": "拼多多",
    "douyin": "抖音",
    "default": "默认渠道",
}
EVENT_KINDS = {
    "opened": "创建工单",
    "review_added": "新评价加入",
    "review_revised": "评价已修改（追评/改评）",
    "priority_changed": "优先级变化",
    "status_changed": "状态变化",
    "claimed": "认领",
    "released": "释放",
    "assigned": "分派",
    "contacted": "联系顾客",
    "waiting": "等待顾客回复",
    "resumed": "恢复处理",
    "resolved": "已解决",
    "closed": "已关闭",
    "reopened": "重新打开",
    "note": "内部备注",
    "corrected": "纠正模型判断",
    "revised_upward": "顾客已改评",
    "sla_at_risk": "时限即将到期",
    "sla_breached": "已超时",
    "escalated": "已升级给主管",
}


def cause_name(code: str) -> str:
    return CAUSE_NAMES.get(code, code)


def platform_name(code: str | None) -> str:
    if not code:
        return ""
    return PLATFORMS.get(code, code)
