// Public intake form, no login: the message is held by the API until the code sent to the
// phone comes back, then it becomes a 受理 ticket whose number the citizen keeps for the lookup.
"use strict";

const $ = id => document.getElementById(id);
const PHONE = /^1[3-9]\d{9}$/;
const MAX_TEXT = 2000; // intake/service.py MAX_TEXT
const RESEND_AFTER_S = 60;

// One per stable error code of /api/intake/ (api/errors.py adds `code` to the body).
const CODE_MESSAGES = {
  intake_code_wrong: "验证码不正确，请核对短信中的 6 位数字后重新输入",
  intake_code_expired: "验证码已过期，请点击“重新获取验证码”",
  intake_code_tries: "验证码输错次数过多，请点击“重新获取验证码”",
  intake_code_used: "该诉求已提交，请勿重复提交",
  intake_too_many_phone: "该手机号提交过于频繁",
  intake_too_many_ip: "当前网络提交过于频繁",
};
// Fields of a refused body (422 from validation), by the field's name in the body.
const FIELD_MESSAGES = {
  text: `诉求内容须为 1 至 ${MAX_TEXT} 字`,
  phone: "请输入正确的 11 位手机号码",
  name: "姓名不能超过 50 字",
  location: "位置不能超过 200 字",
  lat: "定位信息有误，请取消定位后重试",
  lon: "定位信息有误，请取消定位后重试",
  photos: `照片过大或过多（最多 ${PHOTO_MAX_COUNT} 张），请重新选择`,
  code: "请输入短信中的 6 位数字验证码",
  pending_id: "提交已失效，请返回重新获取验证码",
};

const state = { messageId: newMessageId(), pendingId: null, coords: null, photos: [], busy: 0, timer: null, left: 0 };

function newMessageId() {
  // The retry key of this message: a code asked twice still makes one ticket.
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "web-" + Array.from(bytes, b => b.toString(16).padStart(2, "0")).join("");
}

function waitText(seconds) {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  return minutes >= 60 ? `${Math.ceil(minutes / 60)} 小时` : `${minutes} 分钟`;
}

// The Chinese sentence for a refused request.
function explain(resp, data) {
  const code = data && data.code;
  if (resp.status === 429) {
    const head = CODE_MESSAGES[code] || "提交过于频繁";
    return `${head}，请 ${waitText(Number(resp.headers.get("Retry-After")) || 60)}后再试`;
  }
  if (resp.status === 413) return "提交内容过大，请减少照片后重试";
  if (code && CODE_MESSAGES[code]) return CODE_MESSAGES[code];
  if (resp.status === 422 && Array.isArray(data && data.detail)) {
    const loc = data.detail[0] && data.detail[0].loc;
    const field = Array.isArray(loc) ? loc[1] : null;
    if (field === "photos" && typeof loc[2] === "number") return `第 ${loc[2] + 1} 张照片过大，请重新选择`;
    return FIELD_MESSAGES[field] || "提交内容有误，请检查后重试";
  }
  if (resp.status === 422 && typeof (data && data.detail) === "string") return data.detail;
  return "系统繁忙，请稍后再试";
}

