// 我的质检 on the seat page: the seat's QA scores and one appeal (申诉) per score. Kept apart
// from seat.js: it starts by itself once the page shows the logged-in seat.
"use strict";

const SeatQa = {
  PAGE: 10,
  offset: 0,
  APPEAL: { open: "申诉处理中", upheld: "维持原评分", changed: "已改分" },

  async load(offset = this.offset) {
    this.offset = offset;
    const data = await Hotline.api("GET", `/api/seat/qa/scores?limit=${this.PAGE}&offset=${offset}`);
    const body = document.getElementById("my-qa-scores");
    body.textContent = "";
    for (const item of data.items) body.append(this.row(item));
    if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "muted" }, "暂无质检评分")));
    const pager = document.getElementById("my-qa-pager");
    pager.textContent = "";
    const prev = el("button", { type: "button" }, "上一页");
    const next = el("button", { type: "button" }, "下一页");
    prev.disabled = offset === 0;
    next.disabled = offset + data.items.length >= data.total;
    prev.addEventListener("click", () => this.load(Math.max(0, offset - this.PAGE)));
    next.addEventListener("click", () => this.load(offset + this.PAGE));
    pager.append(prev, el("span", {}, `共 ${data.total} 条`), next);
  },

  row(item) {
    const s = item.score;
    const notes = Object.entries(s.item_remarks || {}).map(([k, v]) => `${item.labels[k] || k}：${v}`);
    const remark = [s.remark, ...notes].filter(Boolean).join("；");
    const a = item.appeal;
    let cell;
    if (a) {
      cell = el("span", {}, this.APPEAL[a.status] || a.status,
        a.status === "changed" ? `（${a.old_total} → ${s.total}）` : "", a.resolution ? "：" + a.resolution : "");
    } else {
      const reason = el("input", { class: "appeal-reason", maxlength: "500", placeholder: "申诉理由" });
      const send = el("button", { type: "button", class: "appeal" }, "申诉");
      send.addEventListener("click", () => this.appeal(s.id, reason.value.trim()));
      cell = el("span", {}, reason, send);
    }
    return el("tr", { "data-score": String(s.id) }, el("td", {}, fmtTime(s.created_at)), el("td", {}, s.call_id),
      el("td", {}, `${s.total} / ${s.max_total}`), el("td", {}, remark), el("td", {}, cell));
  },

  async appeal(scoreId, reason) {
    const msg = document.getElementById("my-qa-message");
    if (!reason) { msg.textContent = "请填写申诉理由"; return; }
    try {
      await Hotline.api("POST", `/api/seat/qa/scores/${scoreId}/appeal`, { reason });
      msg.textContent = "申诉已提交";
      await this.load();
    } catch (e) { msg.textContent = e.message; }
  },
};

(() => {
  const app = document.getElementById("app");
  let started = false;
  const begin = () => {
    if (started || app.classList.contains("hidden") || !Hotline.token) return;
    started = true;
    SeatQa.load(0).catch(e => { document.getElementById("my-qa-message").textContent = e.message; });
  };
  new MutationObserver(begin).observe(app, { attributes: true, attributeFilter: ["class"] });
  begin();
})();
