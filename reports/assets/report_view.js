// The weekly report (周报) from its JSON: headline, tables and ECharts charts. One renderer for
// the /reports page and the standalone document (HTML, and PDF through Chromium's print).
"use strict";

const ReportView = (() => {
  const pct = v => (v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%");
  const num = v => (v === null || v === undefined ? "–" : Number.isInteger(v) ? String(v) : v.toFixed(2));
  const WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  function table(id, headers, rows) {
    return h("table", { id, class: "report-table" },
      h("thead", {}, h("tr", {}, ...headers.map(x => h("th", {}, x)))),
      h("tbody", {}, ...rows.map(r => h("tr", {}, ...r.map(c => h("td", {}, c))))));
  }

  function section(title, ...children) {
    return h("section", { class: "report-section" }, h("h2", {}, title), ...children);
  }

  const chartBox = id => h("div", { id, class: "report-chart", "data-chart": id });

  function unitRows(list) {
    return list.map((u, i) => [i + 1, u.unit, u.tickets, pct(u.signed_on_time_pct), pct(u.finished_on_time_pct),
      pct(u.satisfaction_pct), num(u.returns_per_ticket), pct(u.reopened_pct), u.overdue, num(u.score)]);
  }
  const UNIT_HEAD = ["名次", "承办单位", "到期工单", "按时签收率", "按时办结率", "回访满意率", "每件退单", "重办率", "超期件数", "综合得分"];

  function body(data) {
    const c = data.calls;
    const cityRow = x => [x.city, x.offered, x.answered, x.abandoned, pct(x.service_level), pct(x.abandon_rate),
      x.callbacks_made, x.callbacks_connected, x.overflow_out, x.overflow_in];
    const topicRows = data.topics.topics.map((t, i) => [i + 1, t.terms.join("、"), t.this_week, num(t.previous_avg), num(t.rise),
      t.examples.map(e => `${e.number || "—"} ${e.summary}`).join("；"), t.locations.map(([p, n]) => `${p}(${n})`).join("、") || "—"]);
    const callerRows = data.callers.listed.map(x => [x.number, x.calls, x.first_at.slice(0, 10), x.last_at.slice(0, 10),
      x.categories.map(([k, n]) => `${k}(${n})`).join("、") || "—", x.moods.join(" → ") || "—", x.mood_direction]);
    return [
      h("div", { class: "report-head" }, h("h1", {}, `12345 热线周报 ${data.week}`),
        h("p", { class: "report-period" }, `统计周期：${data.first_day} 至 ${data.last_day}（北京时间）`),
        h("p", { id: "report-headline", class: "report-headline" }, data.headline)),
      section("一、热点诉求",
        h("h3", {}, "类别走势（本周与前四周周均）"), chartBox("chart-categories"),
        table("table-categories", ["类别", "本周", "前四周周均", "增量"],
          data.topics.categories.slice(0, 15).map(x => [x.category, x.this_week, num(x.previous_avg), num(x.rise)])),
        h("h3", {}, "文本聚类热点" + (data.topics.sampled ? "（抽样估算）" : "")), chartBox("chart-topics"),
        table("table-topics", ["序号", "关键词", "本周", "前四周周均", "增量", "代表工单", "主要地点"], topicRows),
        ...(data.topics.sampled ? [h("p", { id: "topics-sample-note", class: "report-note" },
          `注：文本聚类按工单号等距抽样：本周 ${data.topics.this_total} 件中取 ${data.topics.this_clustered} 件，` +
          `前四周 ${data.topics.previous_total} 件中取 ${data.topics.previous_clustered} 件（工单摘要加来电转写）；` +
          "聚类件数按抽样比例折算，类别走势为全量统计。")] : [])),
      section("二、承办单位红黑榜",
        h("p", { class: "report-note" }, "口径：本周到期的主办工单；综合得分见 docs/reports.md（按时签收 15%、按时办结 30%、回访满意 30%、未重办 15%、未退单 10%）。"),
        chartBox("chart-units"),
        h("h3", {}, "红榜"), table("table-red", UNIT_HEAD, unitRows(data.red)),
        h("h3", {}, "黑榜"), table("table-black", UNIT_HEAD, unitRows(data.black))),
      section("三、话务运行",
        table("table-calls", ["城市", "呼入", "接通", "放弃", "15秒服务水平", "放弃率", "回拨次数", "回拨接通", "多援一转出", "多援一转入"],
          [...c.cities.map(cityRow), cityRow(c.total)]),
        chartBox("chart-cities"), h("h3", {}, "呼入热力图（按星期与小时）"), chartBox("chart-heat")),
      section("四、重复来电与情绪（专报）",
        h("p", {}, `近 30 天来电 3 次及以上的号码 ${data.callers.count} 个，共来电 ${data.callers.calls} 次。`),
        table("table-callers", ["号码", "来电次数", "首次", "最近", "诉求类别", "情绪走势", "情绪变化"], callerRows)),
    ];
  }

  function options(data) {
    const base = { animation: false, textStyle: { fontFamily: "WenQuanYi Zen Hei, sans-serif" }, tooltip: {} };
    const cats = data.topics.categories.slice(0, 10);
    const units = [...data.red, ...data.black];
    const c = data.calls;
    const heat = [];
    c.heat.forEach((row, d) => row.forEach((n, hr) => heat.push([hr, d, n])));
    return {
      "chart-categories": { ...base, legend: {}, xAxis: { type: "category", data: cats.map(x => x.category), axisLabel: { rotate: 30 } },
        yAxis: { type: "value" }, series: [
          { name: "本周", type: "bar", data: cats.map(x => x.this_week) },
          { name: "前四周周均", type: "bar", data: cats.map(x => x.previous_avg) }] },
      "chart-topics": { ...base, xAxis: { type: "value" },
        yAxis: { type: "category", data: data.topics.topics.map(t => t.terms.slice(0, 3).join("/")) },
        series: [{ name: "本周", type: "bar", data: data.topics.topics.map(t => t.this_week) }] },
      "chart-units": { ...base, xAxis: { type: "category", data: units.map(u => u.unit), axisLabel: { rotate: 30 } },
        yAxis: { type: "value", max: 100 },
        series: [{ name: "综合得分", type: "bar", data: units.map((u, i) => ({ value: u.score, itemStyle: { color: i < data.red.length ? "#c0392b" : "#333" } })) }] },
      "chart-cities": { ...base, legend: {}, xAxis: { type: "category", data: c.cities.map(x => x.city) },
        yAxis: [{ type: "value" }, { type: "value", max: 100, name: "服务水平%" }], series: [
          { name: "接通", type: "bar", data: c.cities.map(x => x.answered) },
          { name: "放弃", type: "bar", data: c.cities.map(x => x.abandoned) },
          { name: "15秒服务水平", type: "line", yAxisIndex: 1, data: c.cities.map(x => x.service_level === null ? null : +(x.service_level * 100).toFixed(1)) }] },
      "chart-heat": { ...base, grid: { top: 10, bottom: 60 },
        xAxis: { type: "category", data: [...Array(24).keys()].map(x => x + "时") },
        yAxis: { type: "category", data: WEEKDAYS },
        visualMap: { min: 0, max: Math.max(1, ...heat.map(x => x[2])), orient: "horizontal", left: "center", bottom: 0, calculable: true },
        series: [{ name: "呼入", type: "heatmap", data: heat }] },
    };
  }

  // Renders into `root`; returns how many charts were drawn (0 when ECharts did not load).
  function render(root, data) {
    root.replaceChildren(...body(data));
    if (typeof echarts === "undefined") return 0;
    let drawn = 0;
    for (const [id, option] of Object.entries(options(data))) {
      const node = document.getElementById(id);
      const chart = echarts.getInstanceByDom(node) || echarts.init(node, null, { renderer: "svg" });
      chart.setOption(option, true);
      drawn += 1;
    }
    document.body.dataset.chartsDrawn = String(drawn);
    return drawn;
  }

  return { render };
})();
