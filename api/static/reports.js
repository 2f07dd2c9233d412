// 分析报告: the weekly report (周报) of a chosen week, drawn by ReportView (tables and ECharts),
// and the documents the weekly job stored (downloaded with the session's token).
"use strict";

const $ = id => document.getElementById(id);
const FORMAT_LABELS = { html: "网页", pdf: "PDF", xlsx: "Excel" };
const when = iso => new Date(iso).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });

function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }

async function download(name) {
  const resp = await fetch("/api/reports/files/" + encodeURIComponent(name), { headers: { Authorization: "Bearer " + Hotline.token } });
  if (!resp.ok) { $("report-error").textContent = "下载失败（" + resp.status + "）"; return; }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await resp.blob());
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

async function loadFiles() {
  const files = await Hotline.api("GET", "/api/reports/files");
  $("files-empty").classList.toggle("hidden", files.length > 0);
  $("files").replaceChildren(...files.map(f => {
    const tr = document.createElement("tr");
    tr.dataset.name = f.name;
    const button = document.createElement("button");
    button.textContent = "下载";
    button.addEventListener("click", () => download(f.name));
    const last = document.createElement("td");
    last.append(button);
    tr.append(cell(f.week), cell(FORMAT_LABELS[f.format] || f.format), cell(Math.ceil(f.size / 1024) + " KB"), cell(when(f.written_at)), last);
    return tr;
  }));
}

async function loadReport(week) {
  $("report-error").textContent = "";
  $("report-status").textContent = "正在生成……";
  try {
    const data = await Hotline.api("GET", "/api/reports/weekly" + (week ? "?week=" + encodeURIComponent(week) : ""));
    $("week").value = data.week;
    ReportView.render($("report"), data);
    $("report-status").textContent = "生成时间：" + when(data.generated_at);
  } catch (e) {
    $("report-status").textContent = "";
    $("report-error").textContent = e.message;
  }
}

Hotline.requireLogin(["dispatcher", "admin", "leader"], async () => {
  $("signout").addEventListener("click", () => Hotline.logout());
  $("pick").addEventListener("submit", ev => { ev.preventDefault(); loadReport($("week").value.trim()); });
  const asked = new URLSearchParams(location.search).get("week");
  await Promise.all([loadFiles(), loadReport(asked)]);
});
