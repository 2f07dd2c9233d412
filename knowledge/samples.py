"""The sample knowledge base of the demo and the tests: the hand-written entries of
data/entries.yaml plus generated entries per category, so that search runs among about a
thousand entries as it would in a real base. Generated entries say so in their source."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from knowledge.service import Draft

ENTRIES_FILE = Path(__file__).resolve().parent / "data" / "entries.yaml"
SINCE = datetime(2024, 1, 1, tzinfo=UTC)
# Topics every category has in a real base; the generated entries are about these.
TOPICS = (
    ("办理时限", "一般在受理后{n}个工作日内办结，情况复杂的可延长，延长须告知申请人。"),
    ("所需材料", "需提供身份证件原件及复印件、申请表，以及与事项相关的证明材料{n}份。"),
    ("收费标准", "本事项按规定不收取费用，或按物价部门核定的标准收费，收费须开具票据。"),
    ("线上办理入口", "可登录政务服务网或政务服务APP搜索事项名称在线办理，也可到窗口办理。"),
    ("窗口地址与时间", "政务服务大厅工作日上午九时至下午五时办公，节假日休息，可先电话预约。"),
    ("政策依据", "依据相关法律法规和本市规范性文件执行，具体条款以现行有效文本为准。"),
    ("投诉渠道", "对办理结果不满意的，可向主管部门投诉，也可拨打12345热线反映。"),
    ("常见问题", "办理前请确认申请人资格，材料不全的将一次性告知需补正的内容。"),
    ("进度查询", "可凭受理回执编号在政务服务网查询办理进度，或拨打部门咨询电话。"),
    ("委托代办", "本人无法到场的，可由代理人持授权委托书和双方身份证件代为办理。"),
    ("异议处理", "对认定结果有异议的，可在收到决定之日起{n}日内提出复核申请。"),
    ("适用范围", "适用于本市行政区域内的个人和单位，特殊情形按专项规定执行。"),
    ("特殊人群", "老年人、残疾人等特殊群体可享受绿色通道，部分事项可上门办理。"),
    ("跨区通办", "本事项已纳入跨区通办清单，可在全市任一政务服务中心办理。"),
    ("证明事项告知承诺", "实行证明事项告知承诺制，申请人书面承诺后可免于提交部分证明。"),
    ("办理结果送达", "办理结果可选择窗口领取或邮寄送达，邮寄费用由政府承担。"),
    ("材料补正", "材料不齐全或不符合法定形式的，应当场或在{n}日内一次告知补正。"),
    ("年度变化", "本年度政策较上年有调整，请以最新发布的文件为准，旧文件同时废止。"),
    ("咨询电话", "可拨打主管部门服务电话或12345热线咨询，工作时间有专人解答。"),
    ("办理流程", "申请、受理、审核、决定、送达五个环节，各环节时限向社会公开。"),
    ("注意事项", "请妥善保管办理凭证，谨防冒充工作人员收费的诈骗行为。"),
    ("数据共享免提交", "已通过部门间数据共享获取的材料，申请人无需重复提交。"),
    ("信用承诺", "申请人作出信用承诺的，失信行为将记入公共信用信息平台。"),
    ("容缺受理", "主要材料齐全、次要材料欠缺的，可先行容缺受理，限期补齐。"),
    ("线下预约", "可通过政务服务APP预约窗口办理时间，按预约时段到场免排队。"),
    ("退件说明", "不予受理或不予批准的，将书面说明理由并告知救济途径。"),
    ("监督评价", "办理结束后可对服务进行好差评，差评将被回访核实整改。"),
    ("收费减免", "符合条件的困难群众可申请减免相关费用，需提供相应证明。"),
    ("时效提醒", "超过规定期限未申请的，可能影响相关待遇或权利，请及时办理。"),
    ("隐私保护", "办理过程中获取的个人信息仅用于本事项，依法予以保护。"),
)


def handwritten(path: Path = ENTRIES_FILE) -> list[Draft]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Draft(
            title=e["title"],
            body=e["body"],
            category=e["category"],
            valid_from=SINCE,
            department=e.get("department"),
            source="示例条目（本项目编写，非官方政策原文）",
            tags=tuple(e.get("tags", ())),
        )
        for e in data
    ]


def generated(count: int, categories: list[tuple[str, str | None]]) -> list[Draft]:
    """``count`` entries cycling over categories × topics, each about its category's matter."""
    out: list[Draft] = []
    i = 0
    while len(out) < count:
        category, department = categories[i % len(categories)]
        title, body = TOPICS[(i // len(categories)) % len(TOPICS)]
        matter = category.split("·")[-1]
        out.append(
            Draft(
                title=f"{matter}事项{title}（第{i // (len(categories) * len(TOPICS)) + 1}辑）",
                body=f"{matter}相关事项{body.format(n=3 + i % 10)}",
                category=category,
                valid_from=SINCE,
                department=department,
                source="示例条目（自动生成）",
                tags=(matter, title),
            )
        )
        i += 1
    return out


def sample_base(total: int = 1000) -> list[Draft]:
    hand = handwritten()
    cats = sorted({(d.category, d.department) for d in hand}, key=lambda c: c[0])
    return hand + generated(max(0, total - len(hand)), cats)
