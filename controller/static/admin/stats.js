// Статистика использования: the usage indicators of one node of the registry (all regions, a region,
// a municipality, a school, a room, a panel) for a period, read from /api/stats/<level>/<id>. The
// period is in the address (?start=&end=; none: the last complete week, as the API chooses), so
// reloading, links and the back button keep it; the links down to the rows below carry it too. The
// tables are stats_tables.js, the charts stats_charts.js, how the values read stats_values.js.

import { get } from "./api.js";
import { _ } from "./i18n.js";
import { chartsAvailable, drawSpread, drawTrend } from "./stats_charts.js";
import { statsTable } from "./stats_tables.js";
import {
  T as VALUE,
  bandMark,
  changeMark,
  formatValue,
  lang,
  missing,
  quickPeriods,
  shortDate,
} from "./stats_values.js";
import { Notices, el, fillSelect } from "./ui.js";

const T = {
  period: (start, end) => _("Период: %(start)s — %(end)s", { start, end }),
  compared: (start, end) => _("сравнение с %(start)s — %(end)s", { start, end }),
  generated: (when) => _("Данные на %(when)s", { when }),
  trendTitle: (indicator) => _("%(indicator)s по неделям", { indicator }),
  spreadTitle: (indicator, rows) => _("%(indicator)s: %(rows)s", { indicator, rows }),
  backwards: _("Начало периода позже его конца."),
  noCharts: _(
    "Графики не показаны: на сервере не установлена библиотека графиков (сообщите администратору системы). Числа — в таблицах под графиками.",
  ),
  legend: (redBelow, greenFrom) =>
    _("Зоны: ✕ красная — ниже %(red)s, ! жёлтая — от %(red)s до %(green)s, ✓ зелёная — от %(green)s.", {
      red: formatValue("share", redBelow),
      green: formatValue("share", greenFrom),
    }),
};

const root = document.getElementById("stats");
const place = { level: root.dataset.level, id: root.dataset.id };
const notices = new Notices(document.getElementById("notices"));
const $ = (id) => document.getElementById(id);
const form = $("period");
const [startInput, endInput] = [$("start"), $("end")];
const indicatorSelect = $("indicator");
const state = { generation: 0, answer: null, sorts: {}, indicator: "in_use" };
const BANDS = ["red", "yellow", "green"];
const pageTitle = document.title;

// --- the address -------------------------------------------------------------------------------------

function periodOfAddress() {
  const query = new URLSearchParams(location.search);
  return { start: query.get("start") || "", end: query.get("end") || "" };
}

/** Return the page of a node, with the period of this page's address (if it names one). */
function statsUrl(level, id) {
  const { start, end } = periodOfAddress();
  const query = new URLSearchParams();
  if (start) query.set("start", start);
  if (end) query.set("end", end);
  const text = query.toString();
  return `/stats/${encodeURIComponent(level)}/${encodeURIComponent(id)}${text ? `?${text}` : ""}`;
}

/** Show `period` (start and end, "YYYY-MM-DD"): put it in the address, then read its numbers. */
function choosePeriod(period) {
  if (period.start && period.end && period.start > period.end) {
    notices.show(T.backwards);
    startInput.setAttribute("aria-invalid", "true");
    return;
  }
  const query = new URLSearchParams(location.search);
  for (const name of ["start", "end"]) {
    if (period[name]) query.set(name, period[name]);
    else query.delete(name);
  }
  history.pushState(null, "", `${location.pathname}?${query}`);
  load();
}

// --- the parts of the page ---------------------------------------------------------------------------

function renderHeading(answer) {
  $("stats-title").textContent = answer.node.name;
  document.title = `${answer.node.name} — ${pageTitle}`;
  const path = answer.path || [];
  $("crumbs").replaceChildren(
    ...path.map((node, i) =>
      i === path.length - 1
        ? el("li", {}, el("span", { textContent: node.name, attrs: { "aria-current": "page" } }))
        : el("li", {}, el("a", { href: statsUrl(node.level, node.id), textContent: node.name })),
    ),
  );
  $("crumbs-nav").hidden = path.length < 2;
  const { period, previous } = answer;
  const line = [T.period(shortDate(period.start), shortDate(period.end))];
  if (previous) line.push(T.compared(shortDate(previous.start), shortDate(previous.end)));
  $("period-line").textContent = line.join("; ");
  const generated = answer.generated_at ? new Date(answer.generated_at) : null;
  $("generated").textContent = generated
    ? T.generated(generated.toLocaleString(lang, { dateStyle: "short", timeStyle: "short" }))
    : "";
}

function renderPeriodForm(answer) {
  startInput.value = answer.period.start;
  endInput.value = answer.period.end;
  startInput.removeAttribute("aria-invalid");
  endInput.removeAttribute("aria-invalid");
  const quick = quickPeriods();
  for (const button of form.querySelectorAll("[data-quick]")) {
    const period = quick[button.dataset.quick];
    button.title = `${shortDate(period.start)} — ${shortDate(period.end)}`;
    const chosen = period.start === answer.period.start && period.end === answer.period.end;
    button.setAttribute("aria-pressed", String(chosen));
  }
}

