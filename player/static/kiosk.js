// The kiosk page: shows what the player sends on /events and reports each item shown on /shown.
// A new item is loaded off screen and swapped in only once it is ready, so the screen never goes
// black between items; the old one stays until then.
"use strict";

const stage = document.getElementById("stage");
const idle = document.getElementById("idle");
const caption = document.getElementById("caption");
const clock = document.getElementById("clock");
const PAGE_LOAD_TIMEOUT_MS = 8000;
let shownCast = null;

function tick() {
  clock.textContent = new Date().toLocaleTimeString("ru-RU", { hour: "2-digit", minute: "2-digit" });
}
tick();
setInterval(tick, 10000);

function report(body) {
  return fetch("/shown", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  }).catch(() => {});
}

function painted() {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}

function loadImage(item) {
  const img = new Image();
  img.alt = item.title || "";
  img.src = "/cache/" + item.sha256;
  return img.decode().then(() => img);
}

function loadPage(item) {
  return new Promise((resolve, reject) => {
    const frame = document.createElement("iframe");
    frame.className = "item loading";
    frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms");
    const timer = setTimeout(() => { frame.remove(); reject(new Error("page did not load")); },
                             PAGE_LOAD_TIMEOUT_MS);
    frame.addEventListener("load", () => { clearTimeout(timer); resolve(frame); }, { once: true });
    frame.src = item.url;
    stage.appendChild(frame);
  });
}

async function show(message) {
  const item = message.item;
  if (message.cast_id === shownCast) {
    return report({ cast_id: message.cast_id, ok: true, shown_at: Date.now() / 1000 });
  }
  let element;
  try {
    element = item.kind === "image" ? await loadImage(item) : await loadPage(item);
  } catch (err) {
    return report({ cast_id: message.cast_id, ok: false, error: "fetch_failed", message: String(err) });
  }
  element.className = "item";
  stage.appendChild(element);
  for (const old of Array.from(stage.children)) {
    if (old !== element && !old.classList.contains("loading")) old.remove();
  }
  caption.textContent = item.title || "";
  idle.hidden = true;
  await painted();
  shownCast = message.cast_id;
  document.body.dataset.shown = message.cast_id;
  return report({ cast_id: message.cast_id, ok: true, shown_at: Date.now() / 1000 });
}

// The pairing screen: shown until the panel is paired (the player sends {done: true} then).
const pairing = document.getElementById("pairing");

function field(id, text) {
  document.getElementById(id).textContent = text || "—";
}

function showPairing(info) {
  if (info.done) {
    pairing.hidden = true;
    delete document.body.dataset.pairing;
    return;
  }
  const code = info.code || "";
  field("pair-code", code.length === 8 ? code.slice(0, 4) + "-" + code.slice(4) : code);
  field("pair-controller", info.controller);
  field("pair-serial", info.serial);
  field("pair-mac", info.mac);
  field("pair-fingerprint", info.fingerprint);
  const qr = document.getElementById("pair-qr");
  qr.hidden = !info.qr;
  if (info.qr) qr.src = info.qr;
  document.getElementById("pair-status").textContent = info.online
    ? `Код действует ${Math.max(1, Math.round((info.expires_in || 0) / 60))} мин; потом появится новый.`
    : "Нет связи с контроллером. Панель повторяет попытки сама; проверьте сеть.";
  pairing.hidden = false;
  document.body.dataset.pairing = code;
}

// Nothing to show: back to the idle screen (the clock).
function clear() {
  stage.replaceChildren();
  caption.textContent = "";
  idle.hidden = false;
  shownCast = null;
  delete document.body.dataset.shown;
}

// The name card: which panel this is, over whatever is on screen, for `seconds`. A second card
// replaces the first and its time starts again.
const identify = document.getElementById("identify");
let identifyTimer = null;

async function showIdentify(card) {
  field("identify-name", card.name);
  document.getElementById("identify-room").textContent = card.room || "Кабинет не указан";
  document.getElementById("identify-school").textContent = card.school || "";
  clearTimeout(identifyTimer);
  identify.hidden = false;
  document.body.dataset.identify = card.id;
  identifyTimer = setTimeout(() => {
    identify.hidden = true;
    delete document.body.dataset.identify;
  }, card.seconds * 1000);
  await painted();
  return report({ id: card.id, ok: true, shown_at: Date.now() / 1000 });
}

const events = new EventSource("/events");
events.addEventListener("show", (event) => show(JSON.parse(event.data)));
events.addEventListener("clear", () => clear());
events.addEventListener("identify", (event) => showIdentify(JSON.parse(event.data)));
events.addEventListener("pairing", (event) => showPairing(JSON.parse(event.data)));
