// The seat's workbench: state buttons with the wrap-up countdown, the popped call (or
// callback), the call with its history, the unconfirmed tickets (待确认工单) and the draft form.
"use strict";

const $ = id => document.getElementById(id);
const RING_POLL_MS = 3000;  // a ringing seat re-reads its state: a lost event cannot strand it
const PENDING_POLL_MS = 15000;  // drafts come a minute or so after the call
const MISSED = "未接来电";  // the ACD's pause reason after a ring went unanswered (acd.model)

let seat = { state: "offline" };
let current = null;  // the call shown in 当前通话 (call id)
let selected = null;  // the call the draft form is for (call id)
let selectedNumber = "";
let filledFor = null;  // the call whose ASR draft filled the form
let dirty = false;  // the seat typed into the form since it was bound to `selected`
let pending = [];  // [{call, draft}] from /api/seat/pending, newest first
let wrapEnd = null;  // performance.now() at which the wrap-up ends (null: not in wrap-up)
let ringTimer = null;

// --- state ----------------------------------------------------------------------------
function showState(s) {
  if (!s) return;
  seat = s;
  $("state").textContent = STATE_LABELS[s.state] || s.state;
  $("state").className = s.state;
  $("reason").textContent = s.state === "paused" && s.reason ? "（" + s.reason + "）" : "";
  const on = (...states) => states.includes(s.state);
  // Enabled only where the ACD accepts it (acd/lua/seat_state.lua): no button answers 409.
  $("btn-login").disabled = !on("offline");
  $("btn-ready").disabled = !on("paused", "wrapup");
  $("btn-pause").disabled = !on("ready", "paused", "wrapup");
  $("btn-wrapup").disabled = !on("wrapup");
  $("btn-logout").disabled = on("offline", "busy");
  for (const id of ["btn-conf", "btn-leave", "btn-transfer"]) $(id).disabled = !on("busy");
  $("signout").disabled = on("busy");
  if (!on("ringing", "busy")) $("popup").classList.add("hidden");
  $("state-notice").textContent = on("paused") && s.reason === MISSED
    ? "有来电未接听，已暂停分配来电；点击“就绪”继续接听" : "";
  showWrapup(s);
  watchRinging(on("ringing"));
}

function showWrapup(s) {
  if (s.state !== "wrapup") {
    wrapEnd = null;
  } else if (typeof s.wrapup_left_s === "number") {
    wrapEnd = performance.now() + s.wrapup_left_s * 1000;
  } else if (wrapEnd === null) {
    refreshState();  // a state event from the controller carries no deadline: ask for it
  }
  tickWrapup();
}

function tickWrapup() {
  const box = $("wrapup-box");
  if (wrapEnd === null) { box.classList.add("hidden"); return; }
  const left = Math.max(0, (wrapEnd - performance.now()) / 1000);
  box.classList.remove("hidden");
  $("wrapup-left").textContent = fmtSeconds(Math.ceil(left));
  $("wrapup-left").classList.toggle("low", left <= 10);
}

function watchRinging(ringing) {
  if (ringing && ringTimer === null) {
    ringTimer = setInterval(refreshState, RING_POLL_MS);
  } else if (!ringing && ringTimer !== null) {
    clearInterval(ringTimer);
    ringTimer = null;
  }
}

async function refreshState() {
  try { showState(await Hotline.api("GET", "/api/seat/state")); } catch (e) { console.warn(e); }
}

async function act(path, body) {
  $("state-error").textContent = "";
  try { showState(await Hotline.api("POST", path, body)); } catch (e) {
    $("state-error").textContent = e.message;
    refreshState();  // the refusal means the page was behind: catch up
  }
}

// --- the call -------------------------------------------------------------------------
function pop(ev) {
  $("popup").classList.remove("hidden", "callback");
  $("popup-title").textContent = "来电弹屏";
  $("popup-number").textContent = ev.caller || "未知号码";
  const info = [SKILL_LABELS[ev.skill] || ev.skill || "", ev.overflowed ? "多援一来电（" + ev.city + "）" : ""];
  $("popup-info").textContent = "来电 " + info.filter(Boolean).join(" · ") + " · 呼叫号 " + ev.call_id;
}

