// QA review: my assigned calls, search, the recording beside its caller/seat transcript,
// scoring (every item chosen by hand), hold, and for QA leads sampling and appeals.
"use strict";

const PAGE = 20;
const SPEAKERS = { caller: "市民", seat: "坐席", mixed: "通话" };
const ASSIGNMENT_LABELS = { pending: "待质检", done: "已完成" };
const APPEAL_LABELS = { open: "待处理", upheld: "维持原评分", changed: "已改分" };

let me = null;
let rubric = null;
let reviewing = null;  // the call id on screen
let held = false;
let cityLabels = {};
const pages = { assigned: 0, results: 0, appeals: 0 };

// The only place that knows how the player is authorized to fetch a recording.
// A 5-minute token for this one recording (the session token never goes into a URL).
async function audioUrl(recordingId) {
  return (await Hotline.api("POST", `/api/recordings/${recordingId}/token`)).url;
}

const isLead = () => me.role === "qa_lead" || me.role === "admin";
const cityName = code => cityLabels[code] || code || "";
const q = encodeURIComponent;

// "上一页 第 n 页（共 m 条） 下一页"; total null: a next page exists when this one was full.
function pager(id, offset, count, total, go) {
  const box = document.getElementById(id);
  box.textContent = "";
  const page = Math.floor(offset / PAGE) + 1;
  const hasNext = total === null ? count === PAGE : offset + count < total;
  const prev = el("button", { type: "button", class: "prev" }, "上一页");
  const next = el("button", { type: "button", class: "next" }, "下一页");
  prev.disabled = offset === 0;
  next.disabled = !hasNext;
  prev.addEventListener("click", () => go(Math.max(0, offset - PAGE)));
  next.addEventListener("click", () => go(offset + PAGE));
  const summary = total === null ? "" : `，共 ${Math.max(1, Math.ceil(total / PAGE))} 页 ${total} 条`;
  box.append(prev, el("span", { class: "page" }, `第 ${page} 页${summary}`), next);
}

// --- my assigned calls --------------------------------------------------------------------
async function loadAssigned(offset = pages.assigned) {
  pages.assigned = offset;
  const status = document.getElementById("assigned-status").value;
  const data = await Hotline.api("GET", `/api/qa/assignments?mine=true&status=${status}&limit=${PAGE}&offset=${offset}`);
  const body = document.getElementById("assigned");
  body.textContent = "";
  for (const a of data.items) {
    const c = a.call || {};
    body.append(el("tr", { "data-call": a.call_id, class: a.call_id === reviewing ? "current" : "", onclick: () => review(a.call_id) },
      el("td", {}, fmtTime(c.entered_at)), el("td", {}, cityName(c.city)), el("td", {}, a.seat_id || ""),
      el("td", {}, SKILL_LABELS[c.skill] || c.skill || ""), el("td", {}, ASSIGNMENT_LABELS[a.status] || a.status), el("td", {}, a.call_id)));
  }
  if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, status === "pending" ? "暂无待质检通话" : "暂无已完成的质检")));
  pager("assigned-pager", offset, data.items.length, data.total, loadAssigned);
  return data;
}

async function nextAssigned() {
  const data = await Hotline.api("GET", `/api/qa/assignments?mine=true&status=pending&limit=${PAGE}&offset=0`);
  const next = data.items.find(a => a.call_id !== reviewing);
  const msg = document.getElementById("score-message");
  if (next) await review(next.call_id);
  else { msg.className = "message"; msg.textContent = "已没有待质检的通话"; }
}

// --- search -------------------------------------------------------------------------------
async function search(offset = 0) {
  pages.results = offset;
  const f = document.getElementById("search");
  const params = new URLSearchParams();
  for (const name of ["city", "seat_id", "skill", "outcome", "q"]) if (f[name].value) params.set(name, f[name].value);
  if (f.date_from.value) params.set("date_from", new Date(f.date_from.value + "T00:00:00+08:00").toISOString());
  if (f.date_to.value) params.set("date_to", new Date(f.date_to.value + "T24:00:00+08:00").toISOString());
  if (f.overflowed.checked) params.set("overflowed", "true");
  params.set("limit", String(PAGE));
  params.set("offset", String(offset));
  const rows = await Hotline.api("GET", "/api/qa/calls?" + params);
  const body = document.getElementById("results");
  body.textContent = "";
  for (const c of rows) {
    body.append(el("tr", { "data-call": c.call_id, onclick: () => review(c.call_id) },
      el("td", {}, fmtTime(c.entered_at)), el("td", {}, cityName(c.city)), el("td", {}, c.seat_id || ""),
      el("td", {}, SKILL_LABELS[c.skill] || c.skill || ""), el("td", {}, OUTCOME_LABELS[c.outcome] || c.outcome || ""),
      el("td", {}, c.overflowed ? "是" : ""), el("td", {}, c.call_id)));
  }
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "muted" }, "没有符合条件的通话")));
  pager("results-pager", offset, rows.length, null, search);
}

