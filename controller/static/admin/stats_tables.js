// The statistics page's tables: the rows of the level below (municipalities, schools, rooms…) and a
// school's panels, a column per indicator with its value in its band's colours and the change's arrow.
// Every column sorts by its value (numbers as numbers, «—» last either way); a name links down to its
// own page. A table scrolls sideways on a phone rather than turning into cards: a row is a line of
// numbers to compare.

import { _ } from "./i18n.js";
import { formatValue, lang, missing, valueCell } from "./stats_values.js";
import { Listing, el } from "./ui.js";

const T = {
  name: _("Название"),
  room: _("Кабинет"),
  empty: _("Нет данных за этот период."),
};

const collator = new Intl.Collator(lang, { numeric: true, sensitivity: "base" });

/** A Listing sorted by the columns' values; `onSort` hears each new order, `sort` is the first one. */
class StatsTable extends Listing {
  constructor(table, options) {
    super(table, options);
    table.classList.replace("listing", "stats-table");
    this.onSort = options.onSort;
    if (options.sort && this.columns.some((column) => column.key === options.sort.key)) {
      this.sort = options.sort;
      this.renderHead();
    }
  }

  sortBy(key) {
    super.sortBy(key);
    if (this.onSort) this.onSort(this.sort);
  }

  renderHead() {
    super.renderHead();
    // Chromium leaves the buttons out of a table's headings repeated on each printed page: paper gets
    // the headings as text.
    this.head.querySelectorAll("th").forEach((th, i) => {
      const label = el("span", { className: "print-only", textContent: this.columns[i].label });
      label.setAttribute("aria-hidden", "true");
      th.append(label);
    });
  }

  visibleRows() {
    const column = this.columns.find((c) => c.key === this.sort.key) || this.columns[0];
    const value = column.sortValue || ((row) => row[column.key]);
    const direction = this.sort.direction;
    return [...this.rows].sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      if (missing(x) || missing(y)) return missing(x) === missing(y) ? 0 : missing(x) ? 1 : -1;
      if (typeof x === "number" && typeof y === "number") return direction * (x - y);
      return direction * collator.compare(String(x), String(y));
    });
  }
}

function indicatorColumns(answer, rows) {
  // A column no row has a number for, now or before, says nothing (a room's teachers: they belong to
  // the school), so it is left out.
  const told = (key) =>
    rows.some((row) => {
      const cell = (row.values || {})[key] || {};
      return !missing(cell.value) || !missing(cell.previous);
    });
  return answer.indicators.filter(told).map((key) => {
    const kind = answer.kinds[key];
    const cell = (row) => (row.values || {})[key] || {};
    return {
      key,
      label: answer.labels[key] || key,
      className: "number",
      text: (row) => formatValue(kind, cell(row).value),
      cell: (row) => valueCell(kind, cell(row)),
      sortValue: (row) => cell(row).value,
    };
  });
}

function nameColumn(level, link) {
  return {
    key: "name",
    label: T.name,
    className: "title",
    text: (row) => row.name,
    // A negative id is a school's panels without a room: a row with no page of its own.
    cell: (row) => (row.id > 0 ? el("a", { href: link(level, row.id), textContent: row.name }) : row.name),
  };
}

/**
 * Fill `table` with `block`'s rows ({level, title, rows} of the API's answer; a school's panels carry
 * their room). `link(level, id)` gives a row's page; `summary`, `sort` and `onSort` are the Listing's.
 */
export function statsTable(table, answer, block, { link, summary, sort, onSort }) {
  const first = [nameColumn(block.level, link)];
  if (block.level === "panel" && block.rows.some((row) => "room" in row)) {
    first.push({ key: "room", label: T.room, text: (row) => row.room ?? "" });
  }
  const listing = new StatsTable(table, {
    columns: [...first, ...indicatorColumns(answer, block.rows)],
    emptyText: T.empty,
    summary,
    sort,
    onSort,
  });
  listing.setRows(block.rows);
  return listing;
}
