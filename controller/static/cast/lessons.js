// Уроки: the teacher's lesson sets (GET/POST/PUT/DELETE /api/lesson-sets) — an ordered list of
// materials and links shown one after another and paged through from the remote. The section lists
// them («Показать…», «Изменить», «Удалить»); the editor is a dialog with the title and the items,
// each moved up or down or taken out, and the materials and links to add.

import { get, write } from "../admin/api.js";
import { confirmDialog } from "../admin/dialogs.js";
import { _ } from "../admin/i18n.js";
import { el } from "../admin/ui.js";
import { kindText } from "./values.js";

const T = {
  none: _("Уроков пока нет. Соберите урок из материалов и ссылок, чтобы показывать его по порядку."),
  items: (n) => _("Материалов: %(n)s", { n }),
  show: _("Показать…"),
  showSet: (title) => _("Показать урок «%(title)s»", { title }),
  edit: _("Изменить"),
  editSet: (title) => _("Изменить урок «%(title)s»", { title }),
  remove: _("Удалить"),
  removeSet: (title) => _("Удалить урок «%(title)s»", { title }),
  removeTitle: _("Удалить урок?"),
  removeText: (title) => _("Урок «%(title)s» будет удалён. Материалы останутся.", { title }),
  removed: (title) => _("Урок «%(title)s» удалён.", { title }),
  saved: (title) => _("Урок «%(title)s» сохранён.", { title }),
  newSet: _("Новый урок"),
  editTitle: _("Изменить урок"),
  title: _("Название урока"),
  order: _("Материалы урока по порядку"),
  empty: _("Добавьте материалы и ссылки ниже."),
  up: (title) => _("Выше: %(title)s", { title }),
  down: (title) => _("Ниже: %(title)s", { title }),
  out: (title) => _("Убрать: %(title)s", { title }),
  addMaterial: _("Материал"),
  add: _("Добавить"),
  noMaterials: _("Загрузите материалы в разделе «Материалы»."),
  url: _("Ссылка"),
  urlTitle: _("Название ссылки"),
  addLink: _("Добавить ссылку"),
  link: _("ссылка"),
  save: _("Сохранить"),
  cancel: _("Отмена"),
  needTitle: _("Назовите урок."),
  needItems: _("Добавьте в урок хотя бы один материал или ссылку."),
  needUrl: _("Вставьте адрес, начинающийся с http:// или https://."),
};

export class LessonSets {
  constructor() {
    this.items = [];
  }

  async load() {
    this.items = (await get("/api/lesson-sets")).lesson_sets || [];
  }
}

/** The page's «Уроки» section; `onShow({source, sourceTitle})` opens «Показать» for a set. */
export class LessonsSection {
  constructor(root, { lessonSets, materials, notices, onShow }) {
    Object.assign(this, { lessonSets, materials, notices, onShow });
    this.list = el("ul", { className: "lesson-list" });
    this.none = el("p", { className: "muted", textContent: T.none });
    const create = el("button", { type: "button", className: "secondary", textContent: T.newSet });
    create.addEventListener("click", () => this.edit(null));
    root.append(this.none, this.list, el("div", { className: "section-buttons" }, create));
  }

  render() {
    const sets = this.lessonSets.items;
    this.none.hidden = sets.length > 0;
    this.list.replaceChildren(...sets.map((set) => this.row(set)));
  }

  row(set) {
    const button = (text, label, className, action) => {
      const node = el("button", { type: "button", className, textContent: text });
      node.setAttribute("aria-label", label);
      node.addEventListener("click", action);
      return node;
    };
    return el(
      "li",
      { className: "lesson", dataset: { lessonSetId: String(set.id) } },
      el("span", { className: "lesson-title", textContent: set.title }),
      el("span", { className: "muted", textContent: T.items(set.items.length) }),
      el(
        "div",
        { className: "row-buttons" },
        button(T.show, T.showSet(set.title), "", () =>
          this.onShow({ source: { lesson_set: set.id }, sourceTitle: set.title }),
        ),
        button(T.edit, T.editSet(set.title), "secondary", () => this.edit(set)),
        button(T.remove, T.removeSet(set.title), "danger", () => this.remove(set)),
      ),
    );
  }

  async reload() {
    try {
      await this.lessonSets.load();
    } catch (exc) {
      this.notices.error(exc);
    }
    this.render();
  }

  async remove(set) {
    const sure = await confirmDialog({
      title: T.removeTitle,
      text: T.removeText(set.title),
      confirmLabel: T.remove,
    });
    if (!sure) return;
    try {
      await write("DELETE", `/api/lesson-sets/${set.id}`);
      this.notices.show(T.removed(set.title), "ok");
    } catch (exc) {
      this.notices.error(exc);
    }
    await this.reload();
  }

  async edit(set) {
    const saved = await editLessonSet(set, this.materials);
    if (!saved) return;
    this.notices.show(T.saved(saved.title), "ok");
    await this.reload();
  }
}

