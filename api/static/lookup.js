// Citizen status lookup: no login, the ticket number and the phone's last four digits.
"use strict";

// The intake page links here with the new ticket's number filled in.
const given = new URLSearchParams(location.search).get("number");
if (given) document.getElementById("ask").number.value = given;

const when = iso => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" }) : "—");

document.getElementById("ask").addEventListener("submit", async ev => {
  ev.preventDefault();
  const form = ev.target;
  const error = document.getElementById("error");
  const result = document.getElementById("result");
  error.textContent = "";
  result.classList.add("hidden");
  const number = form.number.value.trim(), last4 = form.last4.value.trim();
  if (!/^\d{8,20}$/.test(number) || !/^\d{4}$/.test(last4)) {
    error.textContent = "请输入正确的工单编号和手机号后四位";
    return;
  }
  const resp = await fetch(`/api/public/tickets/${encodeURIComponent(number)}?last4=${encodeURIComponent(last4)}`);
  const data = await resp.json();
  if (!resp.ok) {
    error.textContent = typeof data.detail === "string" ? data.detail : "查询失败，请稍后再试";
    return;
  }
  document.getElementById("r-number").textContent = data.number;
  const rows = [["办理状态", data.status], ["诉求类别", data.category], ["受理时间", when(data.accepted_at)], ["办理期限", when(data.due_at)], ["承办单位", data.unit], ["办理结果", data.reply]];
  document.getElementById("r-fields").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v ?? "—";
    return [dt, dd];
  }));
  result.classList.remove("hidden");
});
