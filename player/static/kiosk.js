// The kiosk page: shows what the player sends on /events and reports each item shown on /shown.
// A new item is loaded off screen and swapped in only once it is ready, so the screen never goes
// black between items; the old one stays until then. Titles and texts are set as text, never markup.
"use strict";

const stage = document.getElementById("stage");
const idle = document.getElementById("idle");
const caption = document.getElementById("caption");
const clock = document.getElementById("clock");
const blank = document.getElementById("blank");
const LOAD_TIMEOUT_MS = 8000;
const DEFAULT_VIEW = { page: 0, playing: true, blank: false, frozen: false };
const PAGE_SANDBOX = "allow-scripts allow-same-origin allow-forms";
// A bundle runs in an opaque origin: it cannot read or post to this page's server (/events, /shown).
const BUNDLE_SANDBOX = "allow-scripts";

let current = null; // the cast on screen: {castId, item, view, showing}
let alertUp = null; // the alert over everything, or null
let showTurn = 0; // the latest show asked for: an older one that loads later is not put on screen
let preloaded = null; // the next item, loading off screen: {castId, loading (a promise of its showing)}

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

function now() {
  return Date.now() / 1000;
}

function painted() {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}

function inTime(promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(what + " did not load")), LOAD_TIMEOUT_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function decoded(src, alt) {
  const img = new Image();
  img.alt = alt || "";
  img.src = src;
  return img.decode().then(() => img);
}

// --- one loader per kind: each gives a showing {element, setPage?, play?, page?, caption?} --------

async function loadImage(item) {
  const img = await decoded("/cache/" + item.sha256, item.title);
  img.className = "item";
  return { element: img };
}

// A video plays muted unless the item asks for sound; the kiosk browser allows sound without a click
// (--autoplay-policy in its unit). Elsewhere a refused play() is retried muted: a silent video
// beats a still one.
function loadVideo(item) {
  const video = document.createElement("video");
  video.className = "item loading";
  video.muted = !item.sound;
  video.playsInline = true;
  video.preload = "auto";
  const ready = new Promise((resolve, reject) => {
    video.addEventListener("loadeddata", resolve, { once: true });
    video.addEventListener("error", () => reject(new Error("the video cannot be played")), { once: true });
  });
  video.src = "/cache/" + item.sha256;
  stage.appendChild(video);
  const showing = {
    element: video,
    length: () => (Number.isFinite(video.duration) ? video.duration : undefined),
    // Into the video, as the room's other panels are (the schedule's item, come in late).
    seek(seconds) {
      if (!(seconds >= video.duration)) video.currentTime = seconds; // a duration not known: try
    },
    play(run, replay) {
      if (!run) return video.pause();
      if (!video.paused || (video.ended && !replay)) return;
      video.play().catch(() => {
        video.muted = true;
        return video.play().catch(() => {});
      });
    },
  };
  return inTime(ready, "the video").then(() => showing, (err) => { dispose(video); throw err; });
}

// A PDF is its page images, all in the cache before the show: a page is decoded, then swapped in.
// The pages beside it are decoded ahead, so the next and the previous one come at once.
async function loadPdf(item, view) {
  const box = document.createElement("div");
  box.className = "item pdf";
  const images = new Map();
  const image = (n) => {
    if (!images.has(n)) images.set(n, decoded("/cache/" + item.pages[n].sha256, item.title));
    return images.get(n);
  };
  let turn = 0;
  const showing = {
    element: box,
    page: -1,
    caption: () => `${item.title ? item.title + " · " : ""}${showing.page + 1} / ${item.pages.length}`,
    async setPage(page) {
      const n = Math.min(Math.max(page, 0), item.pages.length - 1);
      if (n === showing.page) return;
      const mine = ++turn;
      const img = await image(n);
      if (mine !== turn) return; // a later page was asked for meanwhile
      box.replaceChildren(img);
      showing.page = n;
      for (const k of images.keys()) if (Math.abs(k - n) > 2) images.delete(k);
      for (const k of [n + 1, n - 1]) {
        if (k >= 0 && k < item.pages.length) image(k).catch(() => images.delete(k));
      }
    },
  };
  await showing.setPage(view.page);
  return showing;
}

function loadFrame(src, sandbox) {
  const frame = document.createElement("iframe");
  frame.className = "item loading";
  frame.setAttribute("sandbox", sandbox);
  const loaded = new Promise((resolve) => frame.addEventListener("load", resolve, { once: true }));
  frame.src = src;
  stage.appendChild(frame);
  return inTime(loaded, "the page").then(() => frame, (err) => { frame.remove(); throw err; });
}

async function loadPage(item) {
  if (new URL(item.url).origin === location.origin) throw new Error("not this page's own server");
  return { element: await loadFrame(item.url, PAGE_SANDBOX) };
}

// An HTML5 bundle is told the remote's page by a message: {classcast: "page", page: n}.
async function loadBundle(item, view) {
  const path = item.entry.split("/").map(encodeURIComponent).join("/");
  const frame = await loadFrame(`/bundle/${item.sha256}/${path}`, BUNDLE_SANDBOX);
  const showing = {
    element: frame,
    page: -1,
    async setPage(page) {
      if (page === showing.page) return;
      frame.contentWindow.postMessage({ classcast: "page", page }, "*");
      showing.page = page;
    },
  };
  await showing.setPage(view.page);
  return showing;
}

async function loadText(item) {
  const card = document.createElement("div");
  card.className = "item text";
  const title = document.createElement("h1");
  title.textContent = item.title || "";
  const text = document.createElement("p");
  text.textContent = item.text || "";
  card.append(title, text);
  return { element: card, caption: () => "" };
}