/** Open the editor of `set` (null: a new one); resolve with the saved set, or null when cancelled. */
function editLessonSet(set, materials) {
  return new Promise((resolve) => {
    const items = (set ? set.items : []).map((item) => ({ ...item }));
    const dialog = el("dialog", {
      className: "cast-dialog",
      attrs: { "aria-labelledby": "lesson-editor-title" },
    });
    const title = el("input", {
      id: "lesson-title",
      maxLength: 200,
      value: set ? set.title : "",
      required: true,
    });
    const list = el("ol", { className: "lesson-items" });
    const error = el("p", {
      className: "notice error",
      hidden: true,
      tabIndex: -1,
      attrs: { role: "alert" },
    });
    const fail = (message) => {
      error.textContent = message;
      error.hidden = false;
      error.focus();
    };
    const render = () => {
      list.replaceChildren(...items.map((item, i) => itemRow(item, i, items, render)));
      if (!items.length) list.append(el("li", { className: "muted", textContent: T.empty }));
    };
    const save = el("button", { type: "submit", textContent: T.save });
    const cancel = el("button", { type: "button", className: "secondary", textContent: T.cancel });
    const form = el(
      "form",
      { noValidate: true, className: "lesson-editor" },
      error,
      el("label", { htmlFor: title.id, className: "field-label", textContent: T.title }),
      title,
      el("h3", { textContent: T.order }),
      list,
      addMaterialRow(materials, items, render),
      addLinkRow(items, render, fail),
      el("div", { className: "dialog-buttons" }, save, cancel),
    );
    dialog.append(el("h2", { id: "lesson-editor-title", textContent: set ? T.editTitle : T.newSet }), form);
    document.body.append(dialog);
    let result = null;
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      if (!title.value.trim()) return fail(T.needTitle);
      if (!items.length) return fail(T.needItems);
      const body = {
        title: title.value.trim(),
        items: items.map((item) =>
          item.material ? { material: item.material } : { url: item.url, title: item.title },
        ),
      };
      save.disabled = true;
      try {
        result = set
          ? await write("PUT", `/api/lesson-sets/${set.id}`, body)
          : await write("POST", "/api/lesson-sets", body);
        result = { ...body, ...result };
        dialog.close();
      } catch (exc) {
        fail([exc.message, ...Object.values(exc.fields || {})].join(" "));
      } finally {
        save.disabled = false;
      }
    });
    render();
    dialog.showModal();
  });
}

function itemRow(item, i, items, render) {
  const move = (text, label, to) => {
    const node = el("button", { type: "button", className: "small secondary", textContent: text });
    node.setAttribute("aria-label", label);
    node.disabled = to < 0 || to >= items.length;
    node.addEventListener("click", () => {
      if (to === null) items.splice(i, 1);
      else [items[i], items[to]] = [items[to], items[i]];
      render();
    });
    return node;
  };
  const name = item.title || item.url;
  return el(
    "li",
    { className: "lesson-item" },
    el("span", { className: "lesson-item-title", textContent: name }),
    el("span", { className: "muted", textContent: item.url ? T.link : kindText(item.kind) }),
    el(
      "div",
      { className: "row-buttons" },
      move("↑", T.up(name), i - 1),
      move("↓", T.down(name), i + 1),
      move("✕", T.out(name), null),
    ),
  );
}

function addMaterialRow(materials, items, render) {
  if (!materials.items.length) return el("p", { className: "hint", textContent: T.noMaterials });
  const choice = el(
    "select",
    { id: "lesson-add-material" },
    materials.items.map((m) =>
      el("option", { value: String(m.id), textContent: `${m.title} (${kindText(m.kind)})` }),
    ),
  );
  const add = el("button", { type: "button", className: "secondary", textContent: T.add });
  add.addEventListener("click", () => {
    const material = materials.items.find((m) => String(m.id) === choice.value);
    items.push({ material: material.id, title: material.title, kind: material.kind });
    render();
  });
  return el(
    "div",
    { className: "add-row" },
    el("label", { htmlFor: choice.id, className: "field-label", textContent: T.addMaterial }),
    el("div", { className: "inline-fields" }, choice, add),
  );
}

function addLinkRow(items, render, fail) {
  const url = el("input", { id: "lesson-add-url", type: "url", inputMode: "url", placeholder: "https://…" });
  const title = el("input", { id: "lesson-add-url-title", maxLength: 200 });
  const add = el("button", { type: "button", className: "secondary", textContent: T.addLink });
  add.addEventListener("click", () => {
    const address = url.value.trim();
    if (!/^https?:\/\/\S+$/i.test(address)) return fail(T.needUrl);
    items.push({ url: address, title: title.value.trim() || address, kind: "page" });
    url.value = "";
    title.value = "";
    render();
  });
  return el(
    "div",
    { className: "add-row" },
    el("label", { htmlFor: url.id, className: "field-label", textContent: T.url }),
    url,
    el("label", { htmlFor: title.id, className: "field-label", textContent: T.urlTitle }),
    title,
    add,
  );
}
