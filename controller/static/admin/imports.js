// Импорт списков: upload a school list or a staff list (CSV, XLSX) for a preview, read what it would
// add, change and archive and which rows are bad, page by page, and apply it after a confirmation.
// The current list of the same node downloads in the same format, to edit and upload again.

import { ApiError, get, toLogin, write } from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { _ } from "./i18n.js";
import { PLURAL, displayName } from "./kinds.js";
import { Notices, el, fillSelect, may, pageData, T as UI } from "./ui.js";

const MAX_BYTES = 20 * 1024 * 1024; // controller.imports.MAX_BYTES
const PAGE = 50;
// The object kind whose "create" (import) and "export" powers a list needs (access.POLICY).
const OBJECT_KIND = { schools: "school", staff: "user" };
const SECTIONS = ["add", "change", "archive", "bad", "municipalities"];

const T = {
  network: _("Нет связи с сервером. Проверьте сеть и попробуйте ещё раз."),
  unreadable: _("Сервер ответил непонятно. Обновите страницу и попробуйте ещё раз."),
  chooseFile: _("Выберите файл списка: CSV или XLSX."),
  tooLarge: _("Файл больше 20 МБ: разделите список на части."),
  checking: _("Проверяем файл…"),
  check: _("Проверить файл"),
  applying: _("Применяем…"),
  apply: _("Применить"),
  choose: _("— выберите —"),
  wholeRegion: (name) => _("Весь регион: %(name)s", { name }),
  wholeMunicipality: (name) => _("Весь муниципалитет: %(name)s", { name }),
  regions: _("Регионы"),
  municipalities: _("Муниципалитеты"),
  schools: _("Школы"),
  listOf: (name) => _("Список: %(name)s", { name }),
  listKind: { schools: _("список школ"), staff: _("список сотрудников") },
  about: (values) => _("Файл «%(file)s»: %(kind)s, %(scope)s. Строк с данными: %(rows)s.", values),
  counts: {
    add: _("добавить"),
    change: _("изменить"),
    archive: _("в архив"),
    unchanged: _("без изменений"),
    bad: _("ошибки"),
    municipalities_add: _("новые муниципалитеты"),
  },
  applied: {
    add: _("добавлено"),
    change: _("изменено"),
    archive: _("перенесено в архив"),
    unchanged: _("без изменений"),
    bad: _("строк с ошибками пропущено"),
    municipalities_add: _("муниципалитетов добавлено"),
  },
  tabs: {
    add: (n) => _("Добавить (%(n)s)", { n }),
    change: (n) => _("Изменить (%(n)s)", { n }),
    archive: (n) => _("В архив (%(n)s)", { n }),
    bad: (n) => _("Ошибки (%(n)s)", { n }),
    municipalities: (n) => _("Новые муниципалитеты (%(n)s)", { n }),
  },
  empty: {
    add: _("Добавлять нечего."),
    change: _("Менять нечего."),
    archive: _("Переносить в архив нечего."),
    bad: _("Ошибок нет: все строки прочитаны."),
    municipalities: _("Новых муниципалитетов нет."),
  },
  ignored: (columns) => _("Эти столбцы не прочитаны (таких полей нет): %(columns)s.", { columns }),
  pageInfo: (values) => _("Строки %(first)s–%(last)s из %(total)s", values),
  columns: {
    row: _("Строка"),
    ogrn: _("ОГРН"),
    login: _("Логин"),
    name: _("Название"),
    full_name: _("ФИО"),
    municipality: _("Муниципалитет"),
    role: _("Роль"),
    node: _("Где"),
    changes: _("Что меняется"),
    column: _("Столбец"),
    reason: _("Причина"),
  },
  fields: {
    name: _("Название"),
    short_name: _("Краткое название"),
    ogrn: _("ОГРН"),
    inn: _("ИНН"),
    address: _("Адрес"),
    timezone: _("Часовой пояс"),
    municipality: _("Муниципалитет"),
    archived: _("В архиве"),
    full_name: _("ФИО"),
    email: _("Эл. почта"),
    role: _("Роль"),
    school_ogrn: _("ОГРН школы"),
  },
  yes: _("да"),
  no: _("нет"),
  schoolByOgrn: (ogrn) => _("школа, ОГРН %(ogrn)s", { ogrn }),
  applyHint: _(
    "Предпросмотр действует час. Строки с ошибками не применяются; исправьте их и загрузите файл снова.",
  ),
  nothingToApply: _("Применять нечего: реестр уже совпадает с файлом (строки с ошибками не в счёт)."),
  confirmTitle: _("Применить импорт?"),
  confirmText: (counts) =>
    _(
      "Будет добавлено: %(add)s, изменено: %(change)s, перенесено в архив: %(archive)s. Строки с ошибками (%(bad)s) не применяются.",
      counts,
    ),
  confirmMunicipalities: (n) => _("Новых муниципалитетов: %(n)s.", { n }),
  changed: _(
    "Пока вы смотрели предпросмотр, данные в реестре изменились, и ничего не применено. Ниже — новый план: проверьте его и примените снова.",
  ),
  done: _("Импорт применён."),
  downloaded: (file) => _("Список скачан: «%(file)s». Исправьте его и загрузите здесь же.", { file }),
};