// {ok, status, data} or {ok: false, message} with the Chinese message to show.
async function post(path, body) {
  let resp;
  try {
    resp = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch {
    return { ok: false, message: "网络异常，请检查网络连接后重试" };
  }
  const data = await resp.json().catch(() => null);
  return resp.ok ? { ok: true, status: resp.status, data } : { ok: false, status: resp.status, message: explain(resp, data), data };
}

function busy(on) {
  state.busy += on ? 1 : -1;
  for (const id of ["send", "confirm", "edit"]) $(id).disabled = state.busy > 0;
  resendReady();
}

function show(step) {
  for (const id of ["ask", "verify", "done"]) $(id).classList.toggle("hidden", id !== step);
  window.scrollTo(0, 0);
}

// ---- the message ----

function message() {
  const form = $("ask");
  const body = {
    text: form.text.value.trim(),
    phone: form.phone.value.trim(),
    name: form.name.value.trim(),
    photos: state.photos.map(p => p.base64),
    message_id: state.messageId,
  };
  const location = form.location.value.trim();
  if (location) body.location = location;
  if (state.coords) Object.assign(body, state.coords);
  return body;
}

function checkMessage(body) {
  if (!body.text) return "请填写诉求内容";
  if (body.text.length > MAX_TEXT) return `诉求内容不能超过 ${MAX_TEXT} 字`;
  if (!PHONE.test(body.phone)) return "请输入正确的 11 位手机号码";
  if (state.photos.some(p => p.pending)) return "照片处理中，请稍候";
  return null;
}

// Hold the message and have the code sent; from the form or "重新获取验证码".
async function requestCode(errorBox) {
  const body = message();
  const problem = checkMessage(body);
  errorBox.textContent = problem || "";
  if (problem) return;
  busy(true);
  const out = await post("/api/intake/messages/web", body);
  busy(false);
  if (!out.ok) {
    errorBox.textContent = out.message;
    return;
  }
  state.pendingId = out.data.pending_id;
  $("sent-to").textContent = `${out.data.message}，${waitText(out.data.expires_in_s)}内有效。`;
  $("f-code").value = "";
  $("v-error").textContent = "";
  show("verify");
  countdown(RESEND_AFTER_S);
  $("f-code").focus();
}

$("f-text").addEventListener("input", ev => {
  $("text-count").textContent = String(ev.target.value.length);
});

// A refusal stays until the citizen changes something: then it is out of date.
$("ask").addEventListener("input", () => {
  $("error").textContent = "";
});

$("ask").addEventListener("submit", ev => {
  ev.preventDefault();
  requestCode($("error"));
});

// ---- where: the browser's position, only when the citizen asks for it ----

const GEO_HINT = "点击后浏览器会询问是否允许获取您的位置，仅用于本次诉求。";
const round6 = x => Math.round(x * 1e6) / 1e6;

function clearCoords() {
  state.coords = null;
  $("unlocate").classList.add("hidden");
  $("geo-status").textContent = GEO_HINT;
}

$("locate").addEventListener("click", () => {
  const status = $("geo-status");
  if (!navigator.geolocation || !window.isSecureContext) {
    status.textContent = "当前浏览器无法定位，请直接填写地址";
    return;
  }
  status.textContent = "正在获取位置…";
  navigator.geolocation.getCurrentPosition(
    pos => {
      state.coords = { lat: round6(pos.coords.latitude), lon: round6(pos.coords.longitude) };
      status.textContent = `已获取当前位置（纬度 ${state.coords.lat.toFixed(5)}，经度 ${state.coords.lon.toFixed(5)}），将随诉求一并提交。`;
      $("unlocate").classList.remove("hidden");
    },
    err => {
      state.coords = null;
      $("unlocate").classList.add("hidden");
      status.textContent = err.code === err.PERMISSION_DENIED ? "您未允许获取位置，可直接填写地址" : "暂时无法获取位置，可直接填写地址";
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
});

$("unlocate").addEventListener("click", clearCoords);

// ---- photos: previewed, shrunk when large (intake_photos.js) ----

const PHOTO_HINT = `最多 ${PHOTO_MAX_COUNT} 张，较大的照片会自动压缩。`;

function photoItem(p, i) {
  const li = document.createElement("li");
  if (p.pending) {
    li.className = "pending";
    li.textContent = "处理中…";
    return li;
  }
  const img = document.createElement("img");
  img.src = p.dataUrl;
  img.alt = `照片 ${i + 1}`;
  const size = document.createElement("span");
  size.className = "size";
  size.textContent = p.shrunk ? `已压缩 ${sizeLabel(p.originalBytes)} → ${sizeLabel(p.bytes)}` : sizeLabel(p.bytes);
  const del = document.createElement("button");
  del.type = "button";
  del.textContent = "删除";
  del.dataset.remove = String(i);
  li.append(img, size, del);
  return li;
}

function renderPhotos() {
  $("photos").replaceChildren(...state.photos.map(photoItem));
  const full = state.photos.length >= PHOTO_MAX_COUNT;
  $("add-photo").classList.toggle("disabled", full);
  $("f-photos").disabled = full;
}

async function addPhoto(slot) {
  try {
    const ready = await preparePhoto(slot.file);
    const i = state.photos.indexOf(slot);
    if (i >= 0) state.photos[i] = ready; // removed while it was being shrunk: dropped
  } catch (err) {
    state.photos = state.photos.filter(p => p !== slot);
    $("photo-status").textContent = err.message;
  }
  renderPhotos();
}

$("f-photos").addEventListener("change", async ev => {
  const files = Array.from(ev.target.files);
  ev.target.value = ""; // the same photo may be chosen again after a removal
  const room = PHOTO_MAX_COUNT - state.photos.length;
  $("photo-status").textContent = files.length > room ? `最多 ${PHOTO_MAX_COUNT} 张照片，多选的未添加` : PHOTO_HINT;
  const slots = files.slice(0, Math.max(0, room)).map(file => ({ pending: true, file }));
  state.photos.push(...slots);
  renderPhotos();
  await Promise.all(slots.map(addPhoto));
});

$("photos").addEventListener("click", ev => {
  const i = ev.target.dataset && ev.target.dataset.remove;
  if (i === undefined) return;
  state.photos.splice(Number(i), 1);
  $("photo-status").textContent = PHOTO_HINT;
  renderPhotos();
});

// ---- the code ----

function countdown(seconds) {
  clearInterval(state.timer);
  state.left = seconds;
  resendReady();
  state.timer = setInterval(() => {
    state.left -= 1;
    if (state.left <= 0) clearInterval(state.timer);
    resendReady();
  }, 1000);
}

function resendReady() {
  const waiting = state.left > 0;
  $("resend").disabled = waiting || state.busy > 0;
  $("resend").textContent = waiting ? `重新获取验证码（${state.left} 秒）` : "重新获取验证码";
}

$("resend").addEventListener("click", () => requestCode($("v-error")));

$("edit").addEventListener("click", () => {
  clearInterval(state.timer);
  state.left = 0;
  state.pendingId = null;
  $("error").textContent = "";
  show("ask");
});

// The phone keyboard's "go" key on the code field confirms, as a form would.
$("f-code").addEventListener("keydown", ev => {
  if (ev.key === "Enter" && !$("confirm").disabled) $("confirm").click();
});

$("confirm").addEventListener("click", async () => {
  const code = $("f-code").value.trim();
  if (!/^\d{6}$/.test(code)) {
    $("v-error").textContent = FIELD_MESSAGES.code;
    return;
  }
  busy(true);
  const out = await post("/api/intake/confirm", { pending_id: state.pendingId, code });
  busy(false);
  if (!out.ok) {
    // After the right code a server failure holds the message again (intake.guard.restore).
    $("v-error").textContent = out.status >= 500 ? "系统繁忙，您的诉求已保留，请稍后再次点击“提交诉求”" : out.message;
    if (["intake_code_expired", "intake_code_tries"].includes(out.data && out.data.code)) countdown(0);
    return;
  }
  accepted(out.data);
});

// ---- the ticket ----

const when = iso => new Date(iso).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });

function accepted(ticket) {
  clearInterval(state.timer);
  // duplicate: this message (its message_id) was confirmed before; the same ticket again
  $("done-title").textContent = ticket.duplicate ? "该诉求此前已受理" : "诉求已受理";
  $("ticket-number").textContent = ticket.ticket_number;
  const rows = [["办理状态", ticket.status], ["诉求类别", ticket.category], ["办理期限", when(ticket.due_at)]];
  $("done-fields").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v || "—";
    return [dt, dd];
  }));
  $("lookup-link").href = `/lookup?number=${encodeURIComponent(ticket.ticket_number)}`;
  show("done");
}

$("again").addEventListener("click", () => {
  $("ask").reset();
  $("text-count").textContent = "0";
  state.messageId = newMessageId();
  state.pendingId = null;
  state.photos = [];
  renderPhotos();
  clearCoords();
  $("photo-status").textContent = PHOTO_HINT;
  $("error").textContent = "";
  show("ask");
});
