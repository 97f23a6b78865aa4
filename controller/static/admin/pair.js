// Подключить панель: school IT finds the panel by the code on its screen (typed, or from the QR code's
// ?code=), checks its facts against the screen, picks the room and a name, and approves.

import { ApiError, get, write } from "./api.js";
import { _ } from "./i18n.js";
import { Notices, el, fillSelect, may, pageData } from "./ui.js";

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

const T = {
  confirm: _("Подтвердить"),
  room: _("Кабинет"),
  typeIt: _("Два устройства с этим серийным номером: введите код с экрана нужной панели."),
  where: (room, name) => _("Кабинет: %(room)s, имя: %(name)s", { room: room || "—", name: name || "—" }),
  facts: (serial, code, fingerprint) =>
    _("Серийный номер %(serial)s · код %(code)s · ключ %(fingerprint)s", { serial, code, fingerprint }),
  confirmed: (name) => _("Панель «%(name)s» подключена.", { name }),
};

/** List the school's purchased panels waiting with a code: each is one click from registered. */
async function loadProvisioned() {
  const items = (await get("/api/pairings/provisioned")).items;
  const list = document.getElementById("provisioned-list");
  list.replaceChildren(...items.map(provisionedItem));
  document.getElementById("provisioned").hidden = items.length === 0;
}

function provisionedItem(waiting) {
  const button = el("button", { type: "button", textContent: T.confirm, disabled: waiting.conflict });
  // The purchase list may name no room: then school IT picks it here, next to the button.
  const rooms = waiting.room_id ? null : document.getElementById("room").cloneNode(true);
  if (rooms) rooms.removeAttribute("id");
  button.addEventListener("click", () => confirmProvisioned(waiting, button, rooms));
  return el(
    "li",
    { dataset: { code: waiting.code } },
    el("strong", {}, waiting.model || waiting.serial),
    " ",
    el("span", { className: "muted" }, T.facts(waiting.serial, waiting.code, waiting.fingerprint)),
    el("br"),
    T.where(waiting.room, waiting.name),
    " ",
    rooms && el("label", {}, T.room, " ", rooms),
    " ",
    waiting.conflict ? el("span", { className: "notice error" }, T.typeIt) : button,
  );
}

async function confirmProvisioned(waiting, button, rooms) {
  const body = { code: waiting.code };
  if (rooms) body.room_id = Number(rooms.value);
  button.disabled = true;
  try {
    const panel = await write("POST", "/api/pairings/confirm", body);
    notices.clear();
    result.textContent = T.confirmed(panel.name);
    result.hidden = false;
    await loadProvisioned();
  } catch (exc) {
    button.disabled = false;
    notices.error(exc);
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
  await loadProvisioned().catch((exc) => notices.error(exc));
  const fromQr = new URLSearchParams(location.search).get("code");
  if (fromQr) {
    codeInput.value = fromQr;
    await lookup();
  } else {
    codeInput.focus();
  }
}

start();
