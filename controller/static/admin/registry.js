// Реестр: region → municipality → school → room, from the top of the signed-in user's subtree down.
// The place being looked at lives in the address (?region=…&municipality=…&school=…), so links,
// reloads and the back button work; each level is a table read from /api/<kind plural>.

import { ApiError, get, write } from "./api.js";
import {
  CHILD,
  FIELDS,
  ORDER,
  PARENT,
  PLURAL,
  T as KIND,
  columnsOf,
  displayName,
  fieldsFor,
} from "./kinds.js";
import { confirmDialog, formDialog } from "./dialogs.js";
import { _ } from "./i18n.js";
import { Listing, Notices, debounce, el, may, pageData, T as UI } from "./ui.js";

const T = {
  registry: _("Реестр"),
  allRegions: _("Все регионы"),
  edit: _("Изменить"),
  editTitle: (name) => _("Изменить: %(name)s", { name }),
  archive: _("В архив"),
  archiveTitle: _("Перенести в архив?"),
  archiveText: (what, name) =>
    _(
      "%(what)s «%(name)s» пропадёт из списков и из выбора в формах. Его история, статистика и записи журнала сохранятся.",
      { what, name },
    ),
  archiveConfirm: _("Перенести в архив"),
  created: (what, name) => _("Добавлено: %(what)s «%(name)s».", { what, name }),
  saved: (what, name) => _("Сохранено: %(what)s «%(name)s».", { what, name }),
  archived: (what, name) => _("В архиве: %(what)s «%(name)s».", { what, name }),
  archivedBadge: _("в архиве"),
  open: (name) => _("Открыть «%(name)s»", { name }),
  editOf: (name) => _("Изменить «%(name)s»", { name }),
  archiveOf: (name) => _("В архив «%(name)s»", { name }),
  notFound: _("Этого объекта нет в вашей части реестра. Показан верхний уровень."),
};

const page = pageData();
const home = page.nodeType ? { kind: page.nodeType, id: page.nodeId } : null;
const notices = new Notices(document.getElementById("notices"));
const heading = document.getElementById("level-title");
const crumbs = document.getElementById("crumbs");
const addButton = document.getElementById("add");
const search = document.getElementById("filter");
const showArchived = document.getElementById("show-archived");
const table = document.getElementById("table");
const summary = document.getElementById("summary");

const state = { path: [], kind: null, listing: null, generation: 0 };

/** Return the path from the user's home node down to the place named in the address. */
async function loadPath() {
  const params = new URLSearchParams(location.search);
  const path = [];
  if (home) {
    const row = await get(`/api/${PLURAL[home.kind]}/${home.id}`);
    path.push({ kind: home.kind, id: home.id, name: displayName(home.kind, row) });
  }
  let kind = home ? CHILD[home.kind] : "region";
  while (kind && CHILD[kind] && params.has(kind)) {
    const row = await get(`/api/${PLURAL[kind]}/${Number(params.get(kind))}`);
    const parent = path.at(-1);
    if (parent && row[`${parent.kind}_id`] !== parent.id) {
      throw new ApiError(404, { message: T.notFound });
    }
    path.push({ kind, id: row.id, name: displayName(kind, row) });
    kind = CHILD[kind];
  }
  return path;
}

/** Return the address of the level below `path` (the part of it under the user's home). */
function hrefOf(path) {
  const params = new URLSearchParams();
  for (const step of path) {
    if (!home || ORDER.indexOf(step.kind) > ORDER.indexOf(home.kind)) params.set(step.kind, step.id);
  }
  const query = params.toString();
  return location.pathname + (query ? `?${query}` : "");
}

function go(path) {
  history.pushState(null, "", hrefOf(path));
  notices.clear();
  show().then(() => heading.focus());
}

function link(path, text, label) {
  const a = el("a", { href: hrefOf(path), textContent: text });
  if (label) a.setAttribute("aria-label", label);
  a.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    go(path);
  });
  return a;
}

function renderCrumbs() {
  const items = [];
  const top = home ? [] : [{ label: T.allRegions, path: [] }];
  const steps = [
    ...top,
    ...state.path.map((step, i) => ({ label: step.name, path: state.path.slice(0, i + 1) })),
  ];
  steps.forEach((step, i) => {
    const last = i === steps.length - 1;
    const item = last
      ? el("span", { textContent: step.label, attrs: { "aria-current": "location" } })
      : link(step.path, step.label);
    items.push(el("li", {}, item));
  });
  crumbs.replaceChildren(...items);
}

function nameCell(row) {
  const name = displayName(state.kind, row);
  const content = [];
  if (CHILD[state.kind]) {
    const step = { kind: state.kind, id: row.id, name };
    content.push(link([...state.path, step], name, T.open(name)));
  } else {
    content.push(name);
  }
  if (row.archived_at) content.push(" ", el("span", { className: "badge", textContent: T.archivedBadge }));
  return content;
}