// --- one call -----------------------------------------------------------------------------
async function review(callId) {
  reviewing = callId;
  for (const tr of document.querySelectorAll("#assigned tr[data-call]")) tr.classList.toggle("current", tr.dataset.call === callId);
  const data = await Hotline.api("GET", "/api/qa/calls/" + q(callId));
  document.getElementById("review").classList.remove("hidden");
  document.getElementById("review-call").textContent = `${callId}　${cityName(data.call.city)}　坐席 ${data.call.seat_id || "—"}`;
  resetForm();
  document.getElementById("score-message").textContent = "";
  showHold(data.held);
  const player = document.getElementById("player");
  const list = document.getElementById("transcript");
  list.textContent = "";
  const rec = data.recordings.find(r => r.speaker === "mixed") || data.recordings[0];
  if (!rec) { player.removeAttribute("src"); player.load(); list.append(el("li", { class: "muted" }, "该通话没有录音")); }
  else {
    player.src = await audioUrl(rec.id);
    await showTranscript(callId, rec.id, list, player);
  }
  showScores(data.scores);
  showComments(data.comments);
}

async function showTranscript(callId, recordingId, list, player) {
  try {
    const t = await Hotline.api("GET", `/api/qa/calls/${q(callId)}/transcript?recording_id=${recordingId}`);
    for (const seg of t.lines) {
      list.append(el("li", { class: seg.speaker, "data-start": String(seg.start_s), "data-end": String(seg.end_s),
        onclick: () => { player.currentTime = seg.start_s; player.play().catch(() => {}); } },
        el("span", { class: "t" }, fmtSeconds(seg.start_s)), el("span", { class: "who" }, (SPEAKERS[seg.speaker] || seg.speaker) + "："), seg.text));
    }
    if (t.pending.length) list.append(el("li", { class: "muted" }, "转写中：" + t.pending.map(s => SPEAKERS[s] || s).join("、")));
    else if (!t.lines.length) list.append(el("li", { class: "muted" }, "转写结果为空"));
  } catch (e) { list.append(el("li", { class: "muted" }, "暂无转写：" + e.message)); }
  follow();
}

// Highlights the line being played and keeps it in view inside the list.
function follow() {
  const player = document.getElementById("player");
  const t = player.currentTime;
  document.getElementById("position").textContent = fmtSeconds(t);
  const list = document.getElementById("transcript");
  for (const li of list.querySelectorAll("li[data-start]")) {
    const on = t >= Number(li.dataset.start) && t < Number(li.dataset.end);
    if (on && !li.classList.contains("active")) {
      const top = li.offsetTop - list.offsetTop;
      if (top < list.scrollTop || top + li.offsetHeight > list.scrollTop + list.clientHeight) list.scrollTop = top;
    }
    li.classList.toggle("active", on);
  }
}

function showHold(value) {
  held = value;
  document.getElementById("hold").textContent = held ? "取消保留" : "保留录音";
  const state = document.getElementById("hold-state");
  state.textContent = held ? "已保留：不会被到期清理" : "";
  state.className = held ? "held" : "muted";
}

// --- scoring ------------------------------------------------------------------------------
function buildForm() {
  document.getElementById("rubric-name").textContent = rubric.name;
  const items = document.getElementById("items");
  items.textContent = "";
  for (const item of rubric.items) {
    // No value: every item is chosen by the reviewer; nothing defaults to full marks.
    items.append(el("div", { class: "item", "data-key": item.key },
      el("span", { class: "label" }, `${item.label}（0–${item.max} 分）`),
      el("input", { type: "number", name: "item-" + item.key, min: "0", max: String(item.max), step: "1", placeholder: "未评" }),
      el("input", { class: "note", name: "note-" + item.key, maxlength: "500", placeholder: "该项说明（选填）" })));
  }
  items.addEventListener("input", total);
}

function resetForm() {
  document.getElementById("score").reset();
  for (const div of document.querySelectorAll("#items .item")) div.classList.remove("missing");
  total();
}

