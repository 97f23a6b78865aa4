// Shared pieces of the staff pages: building elements, the page's notices, the sortable and
// filterable table, select options; the dialogs are in dialogs.js.

import { _ } from "./i18n.js";

export const T = {
  roles: {
    teacher: _("педагог"),
    school_it: _("администратор ОО"),
    municipal: _("муниципальный координатор"),
    regional: _("региональный координатор"),
    operator: _("оператор"),
  },
  close: _("Закрыть"),
  actions: _("Действия"),
  sortBy: _("Сортировать по полю"),
  shown: (shown, total) =>
    shown === total
      ? _("Всего: %(total)s", { total })
      : _("Показано %(shown)s из %(total)s", { shown, total }),
  noMatch: _("Под фильтр ничего не подходит."),
  loading: _("Загрузка…"),
};

/** Return a new element: `props` sets properties (and `attrs` attributes), children are nodes or text. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const { attrs, dataset, ...rest } = props;
  Object.assign(node, rest);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
  }
  Object.assign(node.dataset, dataset || {});
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** Return what the page shell says about the signed-in user: their powers and the roles they manage. */
export function pageData() {
  const root = document.getElementById("admin");
  return {
    root,
    role: root.dataset.role,
    nodeType: root.dataset.nodeType || null,
    nodeId: root.dataset.nodeId ? Number(root.dataset.nodeId) : null,
    powers: JSON.parse(root.dataset.powers || "{}"),
    manageableRoles: JSON.parse(root.dataset.manageableRoles || "[]"),
  };
}

export function may(powers, kind, action) {
  return (powers[kind] || []).includes(action);
}

/** The page's notice area: one message at a time, errors announced at once, the rest politely. */
export class Notices {
  constructor(container) {
    this.container = container;
  }

  show(text, kind = "error") {
    this.clear();
    const message = el("p", {
      className: `notice ${kind}`,
      attrs: { role: kind === "error" ? "alert" : "status" },
    });
    message.append(el("span", { textContent: text }));
    const dismiss = el("button", { type: "button", className: "dismiss", textContent: "×" });
    dismiss.setAttribute("aria-label", T.close);
    dismiss.addEventListener("click", () => this.clear());
    message.append(dismiss);
    this.container.append(message);
  }

  error(exc) {
    this.show(exc && exc.message ? exc.message : String(exc), "error");
  }

  clear() {
    this.container.replaceChildren();
  }
}

/**
 * A table of rows with sortable columns and a text filter; on a narrow screen each row becomes a card.
 * columns: [{key, label, text(row) -> string for sorting and filtering, cell(row) -> node or text}]
 * actions(row) -> [buttons] for the last column.
 */
export class Listing {
  constructor(table, { columns, actions, summary, emptyText, rowClass }) {
    this.table = table;
    this.columns = columns;
    this.actions = actions;
    this.summary = summary;
    this.emptyText = emptyText;
    this.rowClass = rowClass;
    this.rows = [];
    this.filter = "";
    this.sort = { key: columns[0].key, direction: 1 };
    this.table.classList.add("listing");
    this.head = el("thead");
    this.body = el("tbody");
    this.table.replaceChildren(this.head, this.body);
    this.renderHead();
  }

  textOf(column, row) {
    const value = column.text ? column.text(row) : row[column.key];
    return value === null || value === undefined ? "" : String(value);
  }

  setRows(rows) {
    this.rows = rows;
    this.render();
  }

  setFilter(text) {
    this.filter = text.trim().toLocaleLowerCase("ru");
    this.render();
  }

  sortBy(key) {
    const direction = this.sort.key === key ? -this.sort.direction : 1;
    this.sort = { key, direction };
    this.renderHead();
    this.render();
  }

  renderHead() {
    const cells = this.columns.map((column) => {
      const th = el("th", { scope: "col", className: column.className || "" });
      if (this.sort.key === column.key) {
        th.setAttribute("aria-sort", this.sort.direction > 0 ? "ascending" : "descending");
      }
      const arrow = this.sort.key === column.key ? (this.sort.direction > 0 ? " ▲" : " ▼") : "";
      const button = el("button", { type: "button", className: "sort", textContent: column.label + arrow });
      button.setAttribute("aria-label", `${column.label}: ${T.sortBy}`);
      button.addEventListener("click", () => this.sortBy(column.key));
      th.append(button);
      return th;
    });
    if (this.actions) {
      cells.push(
        el(
          "th",
          { scope: "col", className: "actions" },
          el("span", { className: "visually-hidden", textContent: T.actions }),
        ),
      );
    }
    this.head.replaceChildren(el("tr", {}, cells));
  }

  visibleRows() {
    const column = this.columns.find((c) => c.key === this.sort.key) || this.columns[0];
    const matches = this.rows.filter(
      (row) =>
        !this.filter ||
        this.columns.some((c) => this.textOf(c, row).toLocaleLowerCase("ru").includes(this.filter)),
    );
    const collator = new Intl.Collator("ru", { numeric: true, sensitivity: "base" });
    return matches.sort(
      (a, b) => this.sort.direction * collator.compare(this.textOf(column, a), this.textOf(column, b)),
    );
  }

  render() {
    const rows = this.visibleRows();
    this.body.replaceChildren(
      ...rows.map((row) => {
        const tr = el("tr", { dataset: { id: String(row.id) } });
        if (this.rowClass) {
          const extra = this.rowClass(row);
          if (extra) tr.className = extra;
        }
        for (const column of this.columns) {
          const content = column.cell ? column.cell(row) : this.textOf(column, row);
          const td = el("td", { dataset: { label: column.label }, className: column.className || "" });
          if (this.textOf(column, row) || column.cell) td.append(el("div", {}, content));
          tr.append(td);
        }
        if (this.actions) {
          tr.append(
            el("td", { className: "actions" }, el("div", { className: "row-buttons" }, this.actions(row))),
          );
        }
        return tr;
      }),
    );
    if (rows.length === 0) {
      const span = this.columns.length + (this.actions ? 1 : 0);
      const text = this.rows.length ? T.noMatch : this.emptyText;
      this.body.append(el("tr", { className: "empty" }, el("td", { colSpan: span, textContent: text })));
    }
    if (this.summary) this.summary.textContent = T.shown(rows.length, this.rows.length);
  }
}

/** Replace a select's options: [{value, label}] or [{group, options: [...]}]; keep `value` chosen. */
export function fillSelect(select, options, value) {
  const option = (o) =>
    el("option", {
      value: String(o.value),
      textContent: o.label,
      selected: String(o.value) === String(value ?? ""),
    });
  select.replaceChildren(
    ...options.map((o) =>
      o.group !== undefined ? el("optgroup", { label: o.group }, o.options.map(option)) : option(o),
    ),
  );
}

/** Call `fn` at most once per `ms` of quiet (typing in a search box). */
export function debounce(fn, ms = 150) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
