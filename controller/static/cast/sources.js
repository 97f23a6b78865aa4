// The «Показать» dialog's sources as tabs: the school's materials, the main system's library
// (library.js) and the lesson sets as lists whose every row casts with one tap, a new file (uploaded,
// then cast), a link, a text card. Each panel calls `cast(fields)` (or `cast(null, upload)`), or
// `fail(message)` when something is missing; a list's «На моём уроке» calls `toLesson(fields)`, given
// while the teacher has a lesson now in one of the school's rooms.

import { _ } from "../admin/i18n.js";
import { el } from "../admin/ui.js";
import { libraryPanel } from "./library.js";
import { uploadFields } from "./materials.js";
import { pickRow } from "./picks.js";
import { kindText, sizeText } from "./values.js";

const T = {
  what: _("Что показать"),
  tabs: {
    materials: _("Материалы"),
    library: _("Библиотека"),
    file: _("Файл"),
    link: _("Ссылка"),
    text: _("Текст"),
    lessons: _("Уроки"),
  },
  noMaterials: _("Материалов пока нет: загрузите файл на вкладке «Файл»."),
  noLessons: _("Уроков пока нет: соберите урок в разделе «Уроки»."),
  uploadAndShow: _("Загрузить и показать"),
  url: _("Адрес страницы"),
  urlTitle: _("Название (необязательно)"),
  cardTitle: _("Заголовок"),
  cardText: _("Текст"),
  chooseFile: _("Выберите файл."),
  needUrl: _("Вставьте адрес, начинающийся с http:// или https://."),
  needText: _("Напишите текст карточки."),
  show: _("Показать"),
};

const TEXT_MAX = 2000;

/** Return the tabs of the sources, each a panel whose button (or list item) casts. */
export function sourceTabs(id, { materials, lessonSets, cast, fail, toLesson = null }) {
  const list = (entries, emptyText, describe, fieldsOf) =>
    itemList(entries, emptyText, describe, fieldsOf, cast, toLesson);
  const panels = {
    materials: list(
      materials.items,
      T.noMaterials,
      (m) => [m.title, [kindText(m.kind), sizeText(m.size)].join(" · ")],
      (m) => ({ material: m.id }),
    ),
    library: libraryPanel(id, { cast, toLesson }),
    file: filePanel(materials, cast, fail),
    link: linkPanel(id, cast, fail),
    text: textPanel(id, cast, fail),
    lessons: list(
      lessonSets.items,
      T.noLessons,
      (s) => [s.title, s.items.map((item) => item.title).join(", ")],
      (s) => ({ lesson_set: s.id }),
    ),
  };
  const first = materials.items.length ? "materials" : "file"; // nothing to choose yet: upload
  const tabList = el("div", { className: "source-tabs", attrs: { role: "tablist", "aria-label": T.what } });
  const tabs = Object.entries(panels).map(([name, panel]) => {
    panel.id = `${id}-${name}`;
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", `${id}-${name}-tab`);
    panel.hidden = name !== first;
    const tab = el("button", {
      type: "button",
      id: `${id}-${name}-tab`,
      className: "tab",
      textContent: T.tabs[name],
      attrs: {
        role: "tab",
        "aria-controls": panel.id,
        "aria-selected": String(name === first),
        tabindex: name === first ? "0" : "-1",
      },
    });
    return { tab, panel };
  });
  const select = (chosen) => {
    for (const { tab, panel } of tabs) {
      const on = tab === chosen;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      panel.hidden = !on;
    }
    chosen.focus();
  };
  tabs.forEach(({ tab }, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) select(tabs[(i + step + tabs.length) % tabs.length].tab);
    });
    tabList.append(tab);
  });
  return el(
    "div",
    { className: "sources" },
    tabList,
    tabs.map((t) => t.panel),
  );
}

/** A list whose every row is one big button: tapping it casts that entry (or «На моём уроке»). */
function itemList(entries, emptyText, describe, fieldsOf, cast, toLesson) {
  if (!entries.length) return el("div", {}, el("p", { className: "muted", textContent: emptyText }));
  return el(
    "div",
    {},
    el(
      "ul",
      { className: "pick-list" },
      entries.map((entry) => {
        const [title, details] = describe(entry);
        const fields = fieldsOf(entry);
        return pickRow(title, details, () => cast(fields), toLesson && (() => toLesson(fields)));
      }),
    ),
  );
}

function filePanel(materials, cast, fail) {
  const fields = uploadFields(materials);
  const send = el("button", { type: "button", textContent: T.uploadAndShow });
  let uploaded = null; // {file, id}: a cast that failed after the upload is tried again without it
  const upload = async (file) => {
    if (!uploaded || uploaded.file !== file) {
      uploaded = { file, id: (await materials.upload(file, fields.title.value)).id };
    }
    return { material: uploaded.id };
  };
  send.addEventListener("click", () => {
    const file = fields.file.files[0];
    if (!file) return fail(T.chooseFile);
    cast(null, () => upload(file));
  });
  return el("div", { className: "upload-form" }, ...fields.nodes, send);
}

function linkPanel(id, cast, fail) {
  const url = el("input", {
    id: `${id}-url`,
    type: "url",
    inputMode: "url",
    placeholder: "https://…",
    autocomplete: "off",
  });
  const title = el("input", { id: `${id}-url-title`, maxLength: 200, autocomplete: "off" });
  const send = el("button", { type: "button", textContent: T.show });
  send.addEventListener("click", () => {
    const address = url.value.trim();
    if (!/^https?:\/\/\S+$/i.test(address)) return fail(T.needUrl);
    cast({ url: address, title: title.value.trim() || address });
  });
  return el("div", {}, field(url, T.url), field(title, T.urlTitle), send);
}

function textPanel(id, cast, fail) {
  const title = el("input", { id: `${id}-card-title`, maxLength: 200, autocomplete: "off" });
  const text = el("textarea", { id: `${id}-card-text`, maxLength: TEXT_MAX, rows: 5 });
  const send = el("button", { type: "button", textContent: T.show });
  send.addEventListener("click", () => {
    if (!text.value.trim()) return fail(T.needText);
    cast({ text: text.value, title: title.value.trim() });
  });
  return el("div", {}, field(title, T.cardTitle), field(text, T.cardText), send);
}

function field(control, label) {
  return el(
    "div",
    { className: "field" },
    el("label", { htmlFor: control.id, className: "field-label", textContent: label }),
    control,
  );
}