const LOADERS = {
  image: loadImage,
  video: loadVideo,
  pdf: loadPdf,
  html5: loadBundle,
  page: loadPage,
  text: loadText,
};

function dispose(element) {
  if (element instanceof HTMLVideoElement) {
    element.pause();
    element.removeAttribute("src");
    element.load(); // lets go of the file
  }
  element.remove();
}

// --- the cast and its view -------------------------------------------------------------------------

async function show(message) {
  const castId = message.cast_id;
  const view = { ...DEFAULT_VIEW, ...message.view };
  if (current && current.castId === castId) {
    await applyView(view);
    return report({ cast_id: castId, ok: true, shown_at: now() });
  }
  const load = LOADERS[message.item.kind];
  if (!load) return report({ cast_id: castId, ok: false, error: "bad_item", message: "unknown kind" });
  const turn = ++showTurn;
  let showing;
  try {
    showing = await (takePreloaded(castId) || load(message.item, view));
  } catch (err) {
    const error = turn === showTurn ? "fetch_failed" : "replaced";
    return report({ cast_id: castId, ok: false, error, message: String(err) });
  }
  if (turn !== showTurn) {
    dispose(showing.element);
    return report({ cast_id: castId, ok: false, error: "replaced", message: "another item was sent" });
  }
  if (message.start && showing.seek) showing.seek(message.start);
  putOnStage(showing);
  delete document.body.dataset.page;
  current = { castId, item: message.item, view: DEFAULT_VIEW, showing };
  await applyView(view);
  idle.hidden = true;
  await painted();
  document.body.dataset.shown = castId;
  const length = showing.length ? showing.length() : undefined;
  return report({ cast_id: castId, ok: true, shown_at: now(), length });
}

// The schedule's next item is loaded while the current one is still on screen; its show then
// finds it ready. A preload not shown (the schedule changed, a cast came) is let go.
function preload(message) {
  const load = LOADERS[message.item.kind];
  if (!load || (current && current.castId === message.cast_id)) return;
  dropPreloaded();
  const loading = load(message.item, DEFAULT_VIEW);
  loading.catch(() => {}); // a failure is met again, and reported, by the show
  preloaded = { castId: message.cast_id, loading };
}

function takePreloaded(castId) {
  const found = preloaded && preloaded.castId === castId ? preloaded.loading : null;
  if (found) preloaded = null;
  else dropPreloaded();
  return found;
}

function dropPreloaded() {
  if (!preloaded) return;
  preloaded.loading.then((showing) => dispose(showing.element), () => {});
  preloaded = null;
}

function putOnStage(showing) {
  const element = showing.element;
  element.classList.remove("loading");
  if (!element.isConnected) stage.appendChild(element);
  for (const old of Array.from(stage.children)) {
    if (old !== element && !old.classList.contains("loading")) dispose(old);
  }
}

// The remote's view: blank covers the cast in black; frozen keeps the picture it has (no page
// change, a video paused) until it is lifted, and then the view as it stands is shown.
async function applyView(view) {
  const before = current.view;
  current.view = view;
  blank.hidden = !view.blank;
  document.body.dataset.blank = view.blank;
  if (!view.frozen && current.showing.setPage) await current.showing.setPage(view.page);
  if (current.showing.page !== undefined) document.body.dataset.page = current.showing.page;
  setPlaying(!before.playing && view.playing);
  caption.textContent = current.showing.caption ? current.showing.caption() : current.item.title || "";
}

// A video plays only while the view says so and nothing covers it (blank, frozen, an alert).
function setPlaying(replay) {
  if (!current || !current.showing.play) return;
  const view = current.view;
  current.showing.play(view.playing && !view.frozen && !view.blank && !alertUp, replay);
}

async function control(message) {
  if (!current || current.castId !== message.cast_id) {
    return report({ id: message.id, ok: false, error: "not_shown", message: "another cast is on screen" });
  }
  try {
    await applyView({ ...DEFAULT_VIEW, ...message.view });
  } catch (err) {
    return report({ id: message.id, ok: false, error: "fetch_failed", message: String(err) });
  }
  await painted();
  return report({ id: message.id, ok: true, shown_at: now() });
}

// Nothing to show: back to the idle screen (the clock).
function clear() {
  showTurn++;
  dropPreloaded();
  for (const element of Array.from(stage.children)) dispose(element);
  caption.textContent = "";
  blank.hidden = true;
  idle.hidden = false;
  current = null;
  for (const key of ["shown", "page", "blank"]) delete document.body.dataset[key];
}

// --- over everything: the alert -------------------------------------------------------------------

const alertCard = document.getElementById("alert");

async function showAlert(message) {
  alertUp = message.alert;
  if (alertUp) {
    document.getElementById("alert-title").textContent = alertUp.title || "";
    document.getElementById("alert-text").textContent = alertUp.text || "";
    alertCard.dataset.level = alertUp.level;
    document.body.dataset.alert = alertUp.id;
  } else {
    delete document.body.dataset.alert;
  }
  alertCard.hidden = !alertUp;
  setPlaying(false);
  await painted();
  return report({ id: message.id, ok: true, shown_at: now(), alert_id: alertUp ? alertUp.id : null });
}

// --- the pairing screen: shown until the panel is paired (the player sends {done: true} then) -----

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
events.addEventListener("control", (event) => control(JSON.parse(event.data)));
events.addEventListener("alert", (event) => showAlert(JSON.parse(event.data)));
events.addEventListener("preload", (event) => preload(JSON.parse(event.data)));
events.addEventListener("clear", () => clear());
events.addEventListener("identify", (event) => showIdentify(JSON.parse(event.data)));
events.addEventListener("pairing", (event) => showPairing(JSON.parse(event.data)));