const page = pageData();
const notices = new Notices(document.getElementById("notices"));
const form = document.getElementById("upload");
const nodeField = document.getElementById("node-field");
const nodeSelect = document.getElementById("node");
const nodeFixed = document.getElementById("node-fixed");
const fileInput = document.getElementById("file");
const checkButton = document.getElementById("check");
const downloads = document.getElementById("downloads");
const previewBox = document.getElementById("preview");
const tabList = document.getElementById("tabs");
const sectionBox = document.getElementById("section");
const itemsTable = document.getElementById("items");
const pageInfo = document.getElementById("page-info");
const previousButton = document.getElementById("previous");
const nextButton = document.getElementById("next");
const applyButton = document.getElementById("apply");
const applyHint = document.getElementById("apply-hint");
const resultBox = document.getElementById("result");

const state = { preview: null, fileName: "", section: "add", offset: 0, total: 0, home: null, nodes: null };

// --- talking to the API -----------------------------------------------------------------------------

// --- what the file lists, and for which node -------------------------------------------------------

function chosenKind() {
  const checked = form.querySelector("input[name=kind]:checked");
  return checked ? checked.value : null;
}

/** Return the node the list is for ({level, id}), or null for the user's own node. */
function chosenNode() {
  if (nodeField.hidden || !nodeSelect.value) return null;
  const [level, id] = nodeSelect.value.split(":");
  return { level, id: Number(id) };
}

/** Read the user's own node and the nodes below it that a list may cover (once). */
async function loadNodes() {
  if (page.nodeType) {
    const row = await get(`/api/${PLURAL[page.nodeType]}/${page.nodeId}`);
    state.home = { level: page.nodeType, name: displayName(page.nodeType, row) };
  }
  const wanted = {
    operator: ["region", "municipality"],
    regional: ["municipality"],
    municipal: ["school"],
  }[page.role];
  const nodes = { region: [], municipality: [], school: [] };
  for (const level of wanted || []) {
    nodes[level] = (await get(`/api/${PLURAL[level]}`))[PLURAL[level]];
  }
  state.nodes = nodes;
}

/** Fill the node choice for the chosen list: the own node first, then the nodes below it that hold
 * such a list (a school holds a staff list, never a school list). */
function showNodeChoice() {
  const kind = chosenKind();
  const collator = new Intl.Collator("ru", { numeric: true });
  const optionsOf = (level) =>
    state.nodes[level]
      .map((row) => ({ value: `${level}:${row.id}`, label: displayName(level, row) }))
      .sort((a, b) => collator.compare(a.label, b.label));
  let options = [];
  if (page.role === "operator") {
    options = [
      { value: "", label: T.choose },
      { group: T.regions, options: optionsOf("region") },
      { group: T.municipalities, options: optionsOf("municipality") },
    ].filter((o) => !o.options || o.options.length);
  } else if (state.home) {
    const below = {
      region: "municipality",
      municipality: kind === "staff" ? "school" : null, // a school holds no school list
    }[state.home.level];
    const whole = state.home.level === "region" ? T.wholeRegion : T.wholeMunicipality;
    if (below && state.nodes[below].length) {
      const group = below === "school" ? T.schools : T.municipalities;
      options = [{ value: "", label: whole(state.home.name) }, { group, options: optionsOf(below) }];
    }
  }
  const keep = nodeSelect.value;
  nodeField.hidden = options.length === 0;
  if (options.length) fillSelect(nodeSelect, options, keep);
  nodeFixed.hidden = !nodeField.hidden || !state.home;
  nodeFixed.textContent = state.home ? T.listOf(state.home.name) : "";
  downloads.hidden = !kind || !may(page.powers, OBJECT_KIND[kind], "export");
}

