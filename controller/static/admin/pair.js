// Подключить панель: school IT finds the panel by the code on its screen (typed, or from the QR code's
// ?code=), checks its facts against the screen, picks the room and a name, and approves.

import { ApiError, get, write } from "./api.js";
import { _ } from "./i18n.js";
import { Notices, fillSelect, may, pageData } from "./ui.js";

const page = pageData();
const notices = new Notices(document.getElementById("notices"));
const lookupForm = document.getElementById("lookup");
const approveForm = document.getElementById("approve");
const codeInput = document.getElementById("code");
const found = document.getElementById("found");
const result = document.getElementById("result");
let foundCode = null;

function normalized(code) {
  return code.replace(/[\s-]/g, "").toUpperCase();
}

function showFacts(panel) {
  for (const key of ["model", "serial", "mac", "os", "fingerprint"]) {
    document.getElementById(`fact-${key}`).textContent = panel[key] || "—";
  }
}

async function loadRooms() {
  const rooms = (await get("/api/rooms", { school_id: page.nodeId })).rooms;
  const options = rooms.map((room) => ({ value: String(room.id), label: room.name }));
  fillSelect(document.getElementById("room"), options);
  if (!options.length) {
    notices.show(_("В школе ещё нет кабинетов. Добавьте кабинет в реестре, затем подключите панель."));
  }
}

async function lookup(event) {
  event?.preventDefault();
  const code = normalized(codeInput.value);
  result.hidden = true;
  found.hidden = true;
  if (code.length !== 8) {
    notices.show(_("Введите код с экрана панели: 8 знаков."));
    return;
  }
  try {
    const panel = await write("POST", "/api/pairings/lookup", { code });
    notices.clear();
    foundCode = code;
    showFacts(panel);
    found.hidden = false;
    document.getElementById("name").focus();
  } catch (exc) {
    notices.error(exc);
  }
}

async function approve(event) {
  event.preventDefault();
  const body = {
    code: foundCode,
    room_id: Number(document.getElementById("room").value),
    name: document.getElementById("name").value.trim(),
  };
  try {
    const panel = await write("POST", "/api/pairings/approve", body);
    notices.clear();
    found.hidden = true;
    approveForm.reset();
    codeInput.value = "";
    result.textContent = _(
      "Панель «%(name)s» подключена. Через несколько секунд она получит ключи и покажет заставку.",
      { name: panel.name },
    );
    result.hidden = false;
  } catch (exc) {
    if (exc instanceof ApiError && Object.keys(exc.fields).length) {
      notices.show(Object.values(exc.fields).join(" "));
    } else {
      notices.error(exc);
    }
  }
}

async function start() {
  if (!may(page.powers, "panel", "create") || page.nodeType !== "school") {
    notices.show(_("Подключать панели может администратор школы (школьный координатор)."));
    lookupForm.hidden = true;
    return;
  }
  lookupForm.addEventListener("submit", lookup);
  approveForm.addEventListener("submit", approve);
  await loadRooms().catch((exc) => notices.error(exc));
  const fromQr = new URLSearchParams(location.search).get("code");
  if (fromQr) {
    codeInput.value = fromQr;
    await lookup();
  } else {
    codeInput.focus();
  }
}

start();