// Scores of the items chosen so far, and the items not (or not validly) chosen.
function chosen() {
  const scores = {}, missing = [];
  for (const item of rubric.items) {
    const raw = document.querySelector(`[name="item-${item.key}"]`).value.trim();
    const n = Number(raw);
    if (raw === "" || !Number.isInteger(n) || n < 0 || n > item.max) missing.push(item);
    else scores[item.key] = n;
  }
  return { scores, missing };
}

function total() {
  const { scores, missing } = chosen();
  const sum = Object.values(scores).reduce((a, b) => a + b, 0);
  document.getElementById("total").textContent = missing.length === rubric.items.length ? "—" : String(sum);
  document.getElementById("unscored").textContent = missing.length ? `尚有 ${missing.length} 项未评` : "";
}

async function submitScore(ev) {
  ev.preventDefault();
  const msg = document.getElementById("score-message");
  const { scores, missing } = chosen();
  for (const div of document.querySelectorAll("#items .item")) {
    div.classList.toggle("missing", missing.some(m => m.key === div.dataset.key));
  }
  if (missing.length) {
    msg.className = "message bad";
    msg.textContent = "请为每一项评分：" + missing.map(m => `${m.label}（0–${m.max}）`).join("、");
    return;
  }
  const notes = {};
  for (const item of rubric.items) {
    const v = document.querySelector(`[name="note-${item.key}"]`).value.trim();
    if (v) notes[item.key] = v;
  }
  try {
    await Hotline.api("POST", `/api/qa/calls/${q(reviewing)}/scores`,
      { rubric_id: rubric.id, scores, remark: ev.target.remark.value, item_remarks: notes });
    msg.className = "message";
    msg.textContent = "评分已提交";
    resetForm();
    showScores((await Hotline.api("GET", "/api/qa/calls/" + q(reviewing))).scores);
    await loadAssigned();
  } catch (e) { msg.className = "message bad"; msg.textContent = e.message; }
}

function labelOf(key) {
  const item = rubric.items.find(i => i.key === key);
  return item ? item.label : key;
}

function showScores(rows) {
  const body = document.getElementById("scores");
  body.textContent = "";
  for (const s of rows) {
    const notes = Object.entries(s.item_remarks || {}).map(([k, v]) => `${labelOf(k)}：${v}`).join("；");
    body.append(el("tr", {}, el("td", {}, s.reviewer), el("td", {}, `${s.total} / ${s.max_total}`),
      el("td", {}, [s.remark, notes].filter(Boolean).join("　")), el("td", {}, fmtTime(s.created_at))));
  }
}

function showComments(rows) {
  const body = document.getElementById("comments");
  body.textContent = "";
  for (const c of rows) body.append(el("tr", {}, el("td", {}, c.at_s === null ? "" : fmtSeconds(c.at_s)), el("td", {}, c.author), el("td", {}, c.text)));
}

// --- QA lead: sampling --------------------------------------------------------------------
async function sample(ev) {
  ev.preventDefault();
  const f = ev.target;
  const msg = document.getElementById("sample-message");
  const reviewers = f.reviewers.value.split(/[,，\s]+/).filter(Boolean);
  const body = { day: f.day.value, percent: Number(f.percent.value), reviewers };
  if (f.city.value) body.city = f.city.value;
  try {
    const out = await Hotline.api("POST", "/api/qa/samples", body);
    const seats = Object.entries(out.by_seat).map(([seat, n]) => `${seat}：${n.answered} 通接听，新抽 ${n.sampled} 通`).join("；");
    msg.className = "message";
    msg.textContent = `已抽取并分配 ${out.assigned.length} 通。${seats}`;
    await loadAssigned(0);
  } catch (e) { msg.className = "message bad"; msg.textContent = e.message; }
}

// --- QA lead: appeals ---------------------------------------------------------------------
let resolving = null;  // the appeal in the resolve form

async function loadAppeals(offset = pages.appeals) {
  pages.appeals = offset;
  const status = document.getElementById("appeal-status").value;
  const data = await Hotline.api("GET", `/api/qa/appeals?${status ? "status=" + status + "&" : ""}limit=${PAGE}&offset=${offset}`);
  const body = document.getElementById("appeals");
  body.textContent = "";
  for (const a of data.items) {
    const act = a.status === "open"
      ? el("button", { type: "button", class: "handle", onclick: () => openResolve(a) }, "处理")
      : el("span", {}, `${APPEAL_LABELS[a.status]}（${a.resolved_by}）${a.resolution}`);
    body.append(el("tr", { "data-appeal": String(a.id) }, el("td", {}, fmtTime(a.created_at)), el("td", {}, a.seat_id),
      el("td", {}, a.call_id), el("td", {}, !a.score ? "" : a.old_total === null ? `${a.score.total} / ${a.score.max_total}` : `${a.old_total} → ${a.score.total} / ${a.score.max_total}`),
      el("td", {}, a.reason), el("td", {}, act)));
  }
  if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, "没有申诉")));
  pager("appeals-pager", offset, data.items.length, data.total, loadAppeals);
}

