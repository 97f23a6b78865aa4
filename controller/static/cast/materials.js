// The school's materials (GET /api/materials) and uploading a new one (POST /api/materials,
// multipart): the store the «Показать» dialog and the lesson editor read, the upload fields both the
// page and the dialog use, and the page's «Материалы» section (upload, and how much of the quota is used).

import { ApiError, get, write } from "../admin/api.js";
import { _ } from "../admin/i18n.js";
import { el } from "../admin/ui.js";
import { sizeText } from "./values.js";

const T = {
  quota: (used, quota) => _("Занято %(used)s из %(quota)s.", { used, quota }),
  count: (n) => _("Материалов в школе: %(n)s.", { n }),
  file: _("Файл для загрузки"),
  fileHint: _("Изображение, видео (MP4, WebM), PDF или интерактивный материал (ZIP)."),
  title: _("Название"),
  titleHint: _("Если не заполнить, возьмём имя файла."),
  upload: _("Загрузить"),
  uploading: _("Загружаем…"),
  uploaded: (title) => _("Материал «%(title)s» загружен.", { title }),
  chooseFile: _("Выберите файл."),
  tooBig: _("Файл слишком большой для сервера."),
};

// What the upload field offers; the server decides what it accepts.
const ACCEPT = "image/*,video/mp4,video/webm,application/pdf,.pdf,application/zip,.zip";

export class Materials {
  constructor() {
    this.items = [];
    this.used = 0;
    this.quota = 0;
    this.listeners = [];
  }

  /** Call `listener()` whenever the list was read again. */
  onChange(listener) {
    this.listeners.push(listener);
  }

  async load() {
    const answer = await get("/api/materials");
    this.items = answer.materials || [];
    this.used = answer.used || 0;
    this.quota = answer.quota || 0;
    for (const listener of this.listeners) listener();
  }

  quotaText() {
    return this.quota ? T.quota(sizeText(this.used), sizeText(this.quota)) : "";
  }

  /** Upload `file` with `title` (the file's name when empty); return the new material. */
  async upload(file, title) {
    const form = new FormData();
    form.append("file", file);
    form.append("title", title.trim() || file.name.replace(/\.[^.]+$/, ""));
    try {
      const material = await write("POST", "/api/materials", form);
      await this.load();
      return material;
    } catch (exc) {
      // A proxy or the server's own size limit may refuse it before our JSON answer is made.
      if (exc instanceof ApiError && exc.status === 413 && !exc.code)
        throw new ApiError(413, { message: T.tooBig });
      throw exc;
    }
  }
}

let fieldCount = 0;

/** Return the upload fields (a file and a title, each labelled): {nodes, file, title, quota}. */
export function uploadFields(materials) {
  fieldCount += 1;
  const id = `upload-${fieldCount}`;
  const file = el("input", {
    type: "file",
    id: `${id}-file`,
    name: "file",
    accept: ACCEPT,
    attrs: { "aria-describedby": `${id}-file-hint` },
  });
  const title = el("input", {
    id: `${id}-title`,
    name: "title",
    maxLength: 200,
    autocomplete: "off",
    attrs: { "aria-describedby": `${id}-title-hint` },
  });
  const quota = el("p", { className: "quota muted", textContent: materials.quotaText() });
  const nodes = [
    el("label", { htmlFor: file.id, className: "field-label", textContent: T.file }),
    file,
    el("p", { id: `${id}-file-hint`, className: "hint", textContent: T.fileHint }),
    el("label", { htmlFor: title.id, className: "field-label", textContent: T.title }),
    title,
    el("p", { id: `${id}-title-hint`, className: "hint", textContent: T.titleHint }),
    quota,
  ];
  return { nodes, file, title, quota };
}

/** The page's «Материалы» section: the upload form, the quota, how many there are. */
export function materialsSection(root, { materials, notices }) {
  const fields = uploadFields(materials);
  const count = el("p", { className: "muted" });
  const submit = el("button", { type: "submit", textContent: T.upload });
  const form = el("form", { className: "upload-form", noValidate: true }, ...fields.nodes, submit);
  root.append(form, count);
  const refresh = () => {
    fields.quota.textContent = materials.quotaText();
    count.textContent = T.count(materials.items.length);
  };
  materials.onChange(refresh);
  refresh();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fields.file.files[0];
    if (!file) {
      notices.show(T.chooseFile);
      fields.file.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = T.uploading;
    try {
      const material = await materials.upload(file, fields.title.value);
      form.reset();
      notices.show(T.uploaded(material.title), "ok");
    } catch (exc) {
      notices.error(exc);
    } finally {
      submit.disabled = false;
      submit.textContent = T.upload;
    }
  });
}
