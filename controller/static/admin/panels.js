// Панели: the registry of display devices of the signed-in user's subtree, read from /api/panels.
// The search box, the status and the school choice go to the API (so the export links, which follow
// them and the sort, give exactly what is shown); every column sorts by its value, the unknown last.
// «Подробнее» opens the panel's dialog (panel_details.js); how the values read is panel_values.js;
// the purchase-list form below the table, for those who may upload it, is provisions.js.

import { get } from "./api.js";
import { _ } from "./i18n.js";
import { openDetails } from "./panel_details.js";
import {
  T as VALUE,
  ago,
  collator,
  dateOf,
  dateOnly,
  diskText,
  lastSeenText,
  nameCell,
  refusedText,
  screenText,
  statusBadge,
  timeCell,
  undervoltageText,
  whole,
  yesNo,
} from "./panel_values.js";
import { uploadProvisions } from "./provisions.js";
import { Listing, Notices, debounce, el, fillSelect, pageData } from "./ui.js";

const T = {
  allStatuses: _("Все состояния"),
  option: (label, n) => _("%(label)s: %(n)s", { label, n }),
  column: {
    name: _("Имя"),
    status: _("Состояние"),
    municipality: _("Муниципалитет"),
    school: _("Школа"),
    room: _("Кабинет"),
    model: _("Модель"),
    serial: _("Серийный номер"),
    mac: _("MAC-адрес"),
    os: _("ОС"),
    player_version: _("Плеер"),
    agent_version: _("Агент"),
    paired_at: _("Подключена"),
    last_seen_at: _("Последняя связь"),
    temperature_c: _("Температура"),
    disk_free_bytes: _("Свободно на диске"),
    undervoltage_seen_at: _("Пониженное напряжение"),
    display_connected: _("Дисплей"),
    screen: _("Экран"),
    refused: _("Попыток после отзыва"),
  },
  details: _("Подробнее"),
  detailsOf: (name) => _("Подробнее о панели «%(name)s»", { name }),
  empty: _("В вашей части реестра пока нет панелей."),
  emptyFiltered: _("Под выбранные условия панели не подходят."),
  truncated: (shown, total) =>
    _("Показаны первые %(shown)s панелей из %(total)s: уточните поиск или выгрузите весь список.", {
      shown,
      total,
    }),
};

const page = pageData();
const notices = new Notices(document.getElementById("notices"));
const table = document.getElementById("table");
const summary = document.getElementById("summary");
const search = document.getElementById("filter");
const statusFilter = document.getElementById("status-filter");
const schoolFilter = document.getElementById("school-filter");
const exportLinks = [document.getElementById("export-csv"), document.getElementById("export-xlsx")];
const STATUS_ORDER = ["online", "offline", "silent", "pending", "revoked", "decommissioned"];
const state = { generation: 0, listing: null, rows: [] };

// --- the table -----------------------------------------------------------------------------------

function columns() {
  const text = (key) => (row) => row[key] ?? "";
  const list = [
    { key: "name", text: text("name"), cell: nameCell, className: "title" },
    {
      key: "status",
      text: (row) => VALUE.status[row.status] || row.status,
      cell: (row) => statusBadge(row.status),
      sortValue: (row) => STATUS_ORDER.indexOf(row.status),
    },
  ];
  if (!page.nodeType || page.nodeType === "region") list.push({ key: "municipality", text: text("municipality") });
  list.push(
    { key: "school", text: text("school") },
    { key: "room", text: text("room") },
    { key: "model", text: text("model") },
    { key: "serial", text: text("serial"), className: "nowrap" },
    { key: "mac", text: text("mac"), className: "nowrap" },
    { key: "os", text: text("os") },
    { key: "player_version", text: text("player_version") },
    { key: "agent_version", text: text("agent_version") },
    {
      key: "paired_at",
      text: (row) => (row.paired_at ? dateOnly.format(dateOf(row.paired_at)) : ""),
      cell: (row) => timeCell(row.paired_at, row.paired_at ? dateOnly.format(dateOf(row.paired_at)) : ""),
    },
    {
      key: "last_seen_at",
      text: lastSeenText,
      cell: (row) => (row.last_seen_at ? timeCell(row.last_seen_at, ago(row.last_seen_at)) : VALUE.never),
    },
    {
      key: "temperature_c",
      text: (row) => (row.temperature_c === null ? "" : VALUE.celsius(whole.format(row.temperature_c))),
      className: "nowrap",
    },
    { key: "disk_free_bytes", text: diskText, className: "nowrap" },
    {
      key: "undervoltage_seen_at",
      text: undervoltageText,
      sortValue: (row) => (row.undervoltage_now ? Infinity : row.undervoltage_seen_at),
    },
    { key: "display_connected", text: (row) => yesNo(row.display_connected) },
    { key: "screen", text: screenText, cell: (row) => timeCell(row.screen_at, screenText(row)) },
    { key: "refused", text: refusedText, sortValue: (row) => (refusedText(row) ? row.refused : null) },
  );
  return list.map((column) => ({ ...column, label: T.column[column.key] }));
}