function rowActions(row) {
  if (row.archived_at) return [];
  const name = displayName(state.kind, row);
  const buttons = [];
  if (may(page.powers, state.kind, "update")) {
    const edit = el("button", { type: "button", className: "small secondary", textContent: T.edit });
    edit.setAttribute("aria-label", T.editOf(name));
    edit.addEventListener("click", () => editObject(row));
    buttons.push(edit);
  }
  if (may(page.powers, state.kind, "archive")) {
    const archive = el("button", { type: "button", className: "small danger", textContent: T.archive });
    archive.setAttribute("aria-label", T.archiveOf(name));
    archive.addEventListener("click", () => archiveObject(row));
    buttons.push(archive);
  }
  return buttons;
}

function bodyOf(kind, values) {
  const body = {};
  for (const field of FIELDS[kind]) body[field.name] = values[field.name].trim();
  return body;
}

async function addObject() {
  const kind = state.kind;
  const parent = state.path.at(-1);
  const defaults = kind === "school" ? { timezone: "Europe/Moscow" } : {};
  const created = await formDialog({
    title: KIND.newTitle[kind],
    fields: fieldsFor(kind),
    values: defaults,
    submitLabel: KIND.add[kind],
    submit: (values) => {
      const body = bodyOf(kind, values);
      if (PARENT[kind]) body[`${PARENT[kind]}_id`] = parent.id;
      return write("POST", `/api/${PLURAL[kind]}`, body);
    },
  });
  if (created) {
    notices.show(T.created(KIND.one[kind], displayName(kind, created)), "ok");
    await reload(created.id);
  }
}

async function editObject(row) {
  const kind = state.kind;
  const values = Object.fromEntries(FIELDS[kind].map((f) => [f.name, row[f.name] ?? ""]));
  const saved = await formDialog({
    title: T.editTitle(displayName(kind, row)),
    fields: fieldsFor(kind, row.timezone),
    values,
    submit: (edited) => {
      // Only what changed goes to the server (and into the audit record).
      const body = Object.fromEntries(
        Object.entries(bodyOf(kind, edited)).filter(([name, value]) => value !== (row[name] ?? "")),
      );
      return Object.keys(body).length ? write("PATCH", `/api/${PLURAL[kind]}/${row.id}`, body) : row;
    },
  });
  if (saved) {
    notices.show(T.saved(KIND.one[kind], displayName(kind, saved)), "ok");
    await reload(saved.id);
  }
}

async function archiveObject(row) {
  const kind = state.kind;
  const name = displayName(kind, row);
  const what = KIND.one[kind];
  const sure = await confirmDialog({
    title: T.archiveTitle,
    text: T.archiveText(what[0].toUpperCase() + what.slice(1), name),
    confirmLabel: T.archiveConfirm,
  });
  if (!sure) return;
  try {
    await write("POST", `/api/${PLURAL[kind]}/${row.id}/archive`);
    notices.show(T.archived(what, name), "ok");
  } catch (exc) {
    notices.error(exc);
  }
  await reload();
}

/** Read the current level's rows again; mark the row `freshId` (just added or changed). */
async function reload(freshId) {
  const kind = state.kind;
  const generation = state.generation;
  const parent = state.path.at(-1);
  const params = { archived: showArchived.checked ? "1" : "" };
  if (PARENT[kind] && parent) params[`${PARENT[kind]}_id`] = parent.id;
  table.setAttribute("aria-busy", "true");
  try {
    const answer = await get(`/api/${PLURAL[kind]}`, params);
    if (generation !== state.generation) return;
    state.listing.setRows(answer[PLURAL[kind]]);
  } catch (exc) {
    notices.error(exc);
  } finally {
    table.removeAttribute("aria-busy");
  }
  if (freshId !== undefined) {
    const row = table.querySelector(`tbody tr[data-id="${freshId}"]`);
    if (row) {
      row.classList.add("fresh");
      row.scrollIntoView({ block: "nearest" });
    }
  }
}

async function show() {
  state.generation += 1;
  const generation = state.generation;
  let path;
  try {
    path = await loadPath();
  } catch (exc) {
    notices.show(exc.status === 404 ? T.notFound : exc.message);
    history.replaceState(null, "", location.pathname);
    path = await loadPath().catch(() => []);
  }
  if (generation !== state.generation) return;
  state.path = path;
  state.kind = path.length ? CHILD[path.at(-1).kind] : "region";
  const kind = state.kind;
  heading.textContent = KIND.plural[kind];
  document.title = `${KIND.plural[kind]} — ${T.registry} — ClassCast`;
  renderCrumbs();
  addButton.textContent = KIND.add[kind];
  addButton.hidden = !may(page.powers, kind, "create");
  search.value = "";
  search.placeholder = KIND.searchHint[kind];
  state.listing = new Listing(table, {
    columns: columnsOf(kind, nameCell),
    actions: rowActions,
    summary,
    emptyText: KIND.empty[kind],
    rowClass: (row) => (row.archived_at ? "archived" : ""),
  });
  summary.textContent = UI.loading;
  await reload();
}

addButton.addEventListener("click", addObject);
search.addEventListener(
  "input",
  debounce(() => state.listing && state.listing.setFilter(search.value)),
);
showArchived.addEventListener("change", () => reload());
window.addEventListener("popstate", () => {
  notices.clear();
  show().then(() => heading.focus());
});
show();
