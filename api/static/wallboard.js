// The dispatcher wallboard: per city (in the configured order) the queue and today's figures,
// a per-seat grid with supervisor actions, the 多援一 switch and a chart; then the callback
// tasks. Live from /api/dispatcher/stream.
"use strict";

const $ = id => document.getElementById(id);
const cities = {};  // city -> {label, stats, seats, queues, overflow, link, today, clockSkew, samples, minutes, chart, rows}
const HOUR_MS = 3600 * 1000;
const LINK_LABELS = { up: "已连接", down: "已断开", connecting: "连接中", resyncing: "同步中" };
const SPY_LABELS = { listen: "监听", whisper: "耳语", barge: "强插" };
const SOURCE_LABELS = { abandoned: "排队放弃", overload: "高峰预约", manual: "人工登记" };
const MINUTE_FMT = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

const pct = v => (v === null || v === undefined ? "–" : Math.round(v * 100) + "%");
const secs = v => (v === null || v === undefined ? "–" : fmtSeconds(v));

// --- confirmation and messages ----------------------------------------------------------
function ask(title, text) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  return new Promise(resolve => {
    const done = answer => {
      $("confirm-yes").removeEventListener("click", yes);
      $("confirm-no").removeEventListener("click", no);
      dialog.removeEventListener("cancel", no);
      dialog.close();
      resolve(answer);
    };
    const yes = () => done(true);
    const no = () => done(false);
    $("confirm-yes").addEventListener("click", yes);
    $("confirm-no").addEventListener("click", no);
    dialog.addEventListener("cancel", no);
    dialog.showModal();
  });
}

function say(text) { $("board-message").textContent = text; $("board-error").textContent = ""; }
function fail(text) { $("board-error").textContent = text; $("board-message").textContent = ""; }

// --- a city's tile ------------------------------------------------------------------------
function tile(city) {
  const id = s => `tile-${city}-${s}`;
  const fig = (key, label) => el("div", { class: "figure", id: id(key + "-box") },
    el("div", { class: "value", id: id(key) }, "–"), el("div", { class: "label" }, label));
  const canvas = el("canvas", { id: id("chart") });
  return el("section", { class: "card city", id: "tile-" + city },
    el("h2", {}, el("span", { class: "name", id: id("label") }, city), el("span", { id: id("link") }, "")),
    el("div", {},
      el("div", { class: "figures" },
        fig("waiting", "等待人数"), fig("longest", "最长等待"), fig("sl", "服务水平(15分)"),
        fig("ready", "就绪坐席"), fig("cb-open", "待回拨"), fig("cb-rate", "回拨成功率"),
        fig("offered", "今日来电"), fig("answered", "今日接通"), fig("abandon", "今日放弃率"),
        fig("asa", "平均应答"), fig("aht", "平均处理"), fig("abandoned", "今日放弃")),
      el("div", { class: "overflow" }, el("span", {}, "多援一"),
        el("span", { class: "badge", id: id("overflow") }, "–"),
        el("span", { class: "legend", id: id("helpers") }, ""),
        el("button", { id: id("toggle"), onclick: () => switchOverflow(city) }, "切换")),
      el("div", { class: "queue-line", id: id("queue") }, ""),
      el("div", { class: "queue-line watchdog", id: id("resets") }, ""),
      el("div", { class: "chart-box" }, canvas)),
    el("div", {},
      el("table", { class: "seats" },
        el("thead", {}, el("tr", {}, el("th", {}, "坐席"), el("th", {}, "状态"), el("th", {}, "持续"), el("th", {}, "当前通话"), el("th", {}, "操作"))),
        el("tbody", { id: id("seats") })),
      el("p", { class: "muted", id: id("no-seats") }, "暂无签入坐席")));
}

function makeChart(city) {
  const canvas = $(`tile-${city}-chart`);
  if (typeof Chart === "undefined") return null;  // the vendored file failed to load: figures only
  return new Chart(canvas, {
    data: {
      labels: [],
      datasets: [
        { type: "bar", label: "接通", data: [], backgroundColor: "#7fa6d4", stack: "calls", yAxisID: "y" },
        { type: "bar", label: "放弃", data: [], backgroundColor: "#e8a0a0", stack: "calls", yAxisID: "y" },
        { type: "line", label: "等待人数(峰值)", data: [], borderColor: "#c81e1e", backgroundColor: "#c81e1e", pointRadius: 2, borderWidth: 2, spanGaps: true, yAxisID: "y1" },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { legend: { position: "top", labels: { font: { size: 14 } } } },
      scales: {
        x: { stacked: true, title: { display: true, text: "时间（近一小时，每分钟）", font: { size: 14 } }, ticks: { font: { size: 13 }, maxTicksLimit: 13, maxRotation: 0 } },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: "来电数", font: { size: 14 } }, ticks: { precision: 0, font: { size: 13 } } },
        y1: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "等待人数", font: { size: 14 } }, ticks: { precision: 0, font: { size: 13 } } },
      },
    },
  });
}

