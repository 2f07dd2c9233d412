// The seat's workbench: state buttons, the popped call, history, ticket draft.
"use strict";

let current = null;  // the call shown (call id)
let filledFor = null;  // the call whose draft filled the form (staff edits are kept)

function showState(seat) {
  const node = document.getElementById("state");
  node.textContent = STATE_LABELS[seat.state] || seat.state;
  node.className = seat.state;
  document.getElementById("reason").textContent = seat.state === "paused" && seat.reason ? "（" + seat.reason + "）" : "";
  const on = s => seat.state === s;
  document.getElementById("btn-login").disabled = !on("offline");
  document.getElementById("btn-ready").disabled = !(on("paused") || on("wrapup"));
  document.getElementById("btn-pause").disabled = !(on("ready") || on("wrapup"));
  document.getElementById("btn-wrapup").disabled = !on("wrapup");
  document.getElementById("btn-logout").disabled = on("offline") || on("busy") || on("ringing");
  if (!on("ringing") && !on("busy")) document.getElementById("popup").classList.add("hidden");
}

function pop(ev) {
  document.getElementById("popup").classList.remove("hidden");
  document.getElementById("popup-number").textContent = ev.caller || "未知号码";
  const info = [SKILL_LABELS[ev.skill] || ev.skill || "", ev.overflowed ? "多援一来电（" + ev.city + "）" : ""];
  document.getElementById("popup-info").textContent = "来电 " + info.filter(Boolean).join(" · ") + " · 呼叫号 " + ev.call_id;
}

function showCall(data) {
  if (data.seat) showState(data.seat);
  const call = data.call;
  const box = document.getElementById("call");
  box.textContent = "";
  if (!call) { box.textContent = "暂无通话"; current = null; return; }
  box.append(
    el("div", {}, "来电号码：", el("strong", { id: "call-number" }, call.caller_num)),
    el("div", {}, "诉求类别：" + (SKILL_LABELS[call.skill] || call.skill || "") + (call.overflowed ? " · 多援一" : "")),
    el("div", { class: "muted" }, "呼叫号 " + call.call_id + " · " + fmtTime(call.answered_at || call.entered_at)));
  const earlier = document.getElementById("earlier");
  earlier.textContent = "";
  for (const c of data.earlier_calls) {
    earlier.append(el("tr", {}, el("td", {}, fmtTime(c.entered_at)), el("td", {}, OUTCOME_LABELS[c.outcome] || c.outcome || ""), el("td", {}, c.seat_id || "")));
  }
  const tickets = document.getElementById("tickets");
  tickets.textContent = "";
  for (const t of data.tickets) {
    tickets.append(el("tr", {}, el("td", {}, t.number || ""), el("td", {}, t.category), el("td", {}, t.summary), el("td", {}, t.status)));
  }
  const form = document.getElementById("draft");
  const fresh = current !== call.call_id;
  current = call.call_id;
  if (fresh) form.reset();
  if (data.draft && filledFor !== call.call_id) {  // the draft may arrive after the call
    filledFor = call.call_id;
    const d = data.draft.draft;
    for (const name of ["category", "request_type", "summary", "location", "department", "tier_days"]) {
      if (d[name] !== null && d[name] !== undefined) form[name].value = d[name];
    }
    form.urgent.checked = !!d.urgent;
  }
  document.getElementById("btn-ticket").disabled = !!data.ticket;
  document.getElementById("draft-message").textContent = data.ticket ? "已生成工单 " + data.ticket.number : (data.draft ? "草稿已根据通话录音生成，请核对" : "");
}

async function refresh() {
  showCall(await Hotline.api("GET", "/api/seat/call"));
}

async function act(path, body) {
  const err = document.getElementById("state-error");
  err.textContent = "";
  try { showState(await Hotline.api("POST", path, body)); } catch (e) { err.textContent = e.message; }
}

async function callCommand(path, body) {
  const msg = document.getElementById("call-message");
  msg.textContent = "处理中…";
  try {
    const r = await Hotline.api("POST", path, body);
    msg.textContent = "已完成" + (r.detail ? "：" + r.detail : "");
  } catch (e) { msg.textContent = e.message; }
}

function target() {
  const v = document.getElementById("dept").value;
  return v ? { department_id: Number(v) } : null;
}

async function start() {
  const on = (id, fn) => document.getElementById(id).addEventListener("click", fn);
  on("signout", () => Hotline.logout());
  on("btn-login", () => act("/api/seat/login"));
  on("btn-ready", () => act("/api/seat/ready"));
  on("btn-pause", () => act("/api/seat/pause", { reason: document.getElementById("pause-reason").value }));
  on("btn-wrapup", () => act("/api/seat/wrapup/end"));
  on("btn-logout", () => act("/api/seat/logout"));
  on("btn-conf", () => { const t = target(); if (t) callCommand("/api/seat/conference", { ...t, stay: true }); });
  on("btn-leave", () => callCommand("/api/seat/conference/leave"));
  on("btn-transfer", () => { const t = target(); if (t) callCommand("/api/seat/transfer", t); });
  document.getElementById("draft").addEventListener("submit", async ev => {
    ev.preventDefault();
    const f = ev.target;
    const msg = document.getElementById("draft-message");
    if (!current) { msg.textContent = "没有可生成工单的通话"; return; }
    const body = {
      category: f.category.value, request_type: f.request_type.value, summary: f.summary.value,
      location: f.location.value || null, department: f.department.value || null,
      tier_days: Number(f.tier_days.value), urgent: f.urgent.checked,
    };
    try {
      const t = await Hotline.api("POST", `/api/seat/calls/${encodeURIComponent(current)}/ticket`, body);
      msg.textContent = "已生成工单 " + t.number;
      document.getElementById("btn-ticket").disabled = true;
    } catch (e) { msg.textContent = e.message; }
  });
  try {
    const depts = await Hotline.api("GET", "/api/seat/departments");
    const sel = document.getElementById("dept");
    sel.append(el("option", { value: "" }, "选择部门"));
    for (const d of depts) sel.append(el("option", { value: String(d.id) }, d.name + " " + d.number));
  } catch (e) { console.warn(e); }
  // The draft is built from the recording after the call: look for it while wrapping up.
  setInterval(() => {
    const state = document.getElementById("state").className;
    if (state === "wrapup" || state === "busy") refresh().catch(() => {});
  }, 10000);
  Hotline.stream("/api/seat/events", {
    hello: showCall,
    state: d => showState(d.seat),
    ringing: ev => { pop(ev); showState({ state: "ringing" }); refresh(); },
    answered: () => refresh(),
    transfer: ev => {  // how the department leg of a three-way call ended
      const words = { connected: "部门已接通", noanswer: "部门无人接听，来电仍与您通话", busy: "部门忙，来电仍与您通话", failed: "部门电话未接通，来电仍与您通话" };
      document.getElementById("call-message").textContent = words[ev.result] || ev.result;
      refresh();
    },
    ended: () => refresh(),
  });
}

Hotline.requireLogin(["seat"], start);
