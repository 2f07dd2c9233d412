// The dispatcher wallboard: a tile per city, live from /api/dispatcher/stream.
"use strict";

const cities = {};  // city -> {label, stats: {skill: snapshot}, seats, overflow, link, samples, minutes}
const HOUR_MS = 3600 * 1000;
const LINK_LABELS = { up: "已连接", down: "已断开", connecting: "连接中", resyncing: "同步中" };

function tile(city) {
  const id = s => `tile-${city}-${s}`;
  const fig = (key, label) => el("div", { class: "figure", id: id(key + "-box") },
    el("div", { class: "value", id: id(key) }, "–"), el("div", { class: "label" }, label));
  const toggle = el("button", { id: id("toggle"), onclick: () => switchOverflow(city) }, "切换");
  return el("section", { class: "card tile", id: "tile-" + city },
    el("h2", {}, el("span", { id: id("label") }, city), el("span", { id: id("link"), class: "legend" }, "")),
    el("div", { class: "figures" },
      fig("waiting", "等待人数"), fig("longest", "最长等待"), fig("sl", "服务水平"), fig("ready", "就绪坐席"),
      fig("cb-open", "待回拨"), fig("cb-rate", "回拨成功率")),
    el("div", { class: "overflow" }, el("span", {}, "多援一"),
      el("span", { class: "badge", id: id("overflow") }, "–"),
      el("span", { class: "legend", id: id("helpers") }, ""), toggle),
    el("div", { class: "seats", id: id("queue") }, ""),
    el("div", { class: "seats", id: id("seats") }, ""),
    chart(id("chart")));
}

function chart(id) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("id", id);
  svg.setAttribute("viewBox", "0 0 600 110");
  svg.setAttribute("preserveAspectRatio", "none");
  return svg;
}

function ensure(city, label) {
  if (!cities[city]) {
    cities[city] = { label: label || city, stats: {}, seats: [], queues: {}, overflow: null, link: {}, samples: [], minutes: [] };
    document.getElementById("tiles").append(tile(city));
    loadHistory(city);
  }
  return cities[city];
}

function render(city) {
  const c = cities[city];
  const set = (key, text) => { document.getElementById(`tile-${city}-${key}`).textContent = text; };
  const snaps = Object.values(c.stats);
  const waiting = snaps.reduce((n, s) => n + s.waiting, 0);
  const longest = snaps.reduce((m, s) => Math.max(m, s.longest_wait_s), 0);
  const general = c.stats.general;
  const sl = general && general.windows["15m"].service_level;
  set("label", c.label);
  set("waiting", String(waiting));
  set("longest", fmtSeconds(longest));
  set("sl", sl === null || sl === undefined ? "–" : Math.round(sl * 100) + "%");
  const ready = c.seats.filter(s => s.state === "ready").length;
  set("ready", String(ready));
  const cb = c.callbacks;  // the controller's callback figures (acd/callback_stats.py)
  set("cb-open", cb ? String(cb.open) : "–");
  set("cb-rate", cb && cb.success_rate !== null ? Math.round(cb.success_rate * 100) + "%" : "–");
  document.getElementById(`tile-${city}-waiting-box`).classList.toggle("alert", waiting > 0 && ready === 0);
  const byState = {};
  for (const s of c.seats) byState[s.state] = (byState[s.state] || 0) + 1;
  const queued = Object.entries(c.queues || {}).flatMap(([k, list]) => list.map(w => ({ ...w, skill: k })));
  queued.sort((a, b) => b.waited_s - a.waited_s);
  set("queue", queued.length ? "排队：" + queued.slice(0, 5).map(w => `${SKILL_LABELS[w.skill] || w.skill} ${fmtSeconds(w.waited_s)}`).join("，") + (queued.length > 5 ? " …" : "") : "排队：无");
  set("seats", "坐席：" + Object.entries(byState).map(([k, n]) => `${STATE_LABELS[k] || k} ${n}`).join("，"));
  if (c.overflow) {
    const badge = document.getElementById(`tile-${city}-overflow`);
    badge.textContent = c.overflow.enabled ? "已开启" : "已关闭";
    badge.className = "badge " + (c.overflow.enabled ? "on" : "off");
    set("helpers", c.overflow.helpers.length ? "支援：" + c.overflow.helpers.map(h => (cities[h] || {}).label || h).join("、") : "无支援城市");
  }
  const link = document.getElementById(`tile-${city}-link`);
  link.textContent = "AMI " + (LINK_LABELS[c.link.state] || "未知");
  link.className = c.link.state === "up" ? "link-up" : "link-down";
  drawChart(city);
}