function ensure(city, label) {
  if (!cities[city]) {
    cities[city] = { label: label || city, stats: {}, seats: [], queues: {}, overflow: null, link: {}, today: null, clockSkew: 0, samples: [], minutes: [], chart: null, rows: {} };
    $("tiles").append(tile(city));
    cities[city].chart = makeChart(city);
    loadHistory(city);
  } else if (label) {
    cities[city].label = label;
  }
  return cities[city];
}

function render(city) {
  const c = cities[city];
  const set = (key, text) => { $(`tile-${city}-${key}`).textContent = text; };
  const snaps = Object.values(c.stats);
  const waiting = snaps.reduce((n, s) => n + s.waiting, 0);
  const longest = snaps.reduce((m, s) => Math.max(m, s.longest_wait_s), 0);
  const general = c.stats.general;
  set("label", c.label);
  set("waiting", String(waiting));
  set("longest", fmtSeconds(longest));
  set("sl", pct(general && general.windows["15m"].service_level));
  const ready = c.seats.filter(s => s.state === "ready").length;
  set("ready", String(ready));
  const cb = c.callbacks;  // the controller's callback figures (acd/callback_stats.py)
  set("cb-open", cb ? String(cb.open) : "–");
  set("cb-rate", cb ? pct(cb.success_rate) : "–");
  const t = c.today;
  set("offered", t ? String(t.offered) : "–");
  set("answered", t ? String(t.answered) : "–");
  set("abandoned", t ? String(t.abandoned) : "–");
  set("abandon", t ? pct(t.abandon_rate) : "–");
  set("asa", t ? secs(t.asa_s) : "–");
  set("aht", t ? secs(t.aht_s) : "–");
  $(`tile-${city}-waiting-box`).classList.toggle("alert", waiting > 0 && ready === 0);
  $(`tile-${city}-abandon-box`).classList.toggle("alert", !!t && t.abandon_rate !== null && t.abandon_rate > 0.1);
  const queued = Object.entries(c.queues || {}).flatMap(([k, list]) => list.map(w => ({ ...w, skill: k })));
  queued.sort((a, b) => b.waited_s - a.waited_s);
  // The controller's watchdog (acd/watchdog.py): the latest seats it reset, newest first.
  const resets = (c.resets || []).slice(-3).reverse();
  set("resets", resets.length ? "看门狗复位：" + resets.map(r => `坐席${r.seat_id}（${STATE_LABELS[r.state] || r.state}卡滞${r.stuck_s}秒，${new Date(r.at).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" })}）`).join("，") : "");
  set("queue", queued.length ? "排队：" + queued.slice(0, 6).map(w => `${SKILL_LABELS[w.skill] || w.skill} ${fmtSeconds(w.waited_s)}`).join("，") + (queued.length > 6 ? " …" : "") : "排队：无");
  if (c.overflow) {
    const badge = $(`tile-${city}-overflow`);
    badge.textContent = c.overflow.enabled ? "已开启" : "已关闭";
    badge.className = "badge " + (c.overflow.enabled ? "on" : "off");
    set("helpers", c.overflow.helpers.length ? "支援：" + c.overflow.helpers.map(h => (cities[h] || {}).label || h).join("、") : "无支援城市");
  }
  const link = $(`tile-${city}-link`);
  link.textContent = "AMI " + (LINK_LABELS[c.link.state] || "未知");
  link.className = c.link.state === "up" ? "link-up" : "link-down";
  renderSeats(city);
  drawChart(city);
}

// --- the seat grid: rows kept in place, so a button is never swapped under a click ------
function seatRow(city, seatId) {
  const button = (text, fn) => el("button", { onclick: fn }, text);
  const cells = {
    state: el("td", {}), since: el("td", { class: "num" }), call: el("td", {}),
    spy: Object.keys(SPY_LABELS).map(mode => button(SPY_LABELS[mode], () => spy(seatId, mode))),
    ready: button("置为就绪", () => forceReady(seatId)),
    logout: button("强制签出", () => forceLogout(city, seatId)),
  };
  cells.row = el("tr", { "data-seat": seatId }, el("td", {}, seatId), cells.state, cells.since, cells.call,
    el("td", {}, el("div", { class: "actions" }, ...cells.spy, cells.ready, cells.logout)));
  return cells;
}

