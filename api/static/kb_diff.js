// The difference between two versions of an entry, character by character (Chinese text has
// no spaces to cut words at); long texts are compared line by line to bound the work.
"use strict";

const KbDiff = {
  // [op, text] pieces: op is "=", "-" (only in a), "+" (only in b).
  pieces(a, b) {
    const byChar = a.length * b.length <= 4e6;
    const x = byChar ? Array.from(a) : a.split(/(?<=\n)/);
    const y = byChar ? Array.from(b) : b.split(/(?<=\n)/);
    const n = x.length, m = y.length, w = m + 1;
    const len = new Uint32Array((n + 1) * w);  // len[i*w+j]: LCS of x[i:] and y[j:]
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        len[i * w + j] = x[i] === y[j] ? len[(i + 1) * w + j + 1] + 1
          : Math.max(len[(i + 1) * w + j], len[i * w + j + 1]);
      }
    }
    const out = [];
    const push = (op, s) => {
      if (out.length && out[out.length - 1][0] === op) out[out.length - 1][1] += s;
      else out.push([op, s]);
    };
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (x[i] === y[j]) { push("=", x[i]); i++; j++; }
      else if (len[(i + 1) * w + j] >= len[i * w + j + 1]) push("-", x[i++]);
      else push("+", y[j++]);
    }
    while (i < n) push("-", x[i++]);
    while (j < m) push("+", y[j++]);
    return out;
  },

  // The text of a version as it is compared: its fields, then its body.
  text(v) {
    const day = iso => (iso ? new Date(iso).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" }) : "—");
    return ["标题：" + v.title, "分类：" + v.category, "部门：" + (v.department || "—"),
      "生效：" + day(v.valid_from), "失效：" + day(v.valid_to), "来源：" + (v.source || "—"),
      "标签：" + (v.tags || []).join("、"), "", v.body].join("\n");
  },

  render(node, before, after) {
    const parts = this.pieces(before ? this.text(before) : "", this.text(after));
    node.replaceChildren(...parts.map(([op, s]) =>
      op === "=" ? document.createTextNode(s) : el(op === "+" ? "ins" : "del", {}, s)));
  },
};
