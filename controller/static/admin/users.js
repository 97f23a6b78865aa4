// Учётные записи: the accounts of the signed-in user's subtree, filtered by role and text; create,
// edit and archive accounts of roles below the user's own. A new account's one-time password is
// shown once, in a dialog with a copy button.

import { ApiError, get, write } from "./api.js";
import { displayName as nodeName } from "./kinds.js";
import { confirmDialog, formDialog } from "./dialogs.js";
import { _ } from "./i18n.js";
import { showOneTimePassword } from "./password.js";
import { Listing, Notices, debounce, el, fillSelect, may, pageData, T as UI } from "./ui.js";

const T = {
  noPassword: (login) =>
    _("Учётная запись «%(login)s» создана; вход — через единую учётную запись (ЕСИА).", { login }),
  allRoles: _("Все роли"),
  columns: { full_name: _("ФИО"), login: _("Логин"), role: _("Роль"), node: _("Организация") },
  nodeKinds: { region: _("регион"), municipality: _("муниципалитет"), school: _("школа") },
  number: (id) => _("№ %(id)s", { id }),
  wholeSystem: _("вся система"),
  newTitle: _("Новая учётная запись"),
  create: _("Создать"),
  editTitle: (name) => _("Изменить: %(name)s", { name }),
  edit: _("Изменить"),
  archive: _("В архив"),
  editOf: (name) => _("Изменить учётную запись «%(name)s»", { name }),
  archiveOf: (name) => _("В архив учётную запись «%(name)s»", { name }),
  fields: { full_name: _("ФИО"), login: _("Логин"), email: _("Эл. почта"), role: _("Роль") },
  nodeField: { school: _("Школа"), municipality: _("Муниципалитет"), region: _("Регион") },
  hints: {
    login: _("Буквы, цифры и . _ - @ — с ним входят в систему."),
    email: _("Необязательно."),
  },
  choose: _("— выберите —"),
  checkFields: _("Проверьте поля формы."),
  chooseNode: {
    school: _("Выберите школу."),
    municipality: _("Выберите муниципалитет."),
    region: _("Выберите регион."),
  },
  archiveTitle: _("Закрыть учётную запись?"),
  archiveText: (name, login) =>
    _(
      "%(name)s (%(login)s) больше не сможет войти, открытые сеансы завершатся. Записи журнала событий сохранятся.",
      { name, login },
    ),
  archiveConfirm: _("Перенести в архив"),
  created: (name) => _("Учётная запись «%(name)s» создана.", { name }),
  saved: (name) => _("Сохранено: «%(name)s».", { name }),
  archived: (name) => _("Учётная запись «%(name)s» перенесена в архив.", { name }),
  archivedBadge: _("в архиве"),
  empty: _("Учётных записей пока нет."),
};

// The level of the registry each role is bound to (controller.access.ROLE_LEVEL).
const ROLE_LEVEL = { teacher: "school", school_it: "school", municipal: "municipality", regional: "region" };
const ROLE_ORDER = ["teacher", "school_it", "municipal", "regional", "operator"];

const page = pageData();
const notices = new Notices(document.getElementById("notices"));
const roleFilter = document.getElementById("role-filter");
const search = document.getElementById("filter");
const showArchived = document.getElementById("show-archived");
const addButton = document.getElementById("add");
const table = document.getElementById("table");

const nodes = { region: new Map(), municipality: new Map(), school: new Map() };
let accounts = [];

function nodeText(account) {
  if (!account.node_type) return T.wholeSystem;
  const node = nodes[account.node_type].get(account.node_id);
  const name = node ? nodeName(account.node_type, node) : T.number(account.node_id);
  return `${name} (${T.nodeKinds[account.node_type]})`;
}

/** Read the registry nodes the user may bind accounts to (and name accounts by). */
async function loadNodes() {
  const [regions, municipalities, schools] = await Promise.all([
    get("/api/regions", { archived: "1" }),
    get("/api/municipalities", { archived: "1" }),
    get("/api/schools", { archived: "1" }),
  ]);
  for (const [kind, rows] of [
    ["region", regions.regions],
    ["municipality", municipalities.municipalities],
    ["school", schools.schools],
  ]) {
    for (const row of rows) nodes[kind].set(row.id, row);
  }
}

