// Shared by the pages: login form, token in sessionStorage, API calls, event streams.
"use strict";

const Hotline = {
  get token() { return sessionStorage.getItem("hl.token"); },
  get user() { return JSON.parse(sessionStorage.getItem("hl.user") || "null"); },

  async api(method, path, body) {
    const opts = { method, headers: { Authorization: "Bearer " + this.token } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(path, opts);
    if (resp.status === 401) { this.logout(); throw new Error("登录已过期，请重新登录"); }
    const data = resp.status === 204 ? null : await resp.json();
    if (!resp.ok) {
      const detail = Array.isArray(data.detail)
        ? data.detail.map(d => d.loc.join(".") + ": " + d.msg).join("; ")
        : data.detail;
      throw new Error(detail || resp.statusText);
    }
    return data;
  },

  stream(path, handlers) {
    const sep = path.includes("?") ? "&" : "?";
    const source = new EventSource(path + sep + "token=" + encodeURIComponent(this.token));
    for (const [kind, fn] of Object.entries(handlers)) {
      source.addEventListener(kind, ev => fn(JSON.parse(ev.data)));
    }
    return source;
  },

  logout() {
    sessionStorage.removeItem("hl.token");
    sessionStorage.removeItem("hl.user");
    location.reload();
  },

  // Shows the login form until someone with one of the roles logs in, then calls start().
  requireLogin(roles, start) {
    const form = document.getElementById("login");
    const app = document.getElementById("app");
    const begin = () => {
      form.classList.add("hidden");
      app.classList.remove("hidden");
      const who = document.getElementById("who");
      if (who) who.textContent = this.user.username + (this.user.seat_id ? "（" + this.user.seat_id + "）" : "");
      start(this.user);
    };
    if (this.token && this.user && roles.includes(this.user.role)) { begin(); return; }
    form.classList.remove("hidden");
    app.classList.add("hidden");
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      const err = form.querySelector(".error");
      err.textContent = "";
      try {
        const resp = await fetch("/api/auth/login", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ username: form.username.value, password: form.password.value }),
        });
        const data = await resp.json();
        if (resp.status === 429) throw new Error("登录失败次数过多，请稍后再试");
        if (!resp.ok) throw new Error("用户名或密码错误");
        if (!roles.includes(data.role)) throw new Error("该账号无权使用本页面");
        sessionStorage.setItem("hl.token", data.token);
        sessionStorage.setItem("hl.user", JSON.stringify(data));
        begin();
      } catch (e) { err.textContent = e.message; }
    });
  },
};

const STATE_LABELS = { offline: "未签入", ready: "就绪", paused: "小休", ringing: "振铃", busy: "通话中", wrapup: "话后整理" };
const SKILL_LABELS = { general: "民生诉求", enterprise: "政企通", foreign: "外语", callback: "漏话回拨" };
const OUTCOME_LABELS = { completed: "已接通", abandoned: "放弃", ivr_hangup: "菜单挂机", callback_requested: "预约回拨", transferred: "已转接", callback: "回拨接通" };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

function fmtTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
}

function fmtSeconds(s) {
  const n = Math.max(0, Math.round(s));
  return String(Math.floor(n / 60)).padStart(2, "0") + ":" + String(n % 60).padStart(2, "0");
}
