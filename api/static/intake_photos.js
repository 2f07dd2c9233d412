// Photos for the intake form: read, shrunk in a canvas when large (a phone's camera writes
// 3-8 MB), sent as base64 JPEG or PNG. Only data: URLs: the pages' CSP allows no blob: images.
"use strict";

// intake/photos.py: MAX_PHOTOS, MAX_PHOTO_BYTES (tests/test_api_intake_page.py keeps them equal)
const PHOTO_MAX_COUNT = 3;
const PHOTO_MAX_BYTES = 2 * 1024 * 1024;
// Larger photos are shrunk to about this: three of them stay far under the body cap.
const PHOTO_TARGET_BYTES = 800 * 1024;
const PHOTO_MAX_SIDE = 1600;
const PHOTO_KINDS = ["image/jpeg", "image/png"];

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error("无法读取该照片，请重新选择"));
    reader.readAsDataURL(file);
  });
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("无法识别该照片，请选择 JPEG 或 PNG 格式的照片"));
    img.src = url;
  });
}

const base64Of = dataUrl => dataUrl.slice(dataUrl.indexOf(",") + 1);
// Bytes the base64 text stands for (4 characters per 3 bytes, minus the padding).
const bytesOf = b64 => Math.floor((b64.length * 3) / 4) - (b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0);

function drawJpeg(img, side, quality) {
  const scale = Math.min(1, side / Math.max(img.naturalWidth, img.naturalHeight));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
  canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; // a PNG's transparent parts would turn black in a JPEG
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", quality);
}

async function shrink(dataUrl) {
  const img = await loadImage(dataUrl);
  let side = PHOTO_MAX_SIDE;
  for (let round = 0; round < 4; round++, side = Math.round(side * 0.7)) {
    for (const quality of [0.85, 0.72, 0.6]) {
      const out = drawJpeg(img, side, quality);
      if (bytesOf(base64Of(out)) <= PHOTO_TARGET_BYTES) return out;
    }
  }
  throw new Error("照片过大且无法压缩，请换一张照片");
}

// {dataUrl, base64, bytes, originalBytes, shrunk}; an Error with a Chinese message otherwise.
async function preparePhoto(file) {
  const original = await readAsDataUrl(file);
  const keep = PHOTO_KINDS.includes(file.type) && file.size <= PHOTO_TARGET_BYTES;
  const dataUrl = keep ? original : await shrink(original);
  const base64 = base64Of(dataUrl);
  const bytes = bytesOf(base64);
  if (bytes > PHOTO_MAX_BYTES) throw new Error("照片过大，请换一张照片");
  return { dataUrl, base64, bytes, originalBytes: file.size, shrunk: !keep };
}

const sizeLabel = n => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`);
