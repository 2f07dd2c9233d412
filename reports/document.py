"""The report as a document to send: one self-contained HTML file (ECharts and the data inline,
no network), a PDF printed from it by the installed Chromium, or an xlsx workbook."""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parent / "assets"
FORMATS = ("html", "pdf", "xlsx")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PRINT_TIMEOUT_S = 120.0


class RenderError(RuntimeError):
    """The document could not be made (no Chromium, Chromium failed)."""


def _inline_script(text: str) -> str:
    # "</script" inside the data or a library would end the element early.
    return "<script>" + text.replace("</script", "<\\/script") + "</script>"


def html_document(data: dict[str, Any]) -> str:
    """A whole page: opened from disk or mail it draws itself, with nothing fetched."""
    payload = json.dumps(data, ensure_ascii=False)
    scripts = "\n".join(
        [
            _inline_script((ASSETS / "echarts.min.js").read_text(encoding="utf-8")),
            _inline_script((ASSETS / "report_view.js").read_text(encoding="utf-8")),
            _inline_script(f"ReportView.render(document.getElementById('report'), {payload});"),
        ]
    )
    css = (ASSETS / "report.css").read_text(encoding="utf-8")
    title = html.escape(f"12345 热线周报 {data['week']}")
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>body{{font-family:'WenQuanYi Zen Hei',sans-serif;"
        f"margin:2em;}}\n{css}</style></head>\n"
        f'<body><main id="report"></main>\n{scripts}\n</body></html>\n'
    )


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise RenderError("no Chromium found (install the chromium package): PDF needs its print")


def print_pdf(document: str, out: Path) -> None:
    """Chromium's headless print of the HTML, A4, after its scripts have drawn the charts."""
    with tempfile.TemporaryDirectory(prefix="hotline-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(document, encoding="utf-8")
        target = out.resolve()
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",  # root in containers; the page is our own file
            "--disable-gpu",
            f"--user-data-dir={tmp}/profile",
            "--no-pdf-header-footer",
            "--virtual-time-budget=10000",  # let the scripts run before printing
            f"--print-to-pdf={target}",
            page.as_uri(),
        ]
        env = {**os.environ, "HOME": tmp}  # Chromium writes its crash and config dirs here
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S, env=env
            )
        except subprocess.TimeoutExpired:
            raise RenderError(f"Chromium did not print within {PRINT_TIMEOUT_S:.0f} s") from None
        if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            raise RenderError(f"Chromium could not print the report: {done.stderr[-500:]}")


def write(data: dict[str, Any], fmt: str, out: Path) -> Path:
    if fmt not in FORMATS:
        raise RenderError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        from reports.workbook import write_xlsx  # openpyxl only when asked for

        write_xlsx(data, out)
    elif fmt == "pdf":
        print_pdf(html_document(data), out)
    else:
        out.write_text(html_document(data), encoding="utf-8")
    return out