function openResolve(appeal) {
  resolving = appeal;
  const form = document.getElementById("resolve");
  form.classList.remove("hidden");
  document.getElementById("resolve-title").textContent = `${appeal.call_id}　坐席 ${appeal.seat_id}`;
  document.getElementById("resolve-message").textContent = "";
  document.getElementById("resolve-note").value = "";
  const box = document.getElementById("resolve-items");
  box.textContent = "";
  // A change edits the score that stands: its values are where the lead starts from.
  for (const [key, value] of Object.entries(appeal.score.scores)) {
    box.append(el("div", { class: "item" }, el("span", { class: "label" }, labelOf(key)),
      el("input", { type: "number", name: "new-" + key, "data-key": key, min: "0", value: String(value) })));
  }
}

async function resolve(decision) {
  const msg = document.getElementById("resolve-message");
  const note = document.getElementById("resolve-note").value.trim();
  if (!note) { msg.className = "message bad"; msg.textContent = "请填写处理意见"; return; }
  const body = { decision, note };
  if (decision === "changed") {
    body.scores = {};
    for (const input of document.querySelectorAll("#resolve-items input")) body.scores[input.dataset.key] = Number(input.value);
  }
  try {
    await Hotline.api("POST", `/api/qa/appeals/${resolving.id}/resolve`, body);
    msg.className = "message";
    msg.textContent = decision === "changed" ? "已改分" : "已维持原评分";
    document.getElementById("resolve").classList.add("hidden");
    await loadAppeals();
  } catch (e) { msg.className = "message bad"; msg.textContent = e.message; }
}

// --- start --------------------------------------------------------------------------------
function fillCities(cities) {
  for (const c of cities) cityLabels[c.city] = c.label;
  for (const select of document.querySelectorAll("select[name=city]")) {
    for (const c of cities) select.append(el("option", { value: c.city }, c.label));
  }
}

function yesterday() {
  const now = new Date(Date.now() + 8 * 3600 * 1000 - 24 * 3600 * 1000);  // in Shanghai
  return now.toISOString().slice(0, 10);
}

async function start(user) {
  me = user;
  document.getElementById("signout").addEventListener("click", () => Hotline.logout());
  document.getElementById("search").addEventListener("submit", ev => { ev.preventDefault(); search(0); });
  document.getElementById("assigned-status").addEventListener("change", () => loadAssigned(0));
  const player = document.getElementById("player");
  player.addEventListener("timeupdate", follow);
  player.addEventListener("seeked", follow);
  fillCities(await Hotline.api("GET", "/api/qa/cities"));
  rubric = await Hotline.api("GET", "/api/qa/rubric");
  buildForm();
  document.getElementById("score").addEventListener("submit", submitScore);
  document.getElementById("next").addEventListener("click", nextAssigned);
  document.getElementById("hold").addEventListener("click", async () => {
    const out = await Hotline.api("PUT", `/api/qa/calls/${q(reviewing)}/hold`, { held: !held });
    showHold(out.held);
  });
  document.getElementById("add-comment").addEventListener("click", async () => {
    const text = document.getElementById("comment-text").value.trim();
    if (!text || !reviewing) return;
    await Hotline.api("POST", `/api/qa/calls/${q(reviewing)}/comments`, { text, at_s: player.currentTime || null });
    document.getElementById("comment-text").value = "";
    showComments(await Hotline.api("GET", `/api/qa/calls/${q(reviewing)}/comments`));
  });
  if (isLead()) {
    for (const s of document.querySelectorAll(".lead")) s.classList.remove("hidden");
    document.getElementById("sample").day.value = yesterday();
    document.getElementById("sample").addEventListener("submit", sample);
    document.getElementById("appeal-status").addEventListener("change", () => loadAppeals(0));
    document.getElementById("resolve-uphold").addEventListener("click", () => resolve("upheld"));
    document.getElementById("resolve-change").addEventListener("click", () => resolve("changed"));
    document.getElementById("resolve-cancel").addEventListener("click", () => document.getElementById("resolve").classList.add("hidden"));
    await loadAppeals(0);
  }
  await loadAssigned(0);
  await search(0);
}

Hotline.requireLogin(["qa", "qa_lead", "admin"], start);
