// 工单中心: a dispatcher's queues (派单, 退单, 延期审批, 督办, 销号, 清零) and a unit's inbox
// (签收, 退单, 申请延期, 办结), deadlines counting down, overdue in red.
"use strict";

const TABS = {
  dispatcher: [
    ["待派单", { state: "受理" }], ["已退单", { state: "已退单" }], ["待签收", { state: "已派单" }],
    ["办理中", { state: "办理中" }], ["超期", { overdue: true }], ["已办结", { state: "已办结" }],
    ["待审核", { state: "待审核" }], ["已回访", { state: "已回访" }], ["清零", { clearance: true }],
  ],
  unit: [["待签收", { state: "已派单" }], ["办理中", { state: "办理中" }], ["超期", { overdue: true }]],
};
TABS.admin = TABS.dispatcher;
const PAGE = 20;
const view = { tab: null, offset: 0, rows: [], selected: null, units: [] };
const $ = id => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

// Deadlines are the city's working hours: shown in its time zone whatever the PC's is.
function when(iso) { return iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" }) : "—"; }

// The deadline that matters now: the sign window while dispatched, else the handling deadline.
function deadlineOf(t) { return t.status === "已派单" && t.sign_due_at ? t.sign_due_at : t.due_at; }
const RUNNING = new Set(["已派单", "办理中", "已退单"]);

function remaining(t) {
  if (!RUNNING.has(t.status)) return { text: "—", cls: "" };
  const ms = new Date(deadlineOf(t)) - Date.now();
  const h = Math.floor(Math.abs(ms) / 3600000), m = Math.floor(Math.abs(ms) % 3600000 / 60000);
  const span = (h >= 24 ? Math.floor(h / 24) + "天" + (h % 24) + "小时" : h + "小时" + m + "分");
  if (ms < 0) return { text: "超期 " + span, cls: "late" };
  return { text: "剩 " + span, cls: ms < 4 * 3600000 ? "soon" : "" };
}

async function loadList() {
  const [label, query] = view.tab;
  $("clearance").classList.toggle("hidden", !query.clearance);
  $("list").parentElement.classList.toggle("hidden", !!query.clearance);
  if (query.clearance) return loadClearance();
  const params = new URLSearchParams({ limit: PAGE, offset: view.offset });
  if (query.state) params.set("state", query.state);
  if (query.overdue) params.set("overdue", "true");
  const page = await Hotline.api("GET", "/api/tickets?" + params);
  view.rows = page.items;
  $("page-no").textContent = label + " 第 " + (view.offset / PAGE + 1) + " 页";
  $("prev").disabled = view.offset === 0;
  $("next").disabled = page.items.length < PAGE;
  renderList();
}

function renderList() {
  const body = $("list");
  body.replaceChildren(...view.rows.map(t => {
    const left = remaining(t);
    const tags = [];
    if (t.enterprise) tags.push(el("span", { class: "tag ent" }, "政企通"));
    if (t.supervised) tags.push(el("span", { class: "tag red" }, "督办"));
    if (t.returns) tags.push(el("span", { class: "tag" }, "退单" + t.returns));
    if (t.extension_days) tags.push(el("span", { class: "tag" }, "延期待批"));
    const row = el("tr", { "data-id": t.id, class: (t.overdue ? "overdue " : "") + (view.selected === t.id ? "selected" : "") },
      el("td", {}, t.number), el("td", {}, t.status, ...tags), el("td", {}, t.summary),
      el("td", {}, when(deadlineOf(t))), el("td", { class: left.cls }, left.text));
    row.addEventListener("click", () => select(t.id));
    return row;
  }));
}

async function loadClearance() {
  const month = new Date().toISOString().slice(0, 7);
  const rows = await Hotline.api("GET", "/api/tickets-clearance?month=" + month);
  $("page-no").textContent = "清零行动 " + month + "（截至本月底受理、尚未销号）";
  $("clearance").querySelector("tbody").replaceChildren(...rows.map(r =>
    el("tr", {}, el("td", {}, r.unit_name), el("td", {}, r.open), el("td", { class: r.overdue ? "late" : "" }, r.overdue), el("td", {}, r.unsatisfied))));
}

async function select(id) {
  view.selected = id;
  renderList();
  $("d-error").textContent = "";
  const t = await Hotline.api("GET", "/api/tickets/" + id);
  renderDetail(t);
}

function field(label, value, cls = "") { return [el("dt", {}, label), el("dd", { class: cls }, value ?? "—")]; }

function renderDetail(t) {
  $("d-empty").classList.add("hidden");
  $("detail").classList.remove("hidden");
  $("d-number").textContent = t.number;
  const left = remaining(t);
  $("d-fields").replaceChildren(
    ...field("状态", t.status + (t.enterprise ? "（政企通）" : "")),
    ...field("诉求类别", t.category + " · " + t.request_type),
    ...field("诉求内容", t.summary),
    ...field("地点", t.location),
    ...field("来电号码", t.caller_number),
    ...field("受理时间", when(t.accepted_at)),
    ...field("办理期限", when(t.due_at) + "　" + left.text, left.cls),
    ...field("签收期限", when(t.sign_due_at)),
    ...field("承办单位", t.units.map(u => u.name + "（" + u.role + "）").join("，") || "未派单"),
    ...field("办理结果", t.reply),
    ...(t.attachments.length ? [el("dt", {}, "办结附件"), el("dd", {}, fileList(t.attachments))] : []),
    ...field("延期申请", t.extension_days ? t.extension_days + " 个工作日：" + t.extension_reason : null),
    ...field("回访", t.visit_required ? (t.satisfaction || "待回访") : "无需回访"),
  );
  $("d-events").replaceChildren(...t.events.map(e =>
    el("li", {}, when(e.at) + "　" + e.actor + "　" + (ACTION_LABELS[e.action] || e.action) + "　" + e.from_state + " → " + e.to_state + (e.reason ? "　" + e.reason : ""))));
  $("d-dups").replaceChildren(...t.duplicates.map(d =>
    el("tr", {}, el("td", {}, d.ticket.number), el("td", {}, d.ticket.summary), el("td", {}, d.reasons.join("、")),
      el("td", {}, el("button", { "data-merge": d.ticket.id, onclick: () => act(t.id, { action: "merge", into: d.ticket.id }, "已合并到 " + d.ticket.number) }, "合并到此单")))));
  $("d-dups-title").classList.toggle("hidden", t.duplicates.length === 0);
  renderActions(t);
}

// 办结 attachments: each downloads with the session's token, as a file (never opened inline).
function fileList(files) {
  return el("ul", { class: "files", id: "d-files" }, ...files.map(f =>
    el("li", { "data-file": f.id },
      el("a", { href: "#", onclick: ev => { ev.preventDefault(); Hotline.download(f.url, f.name).catch(e => { $("d-error").textContent = e.message; }); } }, f.name),
      el("span", { class: "muted" }, "　" + sizeOf(f.size) + "　" + (f.reply_round ? "第 " + (f.reply_round + 1) + " 次办结" : "办结") + "　" + f.uploaded_by))));
}

function sizeOf(n) { return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB"; }

const FILE_KINDS = ".jpg,.jpeg,.png,.heic,.pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx";

// 办结 with files goes as multipart to its own route; without, as the other steps do.
async function reply(id, reason, input) {
  if (!input.files.length) return act(id, { action: "reply", reason }, "已办结");
  const form = new FormData();
  form.append("reason", reason);
  for (const file of input.files) form.append("files", file, file.name);
  return act(id, form, "已办结（附件 " + input.files.length + " 个）", "/api/ticket-replies/" + id);
}

const ACTION_LABELS = { direct_answer: "直接答复", dispatch: "派单", sign: "签收", return: "退单", request_extension: "申请延期", decide_extension: "延期审批", reply: "办结", visit: "回访", supervise: "督办", close: "销号", merge: "合并" };

function textBox(name, placeholder) { return el("textarea", { name, rows: 2, placeholder }); }

function renderActions(t) {
  const box = $("d-actions");
  box.replaceChildren();
  const role = Hotline.user.role;
  const reasonOf = name => box.querySelector(`[name=${name}]`).value;
  if (role === "unit") {
    if (t.status === "已派单") {
      box.append(el("div", { class: "row" }, el("button", { class: "primary", id: "a-sign", onclick: () => act(t.id, { action: "sign" }, "已签收") }, "签收")));
    }
    if (t.status === "办理中") {
      const files = el("input", { type: "file", id: "a-files", multiple: "", accept: FILE_KINDS });
      box.append(textBox("reply", "办理结果（必填）"),
        el("div", { class: "row" }, "附件（照片、PDF、Office 文档，可多选）", files),
        el("div", { class: "row" }, el("button", { class: "primary", id: "a-reply", onclick: () => reply(t.id, reasonOf("reply"), files) }, "办结")));
      if (!t.extension_days) {
        box.append(el("div", { class: "row" }, "申请延期",
          el("input", { type: "number", name: "days", min: 1, max: 30, value: 3, size: 3 }), "个工作日",
          el("input", { name: "ext-reason", placeholder: "延期理由", size: 20 }),
          el("button", { id: "a-extend", onclick: () => act(t.id, { action: "request_extension", extension_days: Number(box.querySelector("[name=days]").value), reason: box.querySelector("[name=ext-reason]").value }, "延期申请已提交") }, "申请延期")));
      }
    }
    if (t.status === "已派单" || t.status === "办理中") {
      box.append(el("div", { class: "row" }, el("input", { name: "ret-reason", placeholder: "退单理由（必填）", size: 30 }),
        el("button", { id: "a-return", onclick: () => act(t.id, { action: "return", reason: box.querySelector("[name=ret-reason]").value }, "已退单") }, "退单")));
    }
    return;
  }
  if (["受理", "已退单", "已派单"].includes(t.status)) {
    const options = () => view.units.map(u => el("option", { value: u.id }, (u.level === "乡镇街道" ? "　" : "") + u.name));
    const lead = el("select", { id: "a-lead" }, el("option", { value: "" }, "请选择主办单位"), ...options());
    const assist = el("select", { multiple: "", id: "a-assist" }, ...options());
    const units = () => [Number(lead.value), ...[...assist.selectedOptions].map(o => Number(o.value)).filter(v => v !== Number(lead.value))];
    box.append(el("div", { class: "row" }, "主办", lead, "协办（可多选）", assist,
      el("button", { class: "primary", id: "a-dispatch", onclick: () => lead.value ? act(t.id, { action: "dispatch", units: units() }, "已派单") : ($("d-error").textContent = "请选择主办单位") }, t.status === "已派单" ? "改派" : "派单")));
  }
  if (t.status === "受理") {
    box.append(textBox("answer", "直接答复内容"),
      el("div", { class: "row" }, el("button", { id: "a-direct", onclick: () => act(t.id, { action: "direct_answer", reason: reasonOf("answer") }, "已直接答复") }, "直接答复")));
  }
  if (t.status === "办理中" && t.extension_days) {
    box.append(el("div", { class: "row" }, "延期 " + t.extension_days + " 个工作日：",
      el("button", { class: "primary", id: "a-approve", onclick: () => act(t.id, { action: "decide_extension", approve: true }, "已同意延期") }, "同意"),
      el("button", { id: "a-refuse", onclick: () => act(t.id, { action: "decide_extension", approve: false }, "已驳回延期") }, "不同意")));
  }
  if (RUNNING.has(t.status) && (t.overdue || t.returns >= 2)) {
    box.append(el("div", { class: "row" }, el("input", { name: "urge", placeholder: "督办意见", size: 30 }),
      el("button", { id: "a-supervise", onclick: () => act(t.id, { action: "supervise", reason: box.querySelector("[name=urge]").value }, "已督办") }, "督办")));
  }
  if (["已回访", "待审核"].includes(t.status) || (t.status === "已办结" && !t.visit_required)) {
    box.append(el("div", { class: "row" }, el("input", { name: "close-reason", placeholder: t.status === "待审核" ? "审核意见（必填）" : "销号说明", size: 30 }),
      el("button", { class: "primary", id: "a-close", onclick: () => act(t.id, { action: "close", reason: box.querySelector("[name=close-reason]").value }, "已销号") }, "销号")));
  }
}

async function act(id, body, done, path) {
  $("d-error").textContent = ""; $("d-message").textContent = "";
  try {
    const t = await Hotline.api("POST", path || "/api/tickets/" + id + "/actions", body);
    $("d-message").textContent = done;
    await loadList();
    if (Hotline.user.role === "unit" && t.lead_unit_id === null) {
      $("detail").classList.add("hidden"); $("d-empty").classList.remove("hidden");
    } else renderDetail(t);
  } catch (e) { $("d-error").textContent = e.message; }
}

Hotline.requireLogin(["dispatcher", "admin", "unit"], async user => {
  $("signout").addEventListener("click", () => Hotline.logout());
  view.units = await Hotline.api("GET", "/api/units");
  const tabs = TABS[user.role];
  $("tabs").replaceChildren(...tabs.map((tab, i) => el("button", { "data-tab": tab[0], class: i === 0 ? "active" : "", onclick: ev => {
    for (const b of $("tabs").children) b.classList.toggle("active", b === ev.target);
    view.tab = tab; view.offset = 0; loadList().catch(e => { $("d-error").textContent = e.message; });
  } }, tab[0])));
  view.tab = tabs[0];
  $("prev").addEventListener("click", () => { view.offset = Math.max(0, view.offset - PAGE); loadList(); });
  $("next").addEventListener("click", () => { view.offset += PAGE; loadList(); });
  await loadList();
  setInterval(renderList, 10000);  // countdowns move without a request
  setInterval(() => loadList().catch(() => {}), 30000);
});