function popCallback(ev) {
  $("popup").classList.remove("hidden");
  $("popup").classList.add("callback");
  $("popup-title").textContent = "漏话回拨";
  $("popup-number").textContent = ev.number || "未知号码";
  const parts = ["回拨任务 " + ev.task_id, "第 " + ev.attempt + " 次拨打"];
  if (ev.waited_s) parts.push("来电时曾等待 " + fmtSeconds(ev.waited_s));
  if (ev.created_at) parts.push("登记于 " + fmtTime(ev.created_at));
  $("popup-info").textContent = parts.join(" · ");
}

function showCall(data) {
  if (data.seat) showState(data.seat);
  const call = data.call;
  const box = $("call");
  box.textContent = "";
  if (!call) { box.textContent = "暂无通话"; current = null; return; }
  current = call.call_id;
  box.append(
    el("div", {}, "来电号码：", el("strong", { id: "call-number" }, call.caller_num)),
    el("div", {}, "诉求类别：" + (SKILL_LABELS[call.skill] || call.skill || "") + (call.overflowed ? " · 多援一" : "")),
    el("div", { class: "muted" }, "呼叫号 " + call.call_id + " · " + fmtTime(call.answered_at || call.entered_at)));
  // A repeat caller is flagged: how often it called and wrote in, and how its mood went.
  if (data.earlier_calls.length || data.tickets.length) {
    const parts = ["重复来电：此前来电 " + data.earlier_calls.length + " 次", "工单 " + data.tickets.length + " 张"];
    if (data.mood_trend.length) parts.push("情绪走势 " + data.mood_trend.join(" → "));
    box.append(el("div", { id: "repeat-caller", class: "error" }, parts.join(" · ")));
  }
  const earlier = $("earlier");
  earlier.textContent = "";
  for (const c of data.earlier_calls) {
    earlier.append(el("tr", {}, el("td", {}, fmtTime(c.entered_at)), el("td", {}, OUTCOME_LABELS[c.outcome] || c.outcome || ""), el("td", {}, c.seat_id || "")));
  }
  const tickets = $("tickets");
  tickets.textContent = "";
  for (const t of data.tickets) {
    tickets.append(el("tr", {}, el("td", {}, t.number || ""), el("td", {}, t.category), el("td", {}, t.summary), el("td", {}, t.status)));
  }
  // The call being talked on may be written up at once, unless the form holds another one
  // (which stays: it is in 待确认工单 until confirmed, and so will this call be).
  const talking = seat.state === "busy" && seat.call_id === call.call_id;
  if (talking && !data.ticket && selected === null) bind(call.call_id, call.caller_num, data.draft);
}

async function refresh() {
  try { showCall(await Hotline.api("GET", "/api/seat/call")); } catch (e) { console.warn(e); }
}

async function callCommand(path, body) {
  const msg = $("call-message");
  msg.textContent = "处理中…";
  try {
    const r = await Hotline.api("POST", path, body);
    msg.textContent = "已完成" + (r.detail ? "：" + r.detail : "");
  } catch (e) { msg.textContent = e.message; }
}

function target() {
  const v = $("dept").value;
  if (!v) { $("call-message").textContent = "请先选择部门"; return null; }
  return { department_id: Number(v) };
}

// --- 待确认工单 and the draft form ------------------------------------------------------
const FIELDS = ["category", "request_type", "summary", "location", "department", "tier_days"];

// The form is for one call until its ticket is confirmed or the seat picks another: a new
// ring never empties it.
function bind(callId, number, draft) {
  const form = $("draft");
  if (selected !== callId) {
    form.reset();
    selected = callId;
    selectedNumber = number || "";
    filledFor = null;
    dirty = false;
    $("draft-message").textContent = "";
  }
  if (draft && filledFor !== callId && !dirty) {
    const d = draft.draft;
    for (const name of FIELDS) {
      if (d[name] !== null && d[name] !== undefined) form[name].value = d[name];
    }
    form.urgent.checked = !!d.urgent;
    filledFor = callId;
    suggestSoon(0);
  }
  $("draft-for").textContent = "呼叫号 " + callId + (selectedNumber ? " · 来电号码 " + selectedNumber : "");
  $("btn-ticket").disabled = false;
  $("draft-message").textContent = filledFor === callId
    ? "草稿已根据通话录音生成，请核对后确认"
    : (dirty ? "" : "录音草稿生成中，可先手工填写");
  renderPending();
}