function renderSeats(city) {
  const c = cities[city];
  const body = $(`tile-${city}-seats`);
  const seen = new Set();
  for (const s of c.seats) {
    seen.add(s.seat_id);
    let r = c.rows[s.seat_id];
    if (!r) { r = c.rows[s.seat_id] = seatRow(city, s.seat_id); }
    body.append(r.row);  // appending an existing row moves it: the order follows the data
    r.state.textContent = (STATE_LABELS[s.state] || s.state) + (s.state === "paused" && s.reason ? "（" + s.reason + "）" : "");
    r.state.className = "state-" + s.state;
    r.seat = s;
    r.call.textContent = s.call_id || "";
    for (const b of r.spy) b.disabled = s.state !== "busy";
    r.ready.disabled = !["paused", "wrapup"].includes(s.state);
    r.logout.disabled = ["busy", "offline"].includes(s.state);
  }
  for (const id of Object.keys(c.rows)) {
    if (!seen.has(id)) { c.rows[id].row.remove(); delete c.rows[id]; }
  }
  $(`tile-${city}-no-seats`).classList.toggle("hidden", c.seats.length > 0);
  tickDurations(city);
}

function tickDurations(city) {
  const c = cities[city];
  const now = Date.now() + c.clockSkew;  // the server's clock, as its frames told it
  for (const r of Object.values(c.rows)) {
    r.since.textContent = r.seat && r.seat.since_ms ? fmtSeconds((now - r.seat.since_ms) / 1000) : "";
  }
}

// --- the chart ----------------------------------------------------------------------------
function drawChart(city) {
  const c = cities[city];
  if (!c.chart) return;
  const now = Date.now();
  c.samples = c.samples.filter(p => now - p.t <= HOUR_MS);
  const peak = {};
  for (const p of c.samples) {
    const m = MINUTE_FMT.format(new Date(p.t));
    peak[m] = Math.max(peak[m] || 0, p.v);
  }
  c.chart.data.labels = c.minutes.map(m => m.minute);
  c.chart.data.datasets[0].data = c.minutes.map(m => m.answered);
  c.chart.data.datasets[1].data = c.minutes.map(m => m.abandoned);
  c.chart.data.datasets[2].data = c.minutes.map(m => (m.minute in peak ? peak[m.minute] : null));
  c.chart.update("none");
}

// A stats entry means calls moved: the chart follows within seconds, not at the next 20 s.
function historySoon(city) {
  const c = cities[city];
  if (Date.now() - (c.historyAt || 0) >= 5000) loadHistory(city);
}

async function loadHistory(city) {
  cities[city].historyAt = Date.now();
  try {
    cities[city].minutes = await Hotline.api("GET", `/api/dispatcher/cities/${encodeURIComponent(city)}/history?minutes=60`);
    drawChart(city);
  } catch (e) { console.warn(e); }
}

function sample(city) {
  const c = cities[city];
  const v = Object.values(c.stats).reduce((n, s) => n + s.waiting, 0);
  c.samples.push({ t: Date.now(), v });
}

// --- actions --------------------------------------------------------------------------------
async function switchOverflow(city) {
  const c = cities[city];
  const enabled = !(c.overflow && c.overflow.enabled);
  const text = enabled
    ? `开启后，${c.label}的来电等待超过阈值时将由支援城市的坐席接听。确定开启多援一吗？`
    : `关闭后，${c.label}的来电只由本地坐席接听。确定关闭多援一吗？`;
  if (!(await ask(enabled ? "开启多援一" : "关闭多援一", text))) return;
  try {
    c.overflow = await Hotline.api("PUT", `/api/dispatcher/cities/${encodeURIComponent(city)}/overflow`, { enabled });
    render(city);
    say(`${c.label}多援一已${enabled ? "开启" : "关闭"}`);
  } catch (e) { fail("切换多援一失败：" + e.message); }
}

async function spy(seatId, mode) {
  say(`正在为坐席 ${seatId} 发起${SPY_LABELS[mode]}…`);
  try {
    await Hotline.api("POST", "/api/dispatcher/spy", { seat_id: seatId, mode });
    say(`已向坐席 ${seatId} 发起${SPY_LABELS[mode]}，请接听您的话机`);
  } catch (e) {
    fail(`${SPY_LABELS[mode]}坐席 ${seatId} 失败：` + (e.status === 403 ? "您的账号未绑定话机" : e.status === 409 ? "该坐席当前不在通话中" : e.message));
  }
}

