// 回访台: replied tickets waiting for their return visit; the seat calls the citizen and
// records 满意 / 基本满意 / 不满意 (不满意 sends the ticket back to its unit: 重办).
"use strict";

const PAGE = 20;
const state = { offset: 0, current: null };
const $ = id => document.getElementById(id);
const when = iso => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" }) : "—");

function cell(text) { const td = document.createElement("td"); td.textContent = text ?? "—"; return td; }

async function load() {
  const page = await Hotline.api("GET", `/api/visits?limit=${PAGE}&offset=${state.offset}`);
  $("page-no").textContent = "第 " + (state.offset / PAGE + 1) + " 页";
  $("count").textContent = page.items.length ? "" : "（暂无）";
  $("prev").disabled = state.offset === 0;
  $("next").disabled = page.items.length < PAGE;
  $("list").replaceChildren(...page.items.map(t => {
    const tr = document.createElement("tr");
    tr.dataset.id = t.id;
    tr.append(cell(t.number), cell(t.summary), cell(when(t.due_at)));
    tr.addEventListener("click", () => open(t.id));
    return tr;
  }));
}

async function open(id) {
  const t = await Hotline.api("GET", "/api/tickets/" + id);
  state.current = t;
  $("d-empty").classList.add("hidden");
  $("detail").classList.remove("hidden");
  $("d-number").textContent = t.number;
  $("d-error").textContent = ""; $("d-message").textContent = "";
  const rows = [["来电号码", t.caller_number], ["诉求", t.summary], ["承办单位", t.units.map(u => u.name).join("，")], ["办理结果", t.reply], ["重办次数", t.reopen_count]];
  $("d-fields").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v ?? "—";
    return [dt, dd];
  }));
}

async function record(satisfaction) {
  const t = state.current;
  $("d-error").textContent = "";
  try {
    const after = await Hotline.api("POST", `/api/tickets/${t.id}/actions`, { action: "visit", satisfaction });
    $("d-message").textContent = after.status === "办理中" ? "已记录不满意，工单退回承办单位重办" : "已记录：" + satisfaction;
    $("detail").classList.add("hidden"); $("d-empty").classList.remove("hidden");
    await load();
  } catch (e) { $("d-error").textContent = e.message; }
}

Hotline.requireLogin(["seat", "dispatcher", "admin"], async () => {
  $("signout").addEventListener("click", () => Hotline.logout());
  for (const b of document.querySelectorAll("[data-sat]")) b.addEventListener("click", () => record(b.dataset.sat));
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); load(); });
  $("next").addEventListener("click", () => { state.offset += PAGE; load(); });
  await load();
  setInterval(() => load().catch(() => {}), 30000);
});