// --- the preview ------------------------------------------------------------------------------------

async function upload(event) {
  event.preventDefault();
  notices.clear();
  const kind = chosenKind();
  const file = fileInput.files[0];
  if (!file) {
    notices.show(T.chooseFile);
    fileInput.focus();
    return;
  }
  if (file.size > MAX_BYTES) {
    notices.show(T.tooLarge);
    return;
  }
  const body = new FormData();
  body.append("kind", kind);
  body.append("file", file);
  const node = chosenNode();
  if (node) body.append(`${node.level}_id`, String(node.id));
  checkButton.disabled = true;
  checkButton.textContent = T.checking;
  try {
    const preview = await write("POST", "/api/imports", body);
    await showPreview(preview, file.name);
  } catch (exc) {
    notices.error(exc);
  } finally {
    checkButton.disabled = false;
    checkButton.textContent = T.check;
  }
}

function countList(list, counts, labels, withZero) {
  const items = Object.entries(labels)
    .filter(([name]) => withZero || counts[name])
    .filter(([name]) => name !== "municipalities_add" || counts[name])
    .map(([name, label]) =>
      el(
        "li",
        { className: `count ${name}${counts[name] ? "" : " zero"}`, dataset: { count: name } },
        el("span", { className: "value", textContent: String(counts[name] ?? 0) }),
        el("span", { className: "label", textContent: label }),
      ),
    );
  list.replaceChildren(...items);
}

function pending(counts) {
  return counts.add + counts.change + counts.archive + (counts.municipalities_add || 0);
}

async function showPreview(preview, fileName) {
  state.preview = preview;
  state.fileName = fileName;
  resultBox.hidden = true;
  const counts = preview.counts;
  document.getElementById("preview-about").textContent = T.about({
    file: fileName,
    kind: T.listKind[preview.kind],
    scope: preview.scope.name,
    rows: counts.rows,
  });
  countList(document.getElementById("counts"), counts, T.counts, true);
  const notes = [...preview.notes];
  if (preview.ignored_columns.length) notes.push(T.ignored(preview.ignored_columns.join(", ")));
  document.getElementById("notes").replaceChildren(...notes.map((text) => el("li", { textContent: text })));
  const sizes = { ...counts, municipalities: counts.municipalities_add };
  const shown = SECTIONS.filter((name) => name !== "municipalities" || sizes.municipalities);
  renderTabs(shown, sizes);
  const first = sizes.bad ? "bad" : shown.find((name) => sizes[name]) || "add";
  applyButton.disabled = pending(counts) === 0;
  applyButton.hidden = false;
  applyHint.textContent = pending(counts) ? T.applyHint : T.nothingToApply;
  form.hidden = true;
  previewBox.hidden = false;
  await openSection(first, 0);
  document.getElementById("preview-title").focus();
}

function renderTabs(names, sizes) {
  const tabs = names.map((name) =>
    el("button", {
      type: "button",
      id: `tab-${name}`,
      className: `tab ${name}${sizes[name] ? "" : " zero"}`,
      textContent: T.tabs[name](sizes[name]),
      dataset: { section: name },
      attrs: { role: "tab", "aria-controls": "section", "aria-selected": "false", tabindex: "-1" },
    }),
  );
  for (const tab of tabs) tab.addEventListener("click", () => openSection(tab.dataset.section, 0));
  tabList.replaceChildren(...tabs);
}

function selectTab(name) {
  for (const tab of tabList.querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.section === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected) sectionBox.setAttribute("aria-labelledby", tab.id);
  }
}