function unbind(message) {
  $("draft").reset();
  selected = null;
  selectedNumber = "";
  filledFor = null;
  dirty = false;
  $("draft-for").textContent = "请在“待确认工单”中选择通话";
  $("btn-ticket").disabled = true;
  $("draft-message").textContent = message || "";
  suggestSoon(0);
}

function renderPending() {
  const body = $("pending");
  body.textContent = "";
  for (const p of pending) {
    const c = p.call;
    const row = el("tr", { "data-call": c.call_id, class: c.call_id === selected ? "selected" : "" },
      el("td", {}, fmtTime(c.answered_at)),
      el("td", {}, c.caller_num),
      el("td", { class: p.draft ? "ready-draft" : "waiting-draft" }, p.draft ? "草稿已生成" : "草稿生成中…"));
    row.addEventListener("click", () => { if (c.call_id !== selected) bind(c.call_id, c.caller_num, p.draft); });
    body.append(row);
  }
  $("pending-empty").classList.toggle("hidden", pending.length > 0);
}

async function loadPending() {
  try { pending = await Hotline.api("GET", "/api/seat/pending"); } catch (e) { console.warn(e); return; }
  const mine = pending.find(p => p.call.call_id === selected);
  if (mine) bind(mine.call.call_id, mine.call.caller_num, mine.draft);  // its draft may be new
  else if (selected === null && pending.length) bind(pending[0].call.call_id, pending[0].call.caller_num, pending[0].draft);
  renderPending();
}

async function confirmTicket(ev) {
  ev.preventDefault();
  const f = ev.target;
  const msg = $("draft-message");
  if (!selected) { msg.textContent = "请先选择要确认的通话"; return; }
  const body = {
    category: f.category.value, request_type: f.request_type.value, summary: f.summary.value,
    location: f.location.value || null, department: f.department.value || null,
    tier_days: Number(f.tier_days.value), urgent: f.urgent.checked,
  };
  $("btn-ticket").disabled = true;
  try {
    const t = await Hotline.api("POST", `/api/seat/calls/${encodeURIComponent(selected)}/ticket`, body);
    const answered = await answerFromKb(t);
    pending = pending.filter(p => p.call.call_id !== selected);
    unbind("已生成工单 " + t.number + answered);
    await loadPending();
    if (selected === null) msg.textContent = "已生成工单 " + t.number + answered;
  } catch (e) {
    msg.textContent = e.status === 409 ? "该通话已生成过工单" : e.message;
    $("btn-ticket").disabled = e.status === 409;
    if (e.status === 409) loadPending();
  }
}

// --- 知识库建议: entries for the draft's words, asked again as the draft changes ----------
const SUGGEST_DELAY_MS = 250;  // typing pauses; a draft filled by ASR asks at once
let suggestTimer = null;
let suggestAsked = "";
let kbChosen = null;  // {id, title, snippet}: the seat answers from it when confirming

function draftWords() {
  const f = $("draft");
  return [f.category.value, f.summary.value, f.location.value].join(" ").trim();
}

function suggestSoon(delay) {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(suggest, delay === undefined ? SUGGEST_DELAY_MS : delay);
}

