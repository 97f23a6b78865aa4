// Журнал событий: the audit events of the signed-in user's subtree, newest first, in the browser's
// local time; filters go to the API, "Показать ещё" pages back with before_id.

import { get } from "./api.js";
import { _ } from "./i18n.js";
import { displayName } from "./kinds.js";
import { Notices, el, fillSelect, T as UI } from "./ui.js";

const T = {
  columns: {
    at: _("Время"),
    actor: _("Кто"),
    role: _("Роль"),
    action: _("Действие"),
    object: _("Объект"),
    outcome: _("Итог"),
    ip: _("Адрес"),
  },
  allActions: _("Все действия"),
  allOutcomes: _("Любой итог"),
  allKinds: _("Любые объекты"),
  actions: {
    sign_in: _("вход"),
    sign_in_failed: _("неудачный вход"),
    sign_out: _("выход"),
    create: _("создание"),
    update: _("изменение"),
    archive: _("перенос в архив"),
    import: _("импорт"),
    export: _("выгрузка"),
    denied: _("отказ в доступе"),
    enroll_panel: _("регистрация панели"),
    revoke_panel: _("отзыв панели"),
    decommission_panel: _("списание панели"),
    move_panel: _("перенос панели"),
    panel_command: _("команда панели"),
    cast: _("показ на экране"),
    alert: _("оповещение"),
    proxy: _("обращение к основной системе"),
  },
  outcomes: { ok: _("успешно"), denied: _("отказано"), failed: _("не удалось") },
  kinds: {
    region: _("регион"),
    municipality: _("муниципалитет"),
    school: _("школа"),
    room: _("кабинет"),
    user: _("учётная запись"),
    panel: _("панель"),
    provision: _("список закупки"),
    cast: _("показ"),
    content: _("материал"),
    import: _("импорт"),
    audit: _("журнал событий"),
    alert: _("оповещение"),
    library: _("библиотека"),
    journal: _("журнал"),
    schedule: _("расписание экрана"),
  },
  reasons: { bad_credentials: _("неверный логин или пароль"), throttled: _("слишком много попыток") },
  methods: { password: _("по паролю"), oidc: _("через ЕСИА") },
  fieldNames: {
    code: _("код"),
    name: _("название"),
    short_name: _("краткое название"),
    ogrn: _("ОГРН"),
    inn: _("ИНН"),
    address: _("адрес"),
    timezone: _("часовой пояс"),
    login: _("логин"),
    full_name: _("ФИО"),
    role: _("роль"),
    node_type: _("узел"),
    node_id: _("узел"),
  },
  changed: (names) => _("изменено: %(names)s", { names }),
  number: (id) => _("№ %(id)s", { id }),
  nobody: "—",
  named: (kind, name) => _("%(kind)s «%(name)s»", { kind, name }),
  shown: (n) => _("Показано событий: %(n)s", { n }),
  empty: _("Событий не найдено."),
  more: _("Показать ещё"),
};

const PAGE = 50;
const PLURAL = {
  region: "regions",
  municipality: "municipalities",
  school: "schools",
  room: "rooms",
  user: "users",
};

const notices = new Notices(document.getElementById("notices"));
const form = document.getElementById("filters");
const table = document.getElementById("table");
const body = el("tbody");
const summary = document.getElementById("summary");
const more = document.getElementById("more");
const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || "ru", {
  dateStyle: "short",
  timeStyle: "medium",
});

const names = {}; // kind -> Map(id -> name), read once per kind from the registry and accounts API
let events = [];
let generation = 0;

/** Read the names of the objects of `kinds` this user can see (archived ones too). */
async function loadNames(kinds) {
  const missing = kinds.filter((kind) => PLURAL[kind] && !names[kind]);
  await Promise.all(
    missing.map(async (kind) => {
      names[kind] = new Map();
      try {
        const answer = await get(`/api/${PLURAL[kind]}`, { archived: "1" });
        for (const row of answer[PLURAL[kind]]) {
          const name = kind === "user" ? `${row.full_name} (${row.login})` : displayName(kind, row);
          names[kind].set(row.id, name);
        }
      } catch {
        // Names are a convenience: without them the object is shown by its number.
      }
    }),
  );
}

