// How the usage indicators read on the statistics page: shares as percent, hours with a decimal comma,
// counts as whole numbers, «—» for no data; the band's mark (a shape and words, never colour alone) and
// the change's arrow; the period's dates and the quick choices of a period. Functions of values only:
// stats.js and stats_charts.js build the page with them.

import { _ } from "./i18n.js";
import { el } from "./ui.js";

export const T = {
  none: "—",
  hours: (n) => _("%(n)s ч", { n }),
  band: { red: _("красная зона"), yellow: _("жёлтая зона"), green: _("зелёная зона") },
  previous: (value) => _("в прошлый период: %(value)s", { value }),
  direction: { up: _("выросло"), down: _("снизилось"), same: _("не изменилось") },
  better: _("к лучшему"),
  worse: _("к худшему"),
};

// A shape for each band, so that the band reads without its colour (and in black-and-white print).
const BAND_SHAPE = { red: "✕", yellow: "!", green: "✓" };
const ARROW = { up: "▲", down: "▼", same: "=" };

export const lang = document.documentElement.lang || "ru";
const FORMAT = {
  share: new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 }),
  hours: new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }),
  count: new Intl.NumberFormat(lang, { maximumFractionDigits: 0 }),
};
const dayMonthYear = new Intl.DateTimeFormat(lang, { day: "2-digit", month: "2-digit", year: "numeric" });
const dayMonth = new Intl.DateTimeFormat(lang, { day: "2-digit", month: "2-digit" });

export function missing(value) {
  return value === null || value === undefined || Number.isNaN(value);
}

/** Return an indicator's value as the page shows it: «93 %», «2,4 ч», «120», or «—» for no data. */
export function formatValue(kind, value) {
  if (missing(value)) return T.none;
  if (kind === "share") return FORMAT.share.format(value);
  if (kind === "hours") return T.hours(FORMAT.hours.format(value));
  if (kind === "count") return FORMAT.count.format(value);
  return FORMAT.hours.format(value);
}

/** Return the band's mark: its shape, and its name for those who do not see the colour. */
export function bandMark(band) {
  if (!BAND_SHAPE[band]) return null;
  return el(
    "span",
    { className: "band-mark", title: T.band[band] },
    el("span", { textContent: BAND_SHAPE[band], attrs: { "aria-hidden": "true" } }),
    el("span", { className: "visually-hidden", textContent: T.band[band] }),
  );
}

/** Return the arrow of a change since the previous period, green when better and red when worse. */
export function changeMark(kind, cell) {
  if (!cell || !ARROW[cell.direction]) return null;
  const previous = T.previous(formatValue(kind, cell.previous));
  const verdict = cell.direction === "same" || cell.better === null ? "" : cell.better ? T.better : T.worse;
  const quality =
    cell.direction === "same" || cell.better === null ? "same" : cell.better ? "better" : "worse";
  const words = [T.direction[cell.direction], verdict, previous].filter(Boolean).join(", ");
  return el(
    "span",
    { className: `change ${quality}`, title: previous },
    el("span", { textContent: ARROW[cell.direction], attrs: { "aria-hidden": "true" } }),
    el("span", { className: "visually-hidden", textContent: ` (${words})` }),
  );
}

/** Return a table cell's content: the value in its band's colours, the band's mark and the arrow. */
export function valueCell(kind, cell) {
  const value = cell ? cell.value : null;
  const band = cell && BAND_SHAPE[cell.band] ? cell.band : "none";
  return el(
    "span",
    { className: `stat band-${band}` },
    el("span", { className: "value", textContent: formatValue(kind, value) }),
    bandMark(band),
    changeMark(kind, cell),
  );
}

// --- dates -----------------------------------------------------------------------------------------

/** Return "YYYY-MM-DD" of a local date. */
export function isoDate(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Return the local date of "YYYY-MM-DD", or null. */
export function parseDate(text) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");
  return match ? new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : null;
}

export function shortDate(text, withYear = true) {
  const date = parseDate(text);
  return date ? (withYear ? dayMonthYear : dayMonth).format(date) : "";
}

function addDays(date, days) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate() + days);
}

/** Return {start, end} of each quick choice of a period, counted from `today` (weeks start on Monday). */
export function quickPeriods(today = new Date()) {
  const monday = addDays(today, -((today.getDay() + 6) % 7));
  const period = (start, end) => ({ start: isoDate(start), end: isoDate(end) });
  return {
    "last-week": period(addDays(monday, -7), addDays(monday, -1)),
    "this-week": period(monday, today),
    "two-weeks": period(addDays(monday, -14), addDays(monday, -1)),
    month: period(
      new Date(today.getFullYear(), today.getMonth() - 1, 1),
      new Date(today.getFullYear(), today.getMonth(), 0),
    ),
  };
}