function drawChart(city) {
  const c = cities[city];
  const svg = document.getElementById(`tile-${city}-chart`);
  const now = Date.now();
  c.samples = c.samples.filter(p => now - p.t <= HOUR_MS);
  const maxBar = Math.max(1, ...c.minutes.map(m => m.offered));
  const maxLine = Math.max(1, ...c.samples.map(p => p.v));
  const parts = [];
  const w = 600 / Math.max(1, c.minutes.length);
  c.minutes.forEach((m, i) => {
    const h = (m.offered / maxBar) * 90;
    parts.push(`<rect x="${(i * w + 1).toFixed(1)}" y="${(105 - h).toFixed(1)}" width="${Math.max(1, w - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="#9fb3c8"/>`);
  });
  if (c.samples.length) {
    const pts = c.samples.map(p => `${(600 - ((now - p.t) / HOUR_MS) * 600).toFixed(1)},${(105 - (p.v / maxLine) * 90).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="#c81e1e" stroke-width="2" points="${pts.join(" ")}"/>`);
  }
  parts.push(`<text x="4" y="12" font-size="11" fill="#627d98">每分钟来电 最高 ${maxBar}　等待人数 最高 ${maxLine}</text>`);
  svg.innerHTML = parts.join("");
}

async function loadHistory(city) {
  try {
    cities[city].minutes = await Hotline.api("GET", `/api/dispatcher/cities/${city}/history?minutes=60`);
    drawChart(city);
  } catch (e) { console.warn(e); }
}

async function switchOverflow(city) {
  const c = cities[city];
  const enabled = !(c.overflow && c.overflow.enabled);
  c.overflow = await Hotline.api("PUT", `/api/dispatcher/cities/${city}/overflow`, { enabled });
  render(city);
}

function sample(city) {
  const c = cities[city];
  const v = Object.values(c.stats).reduce((n, s) => n + s.waiting, 0);
  c.samples.push({ t: Date.now(), v });
}

function start() {
  document.getElementById("logout").addEventListener("click", () => Hotline.logout());
  setInterval(() => { document.getElementById("clock").textContent = fmtTime(new Date().toISOString()); }, 1000);
  setInterval(() => Object.keys(cities).forEach(loadHistory), 20000);
  Hotline.stream("/api/dispatcher/stream", {
    city: d => {
      const c = ensure(d.city, d.label);
      Object.assign(c, { stats: d.stats, seats: d.seats, overflow: d.overflow, link: d.link, queues: d.queues });
      sample(d.city);
      render(d.city);
    },
    stats: s => {
      const c = ensure(s.city);
      // The same stream carries the callback figures (skill "callbacks"): not a queue.
      if (s.skill === "callbacks") { c.callbacks = s; render(s.city); return; }
      // A seat the controller's watchdog reset (acd/watchdog.py): kept for the page, not a queue.
      if (s.skill === "watchdog") { c.resets = (c.resets || []).concat([s]).slice(-10); render(s.city); return; }
      c.stats[s.skill] = s;
      if (s.skill === "general") sample(s.city);
      render(s.city);
    },
    seats: d => {
      const c = ensure(d.city);
      Object.assign(c, { seats: d.seats, overflow: d.overflow, link: d.link, queues: d.queues });
      render(d.city);
    },
  });
}

Hotline.requireLogin(["dispatcher", "admin"], start);
