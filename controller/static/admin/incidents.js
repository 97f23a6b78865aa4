// Неполадки панелей, above every staff page: the open incidents of the signed-in user's subtree
// (highlighted, first) and those resolved in the last week (marked «решено»), read from
// /api/notifications and read again every 30 s. The area stays hidden while there is nothing to say.

import { _ } from "./i18n.js";
import { el } from "./ui.js";

const REFRESH_MS = 30_000;
const RESOLVED_SHOWN = 5; // the newest resolved ones; the rest are counted

const T = {
  resolved: _("решено"),
  open: _("не решено"),
  since: (at) => _("с %(at)s", { at }),
  during: (from, to) => _("%(from)s – %(to)s", { from, to }),
  room: (name) => _("кабинет %(name)s", { name }),
  moreResolved: (n) => _("И ещё решённых за неделю: %(n)s.", { n }),
};

const section = document.getElementById("incidents");
const list = document.getElementById("incidents-list");
const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || "ru", {
  dateStyle: "short",
  timeStyle: "short",
});
const clockFormat = new Intl.DateTimeFormat(document.documentElement.lang || "ru", {
  timeStyle: "short",
});
let shown = "";
let timer = null;

function when(seconds) {
  return timeFormat.format(new Date(seconds * 1000));
}

/** The end of an incident: its time alone when it ended the day it began. */
function until(opened, resolved) {
  const sameDay = new Date(opened * 1000).toDateString() === new Date(resolved * 1000).toDateString();
  return sameDay ? clockFormat.format(new Date(resolved * 1000)) : when(resolved);
}

function item(incident) {
  const resolved = incident.resolved_at !== null;
  const place = [incident.school.name, incident.room ? T.room(incident.room) : null];
  const time = resolved
    ? T.during(when(incident.opened_at), until(incident.opened_at, incident.resolved_at))
    : T.since(when(incident.opened_at));
  return el(
    "li",
    { className: `incident ${resolved ? "resolved" : "open"}`, dataset: { kind: incident.kind } },
    el("span", {
      className: `badge ${resolved ? "ok" : "failed"}`,
      textContent: resolved ? T.resolved : T.open,
    }),
    " ",
    el("span", { className: "what", textContent: incident.message }),
    el("span", { className: "where", textContent: [...place.filter(Boolean), time].join(" · ") }),
  );
}

function render(incidents) {
  const open = incidents.filter((incident) => incident.resolved_at === null);
  const resolved = incidents.filter((incident) => incident.resolved_at !== null);
  const items = [...open, ...resolved.slice(0, RESOLVED_SHOWN)].map(item);
  if (resolved.length > RESOLVED_SHOWN) {
    const more = T.moreResolved(resolved.length - RESOLVED_SHOWN);
    items.push(el("li", { className: "more", textContent: more }));
  }
  list.replaceChildren(...items);
  section.classList.toggle("has-open", open.length > 0);
  section.hidden = incidents.length === 0;
}

async function refresh() {
  let response;
  try {
    response = await fetch("/api/notifications", {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
  } catch {
    return; // no network now: keep what is shown, and try again at the next round
  }
  if (response.status === 401 || response.status === 403) {
    // Signed out, or a role without panels: the page's own script says so; stop asking.
    clearInterval(timer);
    section.hidden = true;
    return;
  }
  if (!response.ok) return;
  let data;
  try {
    data = await response.json();
  } catch {
    return;
  }
  const text = JSON.stringify(data.incidents);
  if (text !== shown) {
    shown = text; // an unchanged list is not redrawn
    render(data.incidents);
  }
}

if (section && list) {
  timer = setInterval(refresh, REFRESH_MS);
  refresh();
}
