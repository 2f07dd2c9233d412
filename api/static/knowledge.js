// 政策知识库 for the `knowledge` role (and admins): entries with their state, a new entry or a
// new version goes to review, another editor approves (publishes) or rejects with a reason;
// version history with differences; CSV/Markdown import (each entry to review) and export.
"use strict";

const PAGE = 20;
const state = { offset: 0, filter: {}, entry: null, editing: null, review: null };
const $ = id => document.getElementById(id);
const REV_STATES = { pending: "待审核", approved: "已通过", rejected: "已驳回" };
const day = iso => (iso ? new Date(iso).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" }) : "—");

function cell(text, cls) { const td = el("td", cls ? { class: cls } : {}); td.textContent = text ?? "—"; return td; }

// What a seat's search does with the entry now: only 已发布 ones are found.
function entryState(e) {
  const now = Date.now();
  if (new Date(e.valid_from).getTime() > now) return ["未生效", "state-future"];
  if (e.valid_to && new Date(e.valid_to).getTime() <= now) return ["已过期", "state-expired"];
  return ["已发布", "state-published"];
}

async function loadList() {
  const q = new URLSearchParams({ limit: PAGE, offset: state.offset });
  for (const [k, v] of Object.entries(state.filter)) if (v) q.set(k, v);
  const list = await Hotline.api("GET", "/api/kb/entries?" + q);
  $("page-no").textContent = "第 " + (state.offset / PAGE + 1) + " 页";
  $("prev").disabled = state.offset === 0;
  $("next").disabled = list.length < PAGE;
  $("list-empty").classList.toggle("hidden", list.length > 0);
  $("list").replaceChildren(...list.map(e => {
    const [label, cls] = entryState(e);
    const tr = el("tr", { "data-id": e.id });
    tr.append(cell("#" + e.id), cell(e.title), cell(e.category), cell("第 " + e.version + " 版"),
      cell(label, cls), cell(day(e.valid_from)), cell(day(e.valid_to)));
    tr.addEventListener("click", () => openEntry(e.id).catch(err => { $("d-error").textContent = err.message; }));
    return tr;
  }));
}

async function openEntry(id) {
  $("d-error").textContent = "";
  const e = await Hotline.api("GET", "/api/kb/entries/" + id);
  state.entry = e;
  $("d-empty").classList.add("hidden");
  $("detail").classList.remove("hidden");
  $("d-title").textContent = "#" + e.id;
  const [label] = entryState(e);
  const rows = [["标题", e.title], ["分类", e.category], ["部门", e.department], ["版本", "第 " + e.version + " 版"],
    ["状态", label], ["生效", day(e.valid_from)], ["失效", day(e.valid_to)], ["来源", e.source], ["标签", e.tags.join("、")]];
  $("d-fields").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v || "—")]));
  $("d-body").textContent = e.body;
  await loadHistory(e);
}

async function loadHistory(e) {
  const revs = await Hotline.api("GET", `/api/kb/entries/${e.id}/revisions`);
  $("diff").classList.add("hidden");
  $("history").replaceChildren(...revs.map((r, i) => {
    // an approved revision against the approved one before it; a proposal against the entry now
    const before = r.state === "pending" ? e : revs.slice(i + 1).find(o => o.state === "approved") || null;
    const show = el("button", { type: "button", class: "show-diff" }, "对比");
    show.addEventListener("click", () => { KbDiff.render($("diff"), before, r); $("diff").classList.remove("hidden"); });
    const tr = el("tr", { "data-rev": r.id });
    tr.append(cell("#" + r.id), cell(r.base_version ? "第 " + r.base_version + " 版" : "新建"),
      cell(REV_STATES[r.state] || r.state), cell(r.author), cell(r.reviewer), cell(r.note),
      cell(fmtTime(r.decided_at || r.created_at)), el("td", {}, show));
    return tr;
  }));
}

function openEditor(entry) {
  state.editing = entry;
  const f = $("entry-form");
  f.reset();
  $("e-error").textContent = ""; $("e-message").textContent = "";
  $("e-title").textContent = entry ? `编辑条目 #${entry.id}（当前第 ${entry.version} 版）` : "新建条目";
  if (entry) {
    for (const k of ["title", "category", "department", "source", "body"]) f[k].value = entry[k] || "";
    f.tags.value = entry.tags.join("、");
    f.valid_from.value = isoDay(entry.valid_from);
    f.valid_to.value = entry.valid_to ? isoDay(entry.valid_to) : "";
  }
  $("editor").classList.remove("hidden");
  f.title.focus();
}