async function forceReady(seatId) {
  try {
    await Hotline.api("POST", `/api/dispatcher/seats/${encodeURIComponent(seatId)}/ready`);
    say(`坐席 ${seatId} 已置为就绪`);
  } catch (e) { fail(`坐席 ${seatId} 置为就绪失败：` + (e.status === 409 ? "该坐席当前状态不能置为就绪" : e.message)); }
}

async function forceLogout(city, seatId) {
  if (!(await ask("强制签出", `坐席 ${seatId} 将被签出，不再分配来电；正在振铃的来电回到队列原位。确定签出吗？`))) return;
  try {
    await Hotline.api("POST", `/api/dispatcher/seats/${encodeURIComponent(seatId)}/logout`);
    say(`坐席 ${seatId} 已被签出`);
  } catch (e) { fail(`坐席 ${seatId} 签出失败：` + (e.status === 409 ? "该坐席正在通话中" : e.message)); }
}

// --- callback tasks -----------------------------------------------------------------------
async function loadCallbacks() {
  let tasks;
  try { tasks = await Hotline.api("GET", "/api/dispatcher/callbacks?status=open&limit=50"); } catch (e) { console.warn(e); return; }
  const body = $("callbacks");
  body.textContent = "";
  for (const t of tasks) {
    const now = el("button", { onclick: () => callbackNow(t.id) }, "立即回拨");
    body.append(el("tr", { "data-task": String(t.id) },
      el("td", {}, (cities[t.city] || {}).label || t.city), el("td", { class: "num" }, t.number),
      el("td", {}, SOURCE_LABELS[t.source] || t.source), el("td", { class: "num" }, fmtSeconds(t.waited_s)),
      el("td", {}, fmtTime(t.created_at)), el("td", { class: "num" }, String(t.attempts)),
      el("td", {}, now)));
  }
  $("callbacks-empty").classList.toggle("hidden", tasks.length > 0);
}

async function callbackNow(taskId) {
  try {
    await Hotline.api("POST", `/api/dispatcher/callbacks/${taskId}/now`);
    say(`回拨任务 ${taskId} 将在有空闲坐席时立即拨打`);
  } catch (e) { fail(`回拨任务 ${taskId}：` + (e.status === 409 ? "该任务已不是待回拨状态" : e.message)); }
  loadCallbacks();
}

// --- start ----------------------------------------------------------------------------------
function takeCity(d) {
  const c = ensure(d.city, d.label);
  Object.assign(c, { stats: d.stats, seats: d.seats, overflow: d.overflow, link: d.link, queues: d.queues, today: d.today });
  if (d.now_ms) c.clockSkew = d.now_ms - Date.now();
  sample(d.city);
  render(d.city);
}

async function start() {
  $("logout").addEventListener("click", () => Hotline.logout().catch(e => fail(e.message)));
  if (typeof Chart !== "undefined") {
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#334e68";
  }
  setInterval(() => {
    $("clock").textContent = fmtTime(new Date().toISOString());
    Object.keys(cities).forEach(tickDurations);
  }, 1000);
  setInterval(() => Object.keys(cities).forEach(loadHistory), 20000);
  setInterval(loadCallbacks, 10000);
  try {  // the tiles in the configured order first; the stream then fills them
    for (const d of await Hotline.api("GET", "/api/dispatcher/cities")) takeCity(d);
  } catch (e) { fail(e.message); }
  loadCallbacks();
  Hotline.stream("/api/dispatcher/stream", {
    open: n => { if (n > 1) loadCallbacks(); },
    city: takeCity,
    stats: s => {
      const c = ensure(s.city);
      // The same stream carries the callback figures (skill "callbacks"): not a queue.
      if (s.skill === "callbacks") { c.callbacks = s; render(s.city); return; }
      // A seat the controller's watchdog reset (acd/watchdog.py): kept for the page, not a queue.
      if (s.skill === "watchdog") { c.resets = (c.resets || []).concat([s]).slice(-10); render(s.city); return; }
      c.stats[s.skill] = s;
      if (s.skill === "general") sample(s.city);
      historySoon(s.city);
      render(s.city);
    },
    seats: d => {
      const c = ensure(d.city);
      Object.assign(c, { seats: d.seats, overflow: d.overflow, link: d.link, queues: d.queues, today: d.today });
      if (d.now_ms) c.clockSkew = d.now_ms - Date.now();
      render(d.city);
    },
  });
}

Hotline.requireLogin(["dispatcher", "admin"], start);