/** Show one page of a section of the preview, read from the API. */
async function openSection(name, offset) {
  state.section = name;
  state.offset = offset;
  selectTab(name);
  sectionBox.setAttribute("aria-busy", "true");
  try {
    const answer = await get(`/api/imports/${state.preview.id}`, { section: name, offset, limit: PAGE });
    if (state.section !== name || state.offset !== offset) return;
    state.total = answer.total;
    renderItems(name, answer.items);
  } catch (exc) {
    notices.error(exc);
  } finally {
    sectionBox.removeAttribute("aria-busy");
  }
}

function renderPager() {
  const { offset, total } = state;
  pageInfo.textContent = total
    ? T.pageInfo({ first: offset + 1, last: Math.min(offset + PAGE, total), total })
    : "";
  previousButton.hidden = offset === 0;
  nextButton.hidden = offset + PAGE >= total;
  pageInfo.parentElement.hidden = total <= PAGE;
}

function shownValue(field, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (value === true) return T.yes;
  if (value === false) return T.no;
  if (field === "role") return UI.roles[value] || value;
  return String(value);
}

function changeCell(item) {
  return el(
    "ul",
    { className: "changes" },
    Object.keys(item.after).map((field) =>
      el(
        "li",
        {},
        el("span", { className: "field", textContent: `${T.fields[field] || field}: ` }),
        el("span", { className: "before", textContent: shownValue(field, item.before[field]) }),
        " → ",
        el("span", { className: "after", textContent: shownValue(field, item.after[field]) }),
      ),
    ),
  );
}

function staffNode(fields) {
  return fields.municipality || (fields.school_ogrn ? T.schoolByOgrn(fields.school_ogrn) : "—");
}

/** Return the columns of a section's table: [{label, className, value(item) -> text or node}]. */
function columnsOf(section, kind) {
  const C = T.columns;
  const row = { label: C.row, className: "narrow", value: (item) => String(item.row) };
  const key = { label: kind === "schools" ? C.ogrn : C.login, className: "title", value: (item) => item.key };
  if (section === "bad") {
    return [
      row,
      { label: C.column, value: (item) => item.column },
      { label: C.reason, className: "reason", value: (item) => item.reason },
    ];
  }
  if (section === "municipalities") return [row, { label: C.name, className: "title", value: (i) => i.name }];
  if (section === "change") return [key, row, { label: C.changes, value: changeCell }];
  if (section === "archive") {
    const name = { label: kind === "schools" ? C.name : C.full_name, value: (item) => item.name };
    const role = { label: C.role, value: (item) => shownValue("role", item.role) };
    return kind === "schools" ? [key, name] : [key, name, role];
  }
  if (kind === "schools") {
    return [
      key,
      row,
      { label: C.name, value: (item) => item.fields.short_name || item.fields.name },
      { label: C.municipality, value: (item) => item.fields.municipality },
    ];
  }
  return [
    key,
    row,
    { label: C.full_name, value: (item) => item.fields.full_name },
    { label: C.role, value: (item) => shownValue("role", item.fields.role) },
    { label: C.node, value: (item) => staffNode(item.fields) },
  ];
}

function renderItems(section, items) {
  const columns = columnsOf(section, state.preview.kind);
  const head = el(
    "thead",
    {},
    el(
      "tr",
      {},
      columns.map((c) => el("th", { scope: "col", className: c.className || "", textContent: c.label })),
    ),
  );
  const rows = items.map((item) =>
    el(
      "tr",
      { className: section === "bad" ? "bad" : "" },
      columns.map((c) =>
        el(
          "td",
          { className: c.className || "", dataset: { label: c.label } },
          el("div", {}, c.value(item) ?? "—"),
        ),
      ),
    ),
  );
  if (!rows.length) {
    rows.push(
      el("tr", { className: "empty" }, el("td", { colSpan: columns.length, textContent: T.empty[section] })),
    );
  }
  itemsTable.replaceChildren(head, el("tbody", {}, rows));
  renderPager();
}

// --- applying -----------------------------------------------------------------------------------------

