"""The doors a matter comes in by (渠道): every one of them ends in the same 受理 ticket, and
statistics group by the code stored on the ticket."""

from __future__ import annotations

PHONE = "phone"
WEB = "web"
WECHAT = "wechat"
ALIPAY = "alipay"
SMS = "sms"
APP = "app"
PLATFORM = "platform"  # 留言 imported from another platform (人民网领导留言板, 省平台, ...)

LABELS: dict[str, str] = {
    PHONE: "电话",
    WEB: "网页表单",
    WECHAT: "微信小程序",
    ALIPAY: "支付宝小程序",
    SMS: "短信",
    APP: "政务APP",
    PLATFORM: "留言平台",
}
# What a citizen may submit to directly (the public intake API); phone tickets come from
# calls and platform ones from imports.
PUBLIC = (WEB, WECHAT, ALIPAY, SMS, APP)


def label(channel: str) -> str:
    return LABELS.get(channel, channel)