function missing(value) {
  return value === null || value === undefined || value === "" || Number.isNaN(value);
}

/** A Listing whose columns sort by their values (numbers, times, versions), the unknown always last. */
class PanelListing extends Listing {
  constructor(target, options) {
    super(target, options);
    this.onSort = options.onSort;
  }

  sortBy(key) {
    super.sortBy(key);
    if (this.onSort) this.onSort(this.sort);
  }

  visibleRows() {
    const column = this.columns.find((c) => c.key === this.sort.key) || this.columns[0];
    const value = column.sortValue || ((row) => row[column.key]);
    const direction = this.sort.direction;
    return super.visibleRows().sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      if (missing(x) || missing(y)) return missing(x) === missing(y) ? 0 : missing(x) ? 1 : -1;
      if (typeof x === "number" && typeof y === "number") return direction * (x - y);
      return direction * collator.compare(String(x), String(y));
    });
  }
}

function currentFilters() {
  const sort = state.listing ? state.listing.sort : { key: "name", direction: 1 };
  return {
    q: search.value.trim(),
    status: statusFilter.value,
    school_id: schoolFilter ? schoolFilter.value : "",
    sort: sort.key,
    order: sort.direction > 0 ? "asc" : "desc",
  };
}

function updateExportLinks() {
  for (const link of exportLinks) {
    const url = new URL(link.href, location.href);
    const params = new URLSearchParams({ format: url.searchParams.get("format") });
    for (const [name, value] of Object.entries(currentFilters())) if (value) params.set(name, value);
    link.href = `${url.pathname}?${params}`;
  }
}

function fillStatusFilter(counts) {
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const chosen = statusFilter.value;
  const options = [{ value: "", label: T.option(T.allStatuses, total) }];
  for (const status of STATUS_ORDER) {
    options.push({ value: status, label: T.option(VALUE.status[status], counts[status] || 0) });
  }
  fillSelect(statusFilter, options, chosen);
}

/** Read the panels again with the current filters; mark the row `freshId`, if given. */
async function reload(freshId) {
  state.generation += 1;
  const generation = state.generation;
  const { sort, order, ...filters } = currentFilters();
  table.setAttribute("aria-busy", "true");
  try {
    const answer = await get("/api/panels", filters);
    if (generation !== state.generation) return;
    state.rows = answer.panels;
    fillStatusFilter(answer.counts);
    state.listing.emptyText = filters.q || filters.status || filters.school_id ? T.emptyFiltered : T.empty;
    state.listing.setRows(answer.panels);
    if (answer.total > answer.panels.length) notices.show(T.truncated(answer.panels.length, answer.total));
  } catch (exc) {
    notices.error(exc);
  } finally {
    table.removeAttribute("aria-busy");
  }
  updateExportLinks();
  if (freshId !== undefined) {
    const row = table.querySelector(`tbody tr[data-id="${freshId}"]`);
    if (row) row.classList.add("fresh");
  }
}

async function loadSchools() {
  if (!schoolFilter) return;
  try {
    const schools = (await get("/api/schools")).schools;
    schools.sort((a, b) => collator.compare(a.short_name, b.short_name));
    const options = schools.map((school) => ({ value: school.id, label: school.short_name }));
    fillSelect(schoolFilter, [{ value: "", label: schoolFilter.options[0].textContent }, ...options], "");
  } catch (exc) {
    notices.error(exc);
  }
}

function rowActions(row) {
  const button = el("button", { type: "button", className: "small secondary", textContent: T.details });
  button.setAttribute("aria-label", T.detailsOf(row.name));
  button.addEventListener("click", () => openDetails(row.id, { powers: page.powers, notices, reload }));
  return [button];
}

// --- wiring ----------------------------------------------------------------------------------------

state.listing = new PanelListing(table, {
  columns: columns(),
  actions: rowActions,
  summary,
  emptyText: T.empty,
  rowClass: (row) => `status-${row.status}`,
  onSort: updateExportLinks,
});
fillStatusFilter({});
search.addEventListener("input", debounce(() => reload(), 250));
statusFilter.addEventListener("change", () => reload());
if (schoolFilter) schoolFilter.addEventListener("change", () => reload());
const provisionForm = document.getElementById("provision-form");
if (provisionForm) provisionForm.addEventListener("submit", (event) => uploadProvisions(event, notices));
loadSchools();
reload();
