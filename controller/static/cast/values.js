// How the casting pages' values read: what a room shows, each screen's state, times, sizes, the
// reasons a screen gives. Only functions of values; the teacher's page and the alerts page share them.

import { _ } from "../admin/i18n.js";

export const T = {
  kind: {
    image: _("изображение"),
    video: _("видео"),
    pdf: _("PDF"),
    html5: _("интерактивный материал"),
    page: _("веб-страница"),
    text: _("текстовая карточка"),
  },
  status: {
    idle: _("ничего не показывает"),
    sent: _("отправлено, ждём экран"),
    offline: _("не в сети"),
  },
  shownAt: (time) => _("показано в %(time)s", { time }),
  failed: (reason) => _("ошибка: %(reason)s", { reason }),
  reason: {
    offline: _("экран не в сети"),
    no_answer: _("экран не ответил"),
    no_display: _("на экране не запущена страница показа"),
    timeout: _("страница показа не подтвердила показ"),
    fetch_failed: _("экран не смог загрузить материал"),
    checksum_mismatch: _("материал повреждён при загрузке"),
    bad_item: _("экран не понял команду"),
    not_shown: _("на экране уже другой показ"),
    bad_control: _("экран не понял команду"),
    bad_alert: _("экран не понял оповещение"),
  },
  unknownReason: _("неизвестная ошибка"),
  bytes: {
    b: (n) => _("%(n)s Б", { n }),
    kb: (n) => _("%(n)s КБ", { n }),
    mb: (n) => _("%(n)s МБ", { n }),
    gb: (n) => _("%(n)s ГБ", { n }),
  },
};

export const lang = document.documentElement.lang || "ru";
const clock = new Intl.DateTimeFormat(lang, { timeStyle: "short" });
const clockWithSeconds = new Intl.DateTimeFormat(lang, { timeStyle: "medium" });
const dayAndTime = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" });
const oneDecimal = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });

/** Return a time from the API (Unix seconds or ISO text) as a Date, or null. */
export function dateOf(value) {
  if (value === null || value === undefined || value === "") return null;
  return typeof value === "number" ? new Date(value * 1000) : new Date(value);
}

/** Return the time of `value` as a clock reads it, with the date when it is not today. */
export function timeText(value, { seconds = false } = {}) {
  const date = dateOf(value);
  if (!date) return "";
  if (date.toDateString() !== new Date().toDateString()) return dayAndTime.format(date);
  return (seconds ? clockWithSeconds : clock).format(date);
}

/** Return a size in bytes as people read it: «12,3 МБ». */
export function sizeText(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return T.bytes.b(n);
  if (n < 1024 ** 2) return T.bytes.kb(oneDecimal.format(n / 1024));
  if (n < 1024 ** 3) return T.bytes.mb(oneDecimal.format(n / 1024 ** 2));
  return T.bytes.gb(oneDecimal.format(n / 1024 ** 3));
}

/** Return a kind of material in words («PDF», «видео»). */
export function kindText(kind) {
  return T.kind[kind] || kind || "";
}

/** Return why a screen failed, in words: ours for the codes we know (in the page's language, which
 * the snapshots of Socket.IO events are not), else the server's text. */
export function reasonText(answer) {
  return T.reason[answer.error] || answer.error_text || answer.message || answer.error || T.unknownReason;
}

/** Return a screen's state in words: sent, shown (at what time), failed (why), offline, idle. */
export function panelStatusText(panel) {
  if (!panel.online || panel.status === "offline") return T.status.offline;
  if (panel.status === "shown") return T.shownAt(timeText(panel.shown_at, { seconds: true }));
  if (panel.status === "failed") return T.failed(reasonText(panel));
  return T.status[panel.status] || panel.status;
}

/** Return a person named by the API (a name, or an object with `name`) as text. */
export function personName(person) {
  if (!person) return "";
  return typeof person === "string" ? person : person.name || person.login || "";
}
