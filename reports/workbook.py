"""The report as an xlsx workbook: one sheet per section, the figures as numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font

UNIT_HEAD = ["名次", "承办单位", "层级", "到期工单", "按时签收率", "按时办结率", "回访满意率"]
UNIT_HEAD += ["每件退单", "重办率", "超期件数", "综合得分"]
UNIT_KEYS = ["unit", "level", "tickets", "signed_on_time_pct", "finished_on_time_pct"]
UNIT_KEYS += ["satisfaction_pct", "returns_per_ticket", "reopened_pct", "overdue", "score"]
CITY_HEAD = ["城市", "进线", "呼入", "接通", "15秒内接通", "放弃", "15秒服务水平", "放弃率"]
CITY_HEAD += ["回拨次数", "回拨接通", "多援一转出", "多援一转入"]
CITY_KEYS = ["city", "entered", "offered", "answered", "answered_in_sl", "abandoned"]
CITY_KEYS += ["service_level", "abandon_rate", "callbacks_made", "callbacks_connected"]
CITY_KEYS += ["overflow_out", "overflow_in"]
WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]


def _sheet(book: Workbook, title: str, head: list[str], rows: list[list[Any]]) -> Any:
    sheet = book.create_sheet(title)
    sheet.append(head)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    return sheet


def sample_note(topics: dict[str, Any]) -> str:
    return (
        f"注：文本聚类按工单号等距抽样：本周 {topics['this_total']} 件中取 "
        f"{topics['this_clustered']} 件，前四周 {topics['previous_total']} 件中取 "
        f"{topics['previous_clustered']} 件（工单摘要加来电转写）；聚类件数按抽样比例折算，"
        "类别走势为全量统计。"
    )


def write_xlsx(data: dict[str, Any], out: Path) -> None:
    book = Workbook()
    summary = book.active
    assert summary is not None  # a new workbook has its first sheet
    summary.title = "概况"
    summary.append([f"12345 热线周报 {data['week']}"])
    summary.append([f"{data['first_day']} 至 {data['last_day']}"])
    summary.append([data["headline"]])
    summary.append(["本周受理工单", data["tickets_accepted"]])
    summary.append(["上周受理工单", data["tickets_previous"]])
    topics = data["topics"]
    cats = _sheet(
        book,
        "类别走势",
        ["类别", "本周", "前四周周均", "增量"],
        [
            [c["category"], c["this_week"], c["previous_avg"], c["rise"]]
            for c in topics["categories"]
        ],
    )
    if topics["categories"]:
        chart = BarChart()
        chart.title = "本周各类别工单"
        rows = min(len(topics["categories"]), 15) + 1
        chart.add_data(
            Reference(cats, min_col=2, max_col=3, min_row=1, max_row=rows), titles_from_data=True
        )
        chart.set_categories(Reference(cats, min_col=1, min_row=2, max_row=rows))
        cats.add_chart(chart, "F2")
    clusters = _sheet(
        book,
        "聚类热点",
        ["关键词", "本周", "前四周周均", "增量", "代表工单", "主要地点"],
        [
            [
                "、".join(t["terms"]),
                t["this_week"],
                t["previous_avg"],
                t["rise"],
                "；".join(f"{e['number'] or '—'} {e['summary']}" for e in t["examples"]),
                "、".join(f"{p}({n})" for p, n in t["locations"]),
            ]
            for t in topics["topics"]
        ],
    )
    if topics["sampled"]:
        clusters.append([])
        clusters.append([sample_note(topics)])
    for title, key in (("红榜", "red"), ("黑榜", "black"), ("全部单位", "units")):
        rows_ = [[i + 1, *(u[k] for k in UNIT_KEYS)] for i, u in enumerate(data[key])]
        _sheet(book, title, UNIT_HEAD, rows_)
    calls = data["calls"]
    city_rows = [[c[k] for k in CITY_KEYS] for c in [*calls["cities"], calls["total"]]]
    _sheet(book, "话务", CITY_HEAD, city_rows)
    _sheet(
        book,
        "呼入热力",
        ["星期", *(f"{h}时" for h in range(24))],
        [[WEEKDAYS[d], *row] for d, row in enumerate(calls["heat"])],
    )
    callers = data["callers"]
    _sheet(
        book,
        "重复来电",
        ["号码", "来电次数", "首次", "最近", "诉求类别", "情绪走势", "情绪变化"],
        [
            [
                c["number"],
                c["calls"],
                c["first_at"],
                c["last_at"],
                "、".join(f"{k}({n})" for k, n in c["categories"]),
                " → ".join(c["moods"]),
                c["mood_direction"],
            ]
            for c in callers["listed"]
        ],
    )
    book.save(out)