/** Return the choices of nodes for accounts of `level`, grouped by the node one level up. */
function nodeOptions(level) {
  const upper = { school: ["municipality", "municipality_id"], municipality: ["region", "region_id"] }[level];
  const live = [...nodes[level].values()].filter((row) => !row.archived_at);
  const collator = new Intl.Collator("ru", { numeric: true });
  live.sort((a, b) => collator.compare(nodeName(level, a), nodeName(level, b)));
  const option = (row) => ({
    value: row.id,
    label: level === "region" ? `${row.code} — ${row.name}` : nodeName(level, row),
  });
  if (!upper) return live.map(option);
  const groups = new Map();
  for (const row of live) {
    const parent = nodes[upper[0]].get(row[upper[1]]);
    const key = parent ? parent.name : "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(option(row));
  }
  if (groups.size === 1 && groups.has("")) return groups.get("");
  return [...groups].map(([group, options]) => (group ? { group, options } : options)).flat();
}

function roleOptions() {
  return page.manageableRoles.map((role) => ({ value: role, label: UI.roles[role] }));
}

/** Keep the node field in step with the chosen role: its label, its choices, hidden for the operator. */
function wireRoleAndNode(form, chosenNode) {
  const role = form.elements.role;
  const node = form.elements.node_id;
  const field = node.closest(".field");
  const label = field.querySelector(".field-label");
  // Ids are per kind: a school's id means nothing once the role wants a municipality.
  let shown = ROLE_LEVEL[role.value];
  let chosen = { level: shown, id: chosenNode };
  const update = () => {
    shown = ROLE_LEVEL[role.value];
    field.hidden = !shown;
    if (!shown) return;
    label.firstChild.textContent = T.nodeField[shown];
    const options = nodeOptions(shown);
    const flat = options.flatMap((o) => o.options || [o]);
    const known = chosen.level === shown && flat.some((o) => String(o.value) === String(chosen.id));
    const keep = known ? chosen.id : flat.length === 1 ? flat[0].value : "";
    fillSelect(node, flat.length === 1 ? options : [{ value: "", label: T.choose }, ...options], keep);
  };
  role.addEventListener("change", () => {
    if (shown && node.value) chosen = { level: shown, id: node.value };
    update();
  });
  update();
}

function accountFields() {
  return [
    { name: "full_name", label: T.fields.full_name, required: true, maxlength: 200, autocomplete: "off" },
    { name: "login", label: T.fields.login, required: true, maxlength: 64, hint: T.hints.login },
    { name: "email", label: T.fields.email, type: "email", maxlength: 200, hint: T.hints.email },
    { name: "role", label: T.fields.role, type: "select", required: true, options: roleOptions() },
    { name: "node_id", label: T.nodeField.school, type: "select", required: true, options: [] },
  ];
}

function bodyOf(values, creating) {
  const level = ROLE_LEVEL[values.role];
  if (level && !values.node_id) {
    throw new ApiError(400, { message: T.checkFields, fields: { node_id: T.chooseNode[level] } });
  }
  const body = { full_name: values.full_name.trim(), login: values.login.trim(), role: values.role };
  if (values.email.trim() || creating) body.email = values.email.trim() || null;
  if (ROLE_LEVEL[values.role]) body.node_id = values.node_id ? Number(values.node_id) : null;
  return body;
}

async function addAccount() {
  const defaults = { role: page.manageableRoles[0] };
  const created = await formDialog({
    title: T.newTitle,
    fields: accountFields(),
    values: defaults,
    submitLabel: T.create,
    setup: (form) => wireRoleAndNode(form, page.nodeType === "school" ? page.nodeId : ""),
    submit: (values) => write("POST", "/api/users", bodyOf(values, true)),
  });
  if (created) {
    notices.show(T.created(created.full_name), "ok");
    await reload(created.id);
    if (created.initial_password) await showOneTimePassword(created);
    else notices.show(T.noPassword(created.login), "ok");
  }
}

