// Shared by the pages: login form, token in sessionStorage, API calls, event streams.
"use strict";

const Hotline = {
  get token() { return sessionStorage.getItem("hl.token"); },
  get user() { return JSON.parse(sessionStorage.getItem("hl.user") || "null"); },

  async api(method, path, body) {
    const opts = { method, headers: { Authorization: "Bearer " + this.token } };
    if (body instanceof FormData) opts.body = body;  // multipart: the browser sets the boundary
    else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try { resp = await fetch(path, opts); } catch (e) { throw new ApiError(0, "网络连接失败，请检查网络后重试", String(e)); }
    if (resp.status === 401) { this.forget(); throw new ApiError(401, "登录已过期，请重新登录", ""); }
    let data = null;
    if (resp.status !== 204) { try { data = await resp.json(); } catch (e) { data = null; } }
    if (!resp.ok) {
      const detail = data && Array.isArray(data.detail)
        ? data.detail.map(d => d.loc.join(".") + ": " + d.msg).join("; ")
        : (data && data.detail) || resp.statusText;
      // Staff read Chinese: the status says what kind of refusal it is; the English detail
      // stays on the error for the console and for support.
      // A detail already written in Chinese (the ticket loop's, the security checks') says
      // exactly what to fix: show it as it is.
      const chinese = typeof detail === "string" && /[\u4e00-\u9fff]/.test(detail);
      throw new ApiError(resp.status, chinese ? detail : ERROR_WORDS[resp.status] || "操作失败（" + resp.status + "）", detail);
    }
    return data;
  },

  // A file behind the token (no cookie carries it): fetched, then saved under ``name``.
  async download(url, name) {
    const resp = await fetch(url, { headers: { Authorization: "Bearer " + this.token } });
    if (!resp.ok) {
      let detail = null;
      try { detail = (await resp.json()).detail; } catch (e) { detail = null; }
      throw new ApiError(resp.status, typeof detail === "string" ? detail : "下载失败（" + resp.status + "）", String(detail));
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await resp.blob());
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  },

  // An EventSource that comes back by itself: handlers.open runs on every (re)connect, so a
  // page can re-read what it may have missed while the stream was down. A stream the server
  // closed for good (an ended session) is opened again only while the token is still valid.
  stream(path, handlers) {
    const sep = path.includes("?") ? "&" : "?";
    const url = () => path + sep + "token=" + encodeURIComponent(this.token);
    const holder = { source: null, opens: 0 };
    const connect = () => {
      const source = new EventSource(url());
      holder.source = source;
      source.addEventListener("open", () => { holder.opens += 1; if (handlers.open) handlers.open(holder.opens); });
      for (const [kind, fn] of Object.entries(handlers)) {
        if (kind === "open") continue;
        source.addEventListener(kind, ev => fn(JSON.parse(ev.data)));
      }
      source.addEventListener("error", () => {
        if (source.readyState !== EventSource.CLOSED) return;  // the browser retries itself
        setTimeout(async () => {
          try { await this.api("GET", "/api/auth/me"); } catch (e) { if (e.status === 401) return; }
          connect();
        }, 3000);
      });
    };
    connect();
    return holder;
  },

  forget() {
    sessionStorage.removeItem("hl.token");
    sessionStorage.removeItem("hl.user");
    location.reload();
  },

  // 退出: the server ends the session (path: a role's own sign-out that does more, such as
  // leaving the ACD), then the page forgets it. A refusal (a seat on a call) keeps both.
  async logout(path) {
    if (this.token) await this.api("POST", path || "/api/auth/logout");
    this.forget();
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

class ApiError extends Error {
  constructor(status, message, detail) {
    super(message);
    this.status = status;
    this.detail = detail;
  }
}

const ERROR_WORDS = {
  400: "请求有误",
  403: "无权执行此操作",
  404: "未找到相应的记录",
  409: "当前状态下不能执行此操作",
  422: "输入内容有误，请检查后重试",
  429: "操作过于频繁，请稍后再试",
  502: "电话系统未能完成操作，请重试",
  504: "电话系统未及时响应，请稍后查看结果",
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
