// How a panel's values read on the staff pages: times as dates or «5 минут назад», disk space in GiB,
// yes and no, temperatures, the status badge, the name with its «клон» mark; and the formatters and
// the collator in the page's language that go with them. Only functions of values: no element of any
// page is looked up here, so the registry (panels.js, panel_details.js) and the reconciliation share it.

import { _ } from "./i18n.js";
import { el } from "./ui.js";

export const T = {
  status: {
    pending: _("ждёт ключей"),
    online: _("в сети"),
    offline: _("не в сети"),
    silent: _("молчит"),
    revoked: _("отозвана"),
    decommissioned: _("списана"),
  },
  yes: _("да"),
  no: _("нет"),
  never: _("не выходила на связь"),
  justNow: _("только что"),
  celsius: (value) => _("%(value)s °C", { value }),
  gib: (value) => _("%(value)s ГБ", { value }),
  freeOf: (free, total) => _("%(free)s из %(total)s", { free, total }),
  screen: {
    on: _("включён"),
    schedule: _("выключен по расписанию"),
    command: _("выключен по команде"),
    fault: _("не управляется: неисправность"),
  },
  undervoltageNow: _("да, сейчас"),
  undervoltageSeen: (when) => _("было %(when)s", { when }),
  clone: _("клон"),
  cloneHint: _(
    "Учётные данные этой панели использовало второе устройство. Отзовите панель и подключите каждое устройство заново.",
  ),
};

const lang = document.documentElement.lang || "ru";
const relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
export const collator = new Intl.Collator(lang, { numeric: true, sensitivity: "base" });
export const dateTime = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" });
export const dateOnly = new Intl.DateTimeFormat(lang, { dateStyle: "short" });
export const oneDecimal = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
export const whole = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });

/** Return a stored time (ISO text or Unix seconds) as a Date, or null. */
export function dateOf(value) {
  if (value === null || value === undefined || value === "") return null;
  return typeof value === "number" ? new Date(value * 1000) : new Date(value);
}

/** Return how long ago `value` was, in words («5 минут назад», «вчера»). */
export function ago(value) {
  const date = dateOf(value);
  if (!date) return "";
  const seconds = (date.getTime() - Date.now()) / 1000;
  const size = Math.abs(seconds);
  if (size < 60) return T.justNow;
  const units = [
    ["minute", 60, 3600],
    ["hour", 3600, 86400],
    ["day", 86400, 30 * 86400],
    ["month", 30 * 86400, 365 * 86400],
    ["year", 365 * 86400, Infinity],
  ];
  const [unit, length] = units.find(([, , below]) => size < below);
  return relative.format(Math.round(seconds / length), unit);
}

export function when(value) {
  const date = dateOf(value);
  return date ? dateTime.format(date) : "";
}

export function gib(bytes) {
  return T.gib(oneDecimal.format(bytes / 1024 ** 3));
}

export function yesNo(value) {
  return value === null || value === undefined ? "" : value ? T.yes : T.no;
}

export function statusBadge(status) {
  return el("span", { className: `badge status-${status}`, textContent: T.status[status] || status });
}

export function timeCell(value, words) {
  const date = dateOf(value);
  if (!date) return "";
  return el("time", { dateTime: date.toISOString(), title: dateTime.format(date), textContent: words });
}

export function lastSeenText(row) {
  return row.last_seen_at ? ago(row.last_seen_at) : T.never;
}

export function diskText(row) {
  if (row.disk_free_bytes === null || row.disk_free_bytes === undefined) return "";
  const free = gib(row.disk_free_bytes);
  return row.disk_total_bytes ? T.freeOf(free, gib(row.disk_total_bytes)) : free;
}

export function undervoltageText(row) {
  if (row.undervoltage_now) return T.undervoltageNow;
  if (row.undervoltage_seen_at) return T.undervoltageSeen(ago(row.undervoltage_seen_at));
  return row.undervoltage_now === null || row.undervoltage_now === undefined ? "" : T.no;
}

/** The display's power as the panel last reported it: off by the schedule is no fault, and says so. */
export function screenText(row) {
  if (row.screen_reason === "fault") return T.screen.fault;
  if (row.screen_on === null || row.screen_on === undefined) return "";
  return row.screen_on ? T.screen.on : T.screen[row.screen_reason] || T.screen.command;
}

export function refusedText(row) {
  return row.state === "revoked" || row.state === "decommissioned" ? String(row.refused) : "";
}

export function nameCell(row) {
  const parts = [row.name];
  if (row.clone) {
    parts.push(" ", el("span", { className: "badge failed", textContent: T.clone, title: T.cloneHint }));
  }
  return parts;
}
