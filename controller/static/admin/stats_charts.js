// The statistics page's two charts, drawn with Chart.js (static/vendor/chartjs/chart.umd.min.js, put
// there by scripts/browser-libs and loaded before the page's module as window.Chart): the weekly trend
// of one indicator, and its spread across the rows of the level below. Each canvas is an image with an
// aria-label, and the same numbers are in a table beside it (the text fallback, and what a screen
// reader reads). The charts hold still and stay sharp on paper: no animation, twice the pixels, and
// redrawn at the printed width before printing.

import { _ } from "./i18n.js";
import { formatValue, lang, missing, shortDate } from "./stats_values.js";
import { el } from "./ui.js";

const T = {
  week: _("Неделя с"),
  trendLabel: (indicator, first, last) =>
    _("График по неделям: %(indicator)s, с %(first)s по %(last)s", { indicator, first, last }),
  spreadLabel: (indicator, rows) => _("Разброс: %(indicator)s — %(rows)s", { indicator, rows }),
  name: _("Название"),
  noData: _("Нет данных за этот период."),
  weekOf: (date) => _("неделя с %(date)s", { date }),
};

const INK = "#1d3557"; // the trend line (tests/e2e/test_stats_ui.py counts its pixels)
const TEXT = "#5b6573";
const GRID = "#dfe3e8";
// The bands' colours: the bars' fill, and a light wash behind the trend of a share.
const BAND_COLOUR = { red: "#c62828", yellow: "#d99a00", green: "#2e7d32", none: "#8a94a3" };
const BAND_WASH = { red: "#c628281a", yellow: "#e9a8001f", green: "#2e7d3217" };
// CSS pixels of A4 landscape inside the print margins: a chart's width, and the most a chart is high
// (the spread of many rows is squeezed onto one page rather than cut across two).
const PRINT_WIDTH = 1000;
const PRINT_HEIGHT = 620;
const charts = new Set();

/** Return whether Chart.js was loaded (the vendor file may be missing: `make browser-libs`). */
export function chartsAvailable() {
  return typeof window.Chart === "function";
}

function baseOptions(kind) {
  return {
    animation: false,
    devicePixelRatio: Math.max(window.devicePixelRatio || 1, 2),
    responsive: true,
    maintainAspectRatio: false,
    locale: lang,
    plugins: {
      legend: { display: false },
      tooltip: { callbacks: { label: (item) => formatValue(kind, item.raw) } },
    },
  };
}

function valueAxis(kind) {
  return {
    beginAtZero: true,
    max: kind === "share" ? 1 : undefined,
    grid: { color: GRID },
    ticks: { color: TEXT, callback: (value) => formatValue(kind, value) },
  };
}

/** A plugin washing the chart's area in the bands' colours behind a share (red below, green from). */
function bandWash(bands) {
  return {
    id: "bandWash",
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea: area, scales } = chart;
      const y = scales.y;
      const stops = [
        ["red", 0, bands.red_below],
        ["yellow", bands.red_below, bands.green_from],
        ["green", bands.green_from, 1],
      ];
      ctx.save();
      for (const [band, from, to] of stops) {
        const top = Math.max(y.getPixelForValue(to), area.top);
        const bottom = Math.min(y.getPixelForValue(from), area.bottom);
        ctx.fillStyle = BAND_WASH[band];
        ctx.fillRect(area.left, top, area.right - area.left, bottom - top);
      }
      ctx.restore();
    },
  };
}

function draw(canvas, config) {
  const old = window.Chart.getChart(canvas);
  if (old) {
    charts.delete(old);
    old.destroy();
  }
  charts.add(new window.Chart(canvas, config));
}

function fallbackTable(table, heading, label, rows) {
  const head = el(
    "thead",
    {},
    el(
      "tr",
      {},
      el("th", { scope: "col", textContent: heading }),
      el("th", { scope: "col", textContent: label }),
    ),
  );
  const body = el(
    "tbody",
    {},
    rows.length
      ? rows.map(([name, value]) =>
          el("tr", {}, el("th", { scope: "row", textContent: name }), el("td", { textContent: value })),
        )
      : el("tr", {}, el("td", { colSpan: 2, textContent: T.noData })),
  );
  table.replaceChildren(head, body);
}