function renderExports(answer) {
  for (const format of ["xlsx", "csv"]) {
    const link = $(`export-${format}`);
    link.href = (answer.export || {})[format] || "";
    link.hidden = !link.getAttribute("href");
  }
  $("downloads").hidden = !answer.export;
}

/** Return an indicator's card: its value in its band's colours, and the change since the previous period. */
function card(answer, key) {
  const kind = answer.kinds[key];
  const cell = answer.summary[key] || {};
  const band = BANDS.includes(cell.band) ? cell.band : "none";
  const change = changeMark(kind, cell);
  const previous = missing(cell.previous) ? null : VALUE.previous(formatValue(kind, cell.previous));
  return el(
    "li",
    { className: `stat-card band-${band}`, dataset: { indicator: key } },
    el("span", { className: "label", textContent: answer.labels[key] || key }),
    el(
      "span",
      { className: "stat" },
      el("span", { className: "value", textContent: formatValue(kind, cell.value) }),
      bandMark(cell.band),
    ),
    // The arrow says the previous value to a screen reader already; the visible words are for the eye.
    el(
      "span",
      { className: "previous" },
      change,
      previous
        ? el("span", { textContent: previous, attrs: { "aria-hidden": change ? "true" : null } })
        : null,
    ),
  );
}

function renderCards(answer) {
  $("cards").replaceChildren(...answer.indicators.map((key) => card(answer, key)));
  const bands = answer.bands;
  $("legend").textContent = bands ? T.legend(bands.red_below, bands.green_from) : "";
}

// --- the tables --------------------------------------------------------------------------------------

function renderTables(answer) {
  for (const name of ["children", "panels"]) {
    const block = answer[name];
    $(`${name}-section`).hidden = !block;
    if (!block) continue;
    $(`${name}-title`).textContent = block.title;
    statsTable($(`${name}-table`), answer, block, {
      link: statsUrl,
      summary: $(`${name}-count`),
      sort: state.sorts[name], // the order chosen survives a change of period
      onSort: (sort) => (state.sorts[name] = sort),
    });
  }
}

// --- the charts --------------------------------------------------------------------------------------

function renderCharts(answer) {
  // The trend has every indicator but the silent panels (a count of the month, not of a week).
  const indicators = answer.indicators.filter((key) => key in answer.trend.values);
  if (!indicators.includes(state.indicator)) {
    state.indicator = indicators.includes("in_use") ? "in_use" : indicators[0];
  }
  fillSelect(
    indicatorSelect,
    indicators.map((key) => ({ value: key, label: answer.labels[key] || key })),
    state.indicator,
  );
  const label = answer.labels[state.indicator] || state.indicator;
  $("trend-title").textContent = T.trendTitle(label);
  drawTrend($("trend-chart"), $("trend-data"), answer, state.indicator);
  const spread = answer.children && answer.children.rows.length ? answer.children : answer.panels;
  $("spread").hidden = !spread || spread.rows.length < 2;
  if (!$("spread").hidden) {
    $("spread-title").textContent = T.spreadTitle(label, spread.title);
    drawSpread($("spread-chart"), $("spread-data"), answer, state.indicator, spread.rows, spread.title);
  }
  if (!chartsAvailable()) {
    notices.show(T.noCharts, "warning");
    for (const details of root.querySelectorAll("details.chart-data")) details.open = true;
  }
}

// --- loading -----------------------------------------------------------------------------------------

async function load() {
  state.generation += 1;
  const generation = state.generation;
  root.setAttribute("aria-busy", "true");
  const asked = periodOfAddress();
  if (asked.start) startInput.value = asked.start; // a period refused stays in view, to be corrected
  if (asked.end) endInput.value = asked.end;
  try {
    const answer = await get(`/api/stats/${place.level}/${place.id}`, asked);
    if (generation !== state.generation) return;
    state.answer = answer;
    notices.clear();
    $("content").hidden = false;
    renderHeading(answer);
    renderPeriodForm(answer);
    renderExports(answer);
    renderCards(answer);
    renderTables(answer);
    renderCharts(answer);
  } catch (exc) {
    if (generation !== state.generation) return;
    notices.error(exc);
    // A 400 is about the period (the API names no field: the dates go together).
    if (exc.status === 400) {
      for (const input of [startInput, endInput]) input.setAttribute("aria-invalid", "true");
    }
    // A refusal (403, 404) or a broken answer leaves nothing of an earlier answer on the page.
    if (exc.status !== 400) $("content").hidden = true;
  } finally {
    if (generation === state.generation) root.removeAttribute("aria-busy");
  }
}

// --- wiring ------------------------------------------------------------------------------------------

form.addEventListener("submit", (event) => {
  event.preventDefault();
  choosePeriod({ start: startInput.value, end: endInput.value });
});
for (const input of [startInput, endInput]) {
  input.addEventListener("change", () => {
    if (startInput.value && endInput.value) choosePeriod({ start: startInput.value, end: endInput.value });
  });
}
for (const button of form.querySelectorAll("[data-quick]")) {
  button.addEventListener("click", () => choosePeriod(quickPeriods()[button.dataset.quick]));
}
indicatorSelect.addEventListener("change", () => {
  state.indicator = indicatorSelect.value;
  if (state.answer) renderCharts(state.answer);
});
window.addEventListener("popstate", () => load());
load();