async function suggest() {
  const words = draftWords();
  if (words === suggestAsked) return;
  suggestAsked = words;
  const list = $("kb-hits");
  if (!words) { list.replaceChildren(); $("kb-empty").hidden = false; return; }
  let data;
  try {
    data = await Hotline.api("GET", "/api/kb/suggestions?limit=5&q=" + encodeURIComponent(words.slice(0, 2000)));
  } catch (e) { $("kb-message").textContent = e.message; return; }
  if (words !== suggestAsked) return;  // the draft changed while this was asked
  $("kb-message").textContent = "";
  $("kb-empty").hidden = data.hits.length > 0;
  list.replaceChildren(...data.hits.map(h => {
    const pick = el("button", { type: "button", class: "kb-pick" }, kbChosen && kbChosen.id === h.id ? "已选用" : "选用答复");
    pick.addEventListener("click", () => choose(h));
    return el("li", { "data-entry": String(h.id) },
      el("strong", {}, h.title), " ", el("span", { class: "muted" }, h.category + " · 第" + h.version + "版"),
      el("div", {}, h.snippet), pick);
  }));
}

function choose(hit) {
  kbChosen = kbChosen && kbChosen.id === hit.id ? null : hit;
  $("kb-message").textContent = kbChosen ? "确认工单时将按“" + hit.title + "”直接答复" : "";
  suggestAsked = ""; suggest();
}

// The ticket was answered from the chosen entry: 直接答复, the entry recorded on it.
async function answerFromKb(ticket) {
  if (!kbChosen) return "";
  const hit = kbChosen;
  kbChosen = null;
  try {
    await Hotline.api("POST", `/api/tickets/${ticket.id}/actions`,
      { action: "direct_answer", reason: "依据知识库“" + hit.title + "”答复：" + hit.snippet, kb_entry: hit.id });
    return "，已按知识库直接答复";
  } catch (e) { return "，直接答复未成功：" + e.message; }
}

// --- start ----------------------------------------------------------------------------
async function signout() {
  $("state-error").textContent = "";
  try { await Hotline.logout("/api/seat/signout"); } catch (e) {
    $("state-error").textContent = e.status === 409 ? "通话中不能退出，请先结束通话" : e.message;
  }
}

async function start() {
  const on = (id, fn) => $(id).addEventListener("click", fn);
  on("signout", signout);
  on("btn-login", () => act("/api/seat/login"));
  on("btn-ready", () => act("/api/seat/ready"));
  on("btn-pause", () => act("/api/seat/pause", { reason: $("pause-reason").value }));
  on("btn-wrapup", () => act("/api/seat/wrapup/end"));
  on("btn-logout", () => act("/api/seat/logout"));
  on("btn-conf", () => { const t = target(); if (t) callCommand("/api/seat/conference", { ...t, stay: true }); });
  on("btn-leave", () => callCommand("/api/seat/conference/leave"));
  on("btn-transfer", () => { const t = target(); if (t) callCommand("/api/seat/transfer", t); });
  $("draft").addEventListener("submit", confirmTicket);
  $("draft").addEventListener("input", () => { if (selected) dirty = true; suggestSoon(); });
  unbind();
  try {
    const depts = await Hotline.api("GET", "/api/seat/departments");
    const sel = $("dept");
    sel.append(el("option", { value: "" }, "选择部门"));
    for (const d of depts) sel.append(el("option", { value: String(d.id) }, d.name + " " + d.number));
  } catch (e) { console.warn(e); }
  setInterval(tickWrapup, 250);
  setInterval(loadPending, PENDING_POLL_MS);
  loadPending();
  Hotline.stream("/api/seat/events", {
    // Every reconnect after the first: what happened while the stream was down.
    open: n => { if (n > 1) { refreshState(); refresh(); loadPending(); } },
    hello: showCall,
    state: d => showState(d.seat),
    ringing: ev => { pop(ev); showState({ ...seat, state: "ringing", reason: null, wrapup_left_s: null }); refresh(); },
    callback: ev => { popCallback(ev); refreshState(); },
    answered: () => refresh(),
    transfer: ev => {  // how the department leg of a three-way call ended
      const words = { connected: "部门已接通", noanswer: "部门无人接听，来电仍与您通话", busy: "部门忙，来电仍与您通话", failed: "部门电话未接通，来电仍与您通话" };
      $("call-message").textContent = words[ev.result] || ev.result;
      refresh();
    },
    // The call's record is closed just after this event: read the list now and again shortly.
    ended: () => { refresh(); loadPending(); setTimeout(loadPending, 1500); },
  });
}

Hotline.requireLogin(["seat"], start);