/** Draw the weekly trend of `indicator` on `canvas`, its numbers into `table`. */
export function drawTrend(canvas, table, answer, indicator) {
  const kind = answer.kinds[indicator];
  const label = answer.labels[indicator] || indicator;
  const weeks = answer.trend.weeks;
  const values = answer.trend.values[indicator] || weeks.map(() => null);
  canvas.setAttribute(
    "aria-label",
    T.trendLabel(label, shortDate(weeks[0] || ""), shortDate(weeks[weeks.length - 1] || "")),
  );
  fallbackTable(
    table,
    T.week,
    label,
    weeks.map((week, i) => [shortDate(week), formatValue(kind, values[i])]),
  );
  if (!chartsAvailable()) return;
  const options = baseOptions(kind);
  options.scales = {
    x: { grid: { color: GRID }, ticks: { color: TEXT, autoSkip: true, maxRotation: 0 } },
    y: valueAxis(kind),
  };
  options.plugins.tooltip.callbacks.title = (items) => T.weekOf(shortDate(weeks[items[0].dataIndex]));
  draw(canvas, {
    type: "line",
    data: {
      labels: weeks.map((week) => shortDate(week, false)),
      datasets: [
        {
          label,
          data: values,
          borderColor: INK,
          backgroundColor: INK,
          borderWidth: 3,
          pointRadius: 3.5,
          spanGaps: false,
          clip: 6, // a line at 100 % is drawn whole, not halved by the chart's edge
        },
      ],
    },
    options,
    plugins: kind === "share" && answer.bands ? [bandWash(answer.bands)] : [],
  });
}

/** A bar's name, cut to what leaves the bars room on a narrow chart (the tooltip has it whole). */
function shortName(value) {
  const name = this.getLabelForValue(value);
  const room = Math.max(12, Math.floor(this.chart.width / 16));
  return name.length > room ? `${name.slice(0, room - 1)}…` : name;
}

/** Draw `indicator` across `rows` (a bar each, the highest first, coloured by band) on `canvas`. */
export function drawSpread(canvas, table, answer, indicator, rows, title) {
  const kind = answer.kinds[indicator];
  const label = answer.labels[indicator] || indicator;
  const cell = (row) => (row.values || {})[indicator] || {};
  const known = rows.filter((row) => !missing(cell(row).value));
  known.sort((a, b) => cell(b).value - cell(a).value);
  const unknown = rows.filter((row) => missing(cell(row).value));
  canvas.setAttribute("aria-label", T.spreadLabel(label, title));
  fallbackTable(
    table,
    T.name,
    label,
    [...known, ...unknown].map((row) => [row.name, formatValue(kind, cell(row).value)]),
  );
  // A bar's row is about 1.6 lines: the box grows with the rows so that every name is written out.
  canvas.parentElement.style.height = `${Math.max(12, 3 + known.length * 1.6)}rem`;
  if (!chartsAvailable()) return;
  const options = baseOptions(kind);
  options.indexAxis = "y";
  options.scales = {
    x: valueAxis(kind),
    y: { grid: { display: false }, ticks: { color: TEXT, autoSkip: false, callback: shortName } },
  };
  draw(canvas, {
    type: "bar",
    data: {
      labels: known.map((row) => row.name),
      datasets: [
        {
          label,
          data: known.map((row) => cell(row).value),
          backgroundColor: known.map((row) => BAND_COLOUR[cell(row).band] || BAND_COLOUR.none),
          maxBarThickness: 22,
        },
      ],
    },
    options,
  });
}

// Before printing, each chart is drawn at the width it will have on paper; afterwards at the screen's.
window.addEventListener("beforeprint", () => {
  for (const chart of charts) {
    chart.resize(PRINT_WIDTH, Math.min(chart.canvas.parentElement.clientHeight, PRINT_HEIGHT));
  }
});
window.addEventListener("afterprint", () => {
  for (const chart of charts) chart.resize();
});