// yyyy-mm-dd of the city's day, for <input type=date>
function isoDay(iso) { return new Date(iso).toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" }); }
const cityMidnight = d => d + "T00:00:00+08:00";

async function submitEntry(ev) {
  ev.preventDefault();
  const f = ev.target;
  $("e-error").textContent = ""; $("e-message").textContent = "";
  const body = {
    title: f.title.value.trim(), category: f.category.value.trim(), body: f.body.value.trim(),
    department: f.department.value.trim() || null, source: f.source.value.trim(),
    valid_from: cityMidnight(f.valid_from.value), valid_to: f.valid_to.value ? cityMidnight(f.valid_to.value) : null,
    tags: f.tags.value.split(/[、,，;；]/).map(t => t.trim()).filter(Boolean),
  };
  if (state.editing) body.entry_id = state.editing.id;
  try {
    const rev = await Hotline.api("POST", "/api/kb/revisions", body);
    $("e-message").textContent = `已提交审核（修订 #${rev.id}），审核通过后发布`;
    f.reset(); state.editing = null;
    await loadPending();
    if (state.entry && body.entry_id === state.entry.id) await loadHistory(state.entry);
  } catch (e) { $("e-error").textContent = e.message; }
}

async function loadPending() {
  const revs = await Hotline.api("GET", "/api/kb/revisions?limit=100");
  $("pending-count").textContent = revs.length ? "（" + revs.length + "）" : "（暂无）";
  $("pending").replaceChildren(...revs.map(r => {
    const pick = el("button", { type: "button", class: "pick" }, "审核");
    pick.addEventListener("click", () => openReview(r).catch(e => { $("r-error").textContent = e.message; }));
    const tr = el("tr", { "data-rev": r.id });
    tr.append(cell("#" + r.id), cell(r.entry_id ? "#" + r.entry_id : "新建"), cell(r.title), cell(r.author),
      cell(fmtTime(r.created_at)), el("td", {}, pick));
    return tr;
  }));
}

async function openReview(r) {
  state.review = r;
  $("r-error").textContent = ""; $("r-message").textContent = ""; $("r-note").value = "";
  let current = null;
  if (r.entry_id) {
    try { current = await Hotline.api("GET", "/api/kb/entries/" + r.entry_id); } catch (e) { if (e.status !== 404) throw e; }
  }
  $("r-id").textContent = "#" + r.id + (r.author === Hotline.user.username ? "（本人提交，须由他人审核）" : "");
  KbDiff.render($("r-diff"), current, r);
  $("review").classList.remove("hidden");
}

async function decide(approve) {
  const r = state.review;
  const note = $("r-note").value.trim();
  $("r-error").textContent = ""; $("r-message").textContent = "";
  if (!approve && !note) { $("r-error").textContent = "驳回须填写理由"; return; }
  try {
    const done = await Hotline.api("POST", `/api/kb/revisions/${r.id}/decision`, { approve, note });
    $("r-message").textContent = approve ? `修订 #${r.id} 已通过，条目 #${done.entry_id} 已发布` : `修订 #${r.id} 已驳回`;
    $("review").classList.add("hidden");
    state.review = null;
    await Promise.all([loadPending(), loadList()]);
    if (state.entry && state.entry.id === done.entry_id) await openEntry(done.entry_id);
  } catch (e) { $("r-error").textContent = e.message; }
}

async function withdrawEntry() {
  const e = state.entry;
  if (!e || !confirm(`撤回条目 #${e.id}「${e.title}」？撤回后坐席检索不到该条目。`)) return;
  try {
    await Hotline.api("POST", `/api/kb/entries/${e.id}/withdraw`);
    state.entry = null;
    $("detail").classList.add("hidden"); $("d-empty").classList.remove("hidden");
    await loadList();
  } catch (err) { $("d-error").textContent = err.message; }
}

// The file API calls send and take text, not JSON: fetch with the token directly.
async function raw(method, path, body) {
  const resp = await fetch(path, { method, body, headers: { Authorization: "Bearer " + Hotline.token, "Content-Type": "text/plain; charset=utf-8" } });
  if (resp.status === 401) { Hotline.forget(); throw new Error("登录已过期，请重新登录"); }
  if (!resp.ok) {
    let detail = "";
    try { const data = await resp.json(); detail = typeof data.detail === "string" ? data.detail : ""; } catch (e) { detail = ""; }
    throw new Error(/[\u4e00-\u9fff]/.test(detail) ? detail : ERROR_WORDS[resp.status] || "操作失败（" + resp.status + "）");
  }
  return resp;
}

async function exportAs(format) {
  $("io-error").textContent = "";
  try {
    const blob = await (await raw("GET", "/api/kb/export?format=" + format)).blob();
    const a = el("a", { href: URL.createObjectURL(blob), download: "知识库." + (format === "md" ? "md" : "csv") });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) { $("io-error").textContent = e.message; }
}

async function importFile(ev) {
  ev.preventDefault();
  const f = ev.target;
  $("io-error").textContent = ""; $("io-message").textContent = "";
  const file = f.file.files[0];
  if (!file) return;
  try {
    const out = await (await raw("POST", "/api/kb/import?format=" + f.format.value, await file.text())).json();
    $("io-message").textContent = `已导入 ${out.proposed} 条，均待审核` + (out.bad.length ? `；${out.bad.length} 条有误未导入：` : "");
    $("io-bad").replaceChildren(...out.bad.map(b => el("li", {}, `第 ${b.line} 行：${b.reason}`)));
    await loadPending();
  } catch (e) { $("io-error").textContent = e.message; }
}

Hotline.requireLogin(["knowledge", "admin"], async () => {
  $("signout").addEventListener("click", () => Hotline.logout());
  $("filter").addEventListener("submit", ev => {
    ev.preventDefault();
    state.filter = { title: ev.target.title.value.trim(), category: ev.target.category.value.trim() };
    state.offset = 0;
    loadList();
  });
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadList(); });
  $("next").addEventListener("click", () => { state.offset += PAGE; loadList(); });
  $("new").addEventListener("click", () => openEditor(null));
  $("edit").addEventListener("click", () => openEditor(state.entry));
  $("withdraw").addEventListener("click", withdrawEntry);
  $("cancel").addEventListener("click", () => { $("editor").classList.add("hidden"); state.editing = null; });
  $("entry-form").addEventListener("submit", submitEntry);
  $("approve").addEventListener("click", () => decide(true));
  $("reject").addEventListener("click", () => decide(false));
  $("export-csv").addEventListener("click", () => exportAs("csv"));
  $("export-md").addEventListener("click", () => exportAs("md"));
  $("import").addEventListener("submit", importFile);
  await Promise.all([loadList(), loadPending()]);
  setInterval(() => loadPending().catch(() => {}), 15000);
});