function objectCell(event) {
  const parts = [];
  // Signing in and out names the actor's own account: the "Кто" column already says who.
  const self = event.object_kind === "user" && event.object_id === event.actor_user_id;
  if (event.object_kind && !self) {
    const kind = T.kinds[event.object_kind] || event.object_kind;
    const detail = event.detail || {};
    const known = names[event.object_kind] && names[event.object_kind].get(event.object_id);
    const name = known || detail.name || detail.full_name || detail.login;
    const label = name
      ? T.named(kind, name)
      : event.object_id
        ? `${kind} ${T.number(event.object_id)}`
        : kind;
    parts.push(label);
  }
  const note = noteOf(event);
  if (note) parts.push(el("span", { className: "sub", textContent: note }));
  return parts.length ? parts : T.nobody;
}

function actionCell(event) {
  const detail = event.detail || {};
  let how = "";
  if (event.action === "sign_in_failed") how = T.reasons[detail.reason] || detail.reason || "";
  if (event.action === "sign_in") how = T.methods[detail.method] || "";
  return [
    T.actions[event.action] || event.action,
    how ? el("span", { className: "sub", textContent: how }) : null,
  ];
}

function noteOf(event) {
  const detail = event.detail || {};
  if (event.action === "denied") return detail.route || "";
  if (event.action === "update") {
    const fields = [...new Set(Object.keys(detail).map((k) => T.fieldNames[k] || k))];
    return fields.length ? T.changed(fields.join(", ")) : "";
  }
  return "";
}

function timeCell(at) {
  const when = new Date(at * 1000);
  return el("time", { dateTime: when.toISOString(), textContent: timeFormat.format(when) });
}

function row(event) {
  const outcome = el("span", {
    className: `badge ${event.outcome}`,
    textContent: T.outcomes[event.outcome] || event.outcome,
  });
  const cells = [
    [T.columns.at, timeCell(event.at), "nowrap"],
    [T.columns.actor, el("strong", { textContent: event.actor_login || T.nobody }), ""],
    [T.columns.role, UI.roles[event.actor_role] || T.nobody, ""],
    [T.columns.action, actionCell(event), "title"],
    [T.columns.object, objectCell(event), ""],
    [T.columns.outcome, outcome, ""],
    [T.columns.ip, event.ip || T.nobody, "nowrap"],
  ];
  return el(
    "tr",
    { dataset: { id: String(event.id) } },
    cells.map(([label, content, className]) =>
      el("td", { className, dataset: { label } }, el("div", {}, content)),
    ),
  );
}

function render() {
  body.replaceChildren(...events.map(row));
  if (!events.length) {
    body.append(el("tr", { className: "empty" }, el("td", { colSpan: 7, textContent: T.empty })));
  }
  summary.textContent = T.shown(events.length);
}

function filters() {
  const data = new FormData(form);
  const chosen = {};
  for (const [name, value] of data) if (String(value).trim()) chosen[name] = String(value).trim();
  return chosen;
}

/** Read a page of events: the newest (fresh) or the next older ones. */
async function load(fresh) {
  const mine = fresh ? ++generation : generation;
  const params = { ...filters(), limit: PAGE };
  if (!fresh && events.length) params.before_id = events.at(-1).id;
  more.disabled = true;
  try {
    const answer = await get("/api/audit", params);
    await loadNames([...new Set(answer.events.map((e) => e.object_kind).filter(Boolean))]);
    if (mine !== generation) return;
    events = fresh ? answer.events : [...events, ...answer.events];
    notices.clear();
    render();
    more.hidden = answer.events.length < PAGE;
  } catch (exc) {
    notices.error(exc);
  } finally {
    more.disabled = false;
  }
}

function buildTable() {
  const heads = Object.values(T.columns).map((label) => el("th", { scope: "col", textContent: label }));
  table.replaceChildren(el("thead", {}, el("tr", {}, heads)), body);
}

function fillFilters() {
  const options = (all, labels) => [
    { value: "", label: all },
    ...Object.entries(labels).map(([value, label]) => ({ value, label })),
  ];
  fillSelect(form.elements.action, options(T.allActions, T.actions), "");
  fillSelect(form.elements.outcome, options(T.allOutcomes, T.outcomes), "");
  fillSelect(form.elements.object_kind, options(T.allKinds, T.kinds), "");
}

buildTable();
fillFilters();
form.addEventListener("submit", (event) => {
  event.preventDefault();
  load(true);
});
form.addEventListener("reset", () => setTimeout(() => load(true)));
for (const select of form.querySelectorAll("select")) select.addEventListener("change", () => load(true));
more.textContent = T.more;
more.addEventListener("click", () => load(false));
load(true);