async function editAccount(account) {
  const saved = await formDialog({
    title: T.editTitle(account.full_name),
    fields: accountFields(),
    values: { ...account, email: account.email || "" },
    setup: (form) => wireRoleAndNode(form, account.node_id),
    submit: (values) => {
      const body = bodyOf(values, false);
      // Only what changed goes to the server (and into the audit record); role and node go together.
      for (const name of ["full_name", "login", "email"]) {
        if (body[name] === (account[name] ?? "") || (name === "email" && body[name] === null))
          delete body[name];
      }
      if (body.role === account.role && body.node_id === account.node_id) {
        delete body.role;
        delete body.node_id;
      }
      return Object.keys(body).length ? write("PATCH", `/api/users/${account.id}`, body) : account;
    },
  });
  if (saved) {
    notices.show(T.saved(saved.full_name), "ok");
    await reload(saved.id);
  }
}

async function archiveAccount(account) {
  const sure = await confirmDialog({
    title: T.archiveTitle,
    text: T.archiveText(account.full_name, account.login),
    confirmLabel: T.archiveConfirm,
  });
  if (!sure) return;
  try {
    await write("POST", `/api/users/${account.id}/archive`);
    notices.show(T.archived(account.full_name), "ok");
  } catch (exc) {
    notices.error(exc);
  }
  await reload();
}

function manageable(account) {
  return !account.archived_at && page.manageableRoles.includes(account.role);
}

function rowActions(account) {
  if (!manageable(account)) return [];
  const buttons = [];
  if (may(page.powers, "user", "update")) {
    const edit = el("button", { type: "button", className: "small secondary", textContent: T.edit });
    edit.setAttribute("aria-label", T.editOf(account.full_name));
    edit.addEventListener("click", () => editAccount(account));
    buttons.push(edit);
  }
  if (may(page.powers, "user", "archive")) {
    const archive = el("button", { type: "button", className: "small danger", textContent: T.archive });
    archive.setAttribute("aria-label", T.archiveOf(account.full_name));
    archive.addEventListener("click", () => archiveAccount(account));
    buttons.push(archive);
  }
  return buttons;
}

const listing = new Listing(table, {
  columns: [
    {
      key: "full_name",
      label: T.columns.full_name,
      className: "title",
      cell: (a) => [
        a.full_name,
        a.archived_at ? el("span", { className: "badge", textContent: T.archivedBadge }) : null,
      ],
    },
    { key: "login", label: T.columns.login },
    { key: "role", label: T.columns.role, text: (a) => UI.roles[a.role] || a.role },
    { key: "node", label: T.columns.node, text: nodeText },
  ],
  actions: rowActions,
  summary: document.getElementById("summary"),
  emptyText: T.empty,
  rowClass: (a) => (a.archived_at ? "archived" : ""),
});

function applyFilters() {
  const role = roleFilter.value;
  listing.setRows(accounts.filter((a) => !role || a.role === role));
}

/** Read the accounts again; mark the row `freshId` (just created or changed). */
async function reload(freshId) {
  table.setAttribute("aria-busy", "true");
  try {
    accounts = (await get("/api/users", { archived: showArchived.checked ? "1" : "" })).users;
    applyFilters();
  } catch (exc) {
    notices.error(exc);
  } finally {
    table.removeAttribute("aria-busy");
  }
  const row = freshId !== undefined && table.querySelector(`tbody tr[data-id="${freshId}"]`);
  if (row) {
    row.classList.add("fresh");
    row.scrollIntoView({ block: "nearest" });
  }
}

fillSelect(
  roleFilter,
  [{ value: "", label: T.allRoles }, ...ROLE_ORDER.map((r) => ({ value: r, label: UI.roles[r] }))],
  "",
);
roleFilter.addEventListener("change", applyFilters);
search.addEventListener(
  "input",
  debounce(() => listing.setFilter(search.value)),
);
showArchived.addEventListener("change", () => reload());
addButton.hidden = !(may(page.powers, "user", "create") && page.manageableRoles.length);
addButton.addEventListener("click", addAccount);
document.getElementById("summary").textContent = UI.loading;
loadNodes()
  .catch((exc) => notices.error(exc))
  .then(() => reload());