async function applyPreview() {
  const counts = state.preview.counts;
  let text = T.confirmText(counts);
  if (counts.municipalities_add) text += " " + T.confirmMunicipalities(counts.municipalities_add);
  const sure = await confirmDialog({
    title: T.confirmTitle,
    text,
    confirmLabel: T.apply,
    danger: counts.archive > 0,
  });
  if (!sure) return;
  notices.clear();
  applyButton.disabled = true;
  applyButton.textContent = T.applying;
  try {
    const answer = await write("POST", `/api/imports/${state.preview.id}/apply`);
    showResult(answer);
  } catch (exc) {
    await applyRefused(exc);
  } finally {
    applyButton.textContent = T.apply;
    applyButton.disabled = !state.preview || pending(state.preview.counts) === 0;
  }
}

async function applyRefused(exc) {
  if (exc.code === "changed" && exc.body && exc.body.preview) {
    await showPreview(exc.body.preview, state.fileName);
    notices.show(T.changed, "warning");
    return;
  }
  notices.error(exc);
  // Expired, already applied or cut short: this preview is done with; the file is to be uploaded again.
  if (["expired", "applied", "interrupted"].includes(exc.code)) startOver(false);
}

function showResult(answer) {
  state.preview = null;
  previewBox.hidden = true;
  resultBox.hidden = false;
  countList(document.getElementById("result-counts"), answer.applied, T.applied, false);
  document.getElementById("to-registry").hidden = answer.kind !== "schools";
  document.getElementById("to-users").hidden = answer.kind !== "staff";
  notices.show(T.done, "ok");
  document.getElementById("result-title").focus();
}

function startOver(clearNotices = true) {
  if (clearNotices) notices.clear();
  state.preview = null;
  previewBox.hidden = true;
  resultBox.hidden = true;
  form.hidden = false;
  fileInput.value = "";
  fileInput.focus();
}

// --- the current list, to download -----------------------------------------------------------------

/** Return the file name a Content-Disposition gives (its UTF-8 filename* first). */
function fileNameOf(disposition) {
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(disposition || "");
  if (utf8) return decodeURIComponent(utf8[1]);
  const plain = /filename="([^"]+)"/i.exec(disposition || "");
  return plain ? plain[1] : null;
}

async function download(button) {
  const kind = chosenKind();
  const format = button.dataset.format;
  const params = new URLSearchParams({ format });
  const node = chosenNode();
  if (node) params.set(`${node.level}_id`, String(node.id));
  notices.clear();
  button.disabled = true;
  try {
    let response;
    try {
      response = await fetch(`/api/exports/${kind}?${params}`, { credentials: "same-origin" });
    } catch {
      throw new ApiError(0, { message: T.network });
    }
    if (response.status === 401) toLogin();
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new ApiError(response.status, data && data.message ? data : { message: T.unreadable });
    }
    const name = fileNameOf(response.headers.get("Content-Disposition")) || `${kind}.${format}`;
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    notices.show(T.downloaded(name), "ok");
  } catch (exc) {
    notices.error(exc);
  } finally {
    button.disabled = false;
  }
}

// --- wiring ---------------------------------------------------------------------------------------------

function moveTab(event) {
  const tabs = [...tabList.querySelectorAll("[role=tab]")];
  const at = tabs.findIndex((tab) => tab.dataset.section === state.section);
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (to === undefined) return;
  event.preventDefault();
  const tab = tabs[(to + tabs.length) % tabs.length];
  tab.focus();
  openSection(tab.dataset.section, 0);
}

form.addEventListener("submit", upload);
for (const radio of form.querySelectorAll("input[name=kind]")) {
  radio.addEventListener("change", () => {
    nodeSelect.value = "";
    showNodeChoice();
  });
}
for (const button of downloads.querySelectorAll("button[data-format]")) {
  button.addEventListener("click", () => download(button));
}
tabList.addEventListener("keydown", moveTab);
previousButton.addEventListener("click", () => openSection(state.section, Math.max(state.offset - PAGE, 0)));
nextButton.addEventListener("click", () => openSection(state.section, state.offset + PAGE));
applyButton.addEventListener("click", applyPreview);
document.getElementById("discard").addEventListener("click", () => startOver());
document.getElementById("again").addEventListener("click", () => startOver());

downloads.hidden = true;
loadNodes()
  .catch((exc) => notices.error(exc))
  .then(() => state.nodes && showNodeChoice());
