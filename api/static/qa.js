// QA review: search calls, play the recording beside its transcript, score and comment.
"use strict";

let rubric = null;
let reviewing = null;  // call id

const SPEAKERS = { caller: "市民", seat: "坐席", mixed: "通话" };

async function search(ev) {
  if (ev) ev.preventDefault();
  const f = document.getElementById("search");
  const params = new URLSearchParams();
  for (const name of ["city", "seat_id", "skill", "outcome", "q"]) if (f[name].value) params.set(name, f[name].value);
  if (f.date_from.value) params.set("date_from", new Date(f.date_from.value + "T00:00:00+08:00").toISOString());
  if (f.date_to.value) params.set("date_to", new Date(f.date_to.value + "T24:00:00+08:00").toISOString());
  if (f.overflowed.checked) params.set("overflowed", "true");
  const rows = await Hotline.api("GET", "/api/qa/calls?" + params);
  const body = document.getElementById("results");
  body.textContent = "";
  for (const c of rows) {
    body.append(el("tr", { "data-call": c.call_id, onclick: () => review(c.call_id) },
      el("td", {}, fmtTime(c.entered_at)), el("td", {}, c.city), el("td", {}, c.seat_id || ""),
      el("td", {}, SKILL_LABELS[c.skill] || c.skill || ""), el("td", {}, OUTCOME_LABELS[c.outcome] || c.outcome || ""),
      el("td", {}, c.overflowed ? "是" : ""), el("td", {}, c.call_id)));
  }
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "muted" }, "没有符合条件的通话")));
}

async function review(callId) {
  reviewing = callId;
  const data = await Hotline.api("GET", "/api/qa/calls/" + encodeURIComponent(callId));
  document.getElementById("review").classList.remove("hidden");
  document.getElementById("review-call").textContent = callId;
  const player = document.getElementById("player");
  const list = document.getElementById("transcript");
  list.textContent = "";
  const rec = data.recordings.find(r => r.speaker === "mixed") || data.recordings[0];
  if (!rec) { player.removeAttribute("src"); list.append(el("li", { class: "muted" }, "该通话没有录音")); }
  else {
    player.src = (await Hotline.api("POST", `/api/recordings/${rec.id}/token`)).url;
    try {
      const t = await Hotline.api("GET", `/api/recordings/${rec.id}/transcript`);
      for (const seg of t.segments) {
        list.append(el("li", { class: seg.speaker, "data-start": String(seg.start_s), "data-end": String(seg.end_s),
          onclick: () => { player.currentTime = seg.start_s; player.play().catch(() => {}); } },
          el("span", { class: "t" }, fmtSeconds(seg.start_s)), el("span", { class: "who" }, (SPEAKERS[seg.speaker] || seg.speaker) + "："), seg.text));
      }
    } catch (e) { list.append(el("li", { class: "muted" }, "暂无转写：" + e.message)); }
  }
  showScores(data.scores);
  showComments(data.comments);
}

function follow() {
  const player = document.getElementById("player");
  const t = player.currentTime;
  document.getElementById("position").textContent = fmtSeconds(t);
  for (const li of document.querySelectorAll("#transcript li[data-start]")) {
    li.classList.toggle("active", t >= Number(li.dataset.start) && t < Number(li.dataset.end));
  }
}

function buildForm() {
  document.getElementById("rubric-name").textContent = rubric.name;
  const items = document.getElementById("items");
  items.textContent = "";
  for (const item of rubric.items) {
    items.append(el("label", {}, `${item.label}（满分 ${item.max}）`,
      el("input", { type: "number", name: "item-" + item.key, min: "0", max: String(item.max), value: String(item.max), required: "" })));
  }
  items.addEventListener("input", total);
  total();
}

function total() {
  let sum = 0;
  for (const item of rubric.items) sum += Number(document.querySelector(`[name="item-${item.key}"]`).value || 0);
  document.getElementById("total").textContent = String(sum);
}

function showScores(rows) {
  const body = document.getElementById("scores");
  body.textContent = "";
  for (const s of rows) body.append(el("tr", {}, el("td", {}, s.reviewer), el("td", {}, `${s.total} / ${s.max_total}`), el("td", {}, s.remark), el("td", {}, fmtTime(s.created_at))));
}

function showComments(rows) {
  const body = document.getElementById("comments");
  body.textContent = "";
  for (const c of rows) body.append(el("tr", {}, el("td", {}, c.at_s === null ? "" : fmtSeconds(c.at_s)), el("td", {}, c.author), el("td", {}, c.text)));
}

async function start() {
  document.getElementById("signout").addEventListener("click", () => Hotline.logout());
  document.getElementById("search").addEventListener("submit", search);
  const player = document.getElementById("player");
  player.addEventListener("timeupdate", follow);
  player.addEventListener("seeked", follow);
  rubric = await Hotline.api("GET", "/api/qa/rubric");
  buildForm();
  document.getElementById("score").addEventListener("submit", async ev => {
    ev.preventDefault();
    const scores = {};
    for (const item of rubric.items) scores[item.key] = Number(document.querySelector(`[name="item-${item.key}"]`).value);
    const msg = document.getElementById("score-message");
    try {
      await Hotline.api("POST", `/api/qa/calls/${encodeURIComponent(reviewing)}/scores`, { rubric_id: rubric.id, scores, remark: ev.target.remark.value });
      msg.textContent = "评分已提交";
      showScores((await Hotline.api("GET", "/api/qa/calls/" + encodeURIComponent(reviewing))).scores);
    } catch (e) { msg.textContent = e.message; }
  });
  document.getElementById("add-comment").addEventListener("click", async () => {
    const text = document.getElementById("comment-text").value.trim();
    if (!text || !reviewing) return;
    await Hotline.api("POST", `/api/qa/calls/${encodeURIComponent(reviewing)}/comments`, { text, at_s: player.currentTime || null });
    document.getElementById("comment-text").value = "";
    showComments(await Hotline.api("GET", `/api/qa/calls/${encodeURIComponent(reviewing)}/comments`));
  });
  search();
}

Hotline.requireLogin(["qa", "admin"], start);
