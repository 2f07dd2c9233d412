// 回访台: replied tickets waiting for their return visit; one click starts the call (a seat
// first, as a callback, or the automated IVR visit: press 1/2/3), and the seat records
// 满意 / 基本满意 / 不满意 (不满意 sends the ticket back to its unit: 重办). Results are listed.
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
  if (t.attachments.length) $("d-fields").append(attachments(t.attachments));
  await calls(id);
}

// The unit's 办结 attachments, for the visit: downloaded with the session's token.
function attachments(files) {
  const frag = document.createDocumentFragment();
  const dt = document.createElement("dt"); dt.textContent = "办结附件";
  const dd = document.createElement("dd");
  for (const f of files) {
    const link = document.createElement("a");
    link.href = "#"; link.textContent = f.name; link.dataset.file = f.id;
    link.addEventListener("click", ev => { ev.preventDefault(); Hotline.download(f.url, f.name).catch(e => { $("d-error").textContent = e.message; }); });
    dd.append(link, document.createTextNode("　"));
  }
  frag.append(dt, dd);
  return frag;
}

const MODES = { ivr: "自动语音", seat: "坐席" };

function callRow(c, withTicket) {
  const tr = document.createElement("tr");
  tr.dataset.call = c.id;
  if (withTicket) tr.append(cell("#" + c.ticket_id));
  tr.append(cell(MODES[c.mode] || c.mode), cell(c.status_label));
  tr.append(withTicket ? cell(c.outcome_label) : cell(String(c.attempts)), cell(c.result_label));
  return tr;
}

async function calls(id) {
  const list = await Hotline.api("GET", `/api/visits/${id}/calls`);
  $("d-calls").replaceChildren(...list.map(c => callRow(c, false)));
}

async function recent() {
  const list = await Hotline.api("GET", "/api/visit-calls?limit=20");
  $("recent").replaceChildren(...list.map(c => callRow(c, true)));
}

async function call(mode) {
  const t = state.current;
  $("d-error").textContent = "";
  try {
    const c = await Hotline.api("POST", `/api/visits/${t.id}/calls`, { mode });
    $("d-message").textContent = (c.created ? "已发起" : "已在进行：") + MODES[mode] + "回访，" + c.status_label;
    await Promise.all([calls(t.id), recent()]);
  } catch (e) { $("d-error").textContent = e.message; }
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
  $("call-seat").addEventListener("click", () => call("seat"));
  $("call-ivr").addEventListener("click", () => call("ivr"));
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); load(); });
  $("next").addEventListener("click", () => { state.offset += PAGE; load(); });
  await Promise.all([load(), recent()]);
  setInterval(() => Promise.all([load(), recent()]).catch(() => {}), 30000);
  setInterval(() => { if (state.current) calls(state.current.id).catch(() => {}); }, 3000);
});
