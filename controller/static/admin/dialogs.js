// The staff pages' dialogs: a form whose fields show the API's errors beside them, a confirmation,
// and a dialog that only shows something. Native <dialog>: modal, focus kept inside, Esc closes.

import { _ } from "./i18n.js";
import { el, fillSelect } from "./ui.js";

const T = {
  save: _("Сохранить"),
  cancel: _("Отмена"),
  close: _("Закрыть"),
  formFailed: _("Не удалось сохранить. Проверьте поля формы."),
};

let dialogCount = 0;

function dialogShell(titleText) {
  dialogCount += 1;
  const titleId = `dialog-title-${dialogCount}`;
  const dialog = el("dialog", { className: "panel-dialog", attrs: { "aria-labelledby": titleId } });
  dialog.append(el("h2", { id: titleId, textContent: titleText }));
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  return dialog;
}

function fieldControl(field, id, value) {
  const attrs = {
    id,
    name: field.name,
    "aria-describedby": `${id}-error` + (field.hint ? ` ${id}-hint` : ""),
    required: field.required ? "" : null,
    maxlength: field.maxlength || null,
    inputmode: field.inputmode || null,
    autocomplete: field.autocomplete || "off",
  };
  if (field.type === "select") {
    const select = el("select", { attrs });
    fillSelect(select, field.options || [], value);
    return select;
  }
  return el("input", { type: field.type || "text", value: value ?? "", attrs });
}

/**
 * Open a form dialog; resolve with what `submit(values)` returned, or null when cancelled.
 * fields: [{name, label, type ('text', 'email', 'select'), options, required, hint, maxlength}].
 * `submit` may throw an ApiError: its `fields` are shown beside the fields, anything else above them.
 * `setup(form)` may wire fields together (a role choice that changes the node choices).
 */
export function formDialog({ title, fields, values = {}, submitLabel = T.save, submit, setup }) {
  return new Promise((resolve) => {
    const dialog = dialogShell(title);
    const form = el("form", { noValidate: true, className: "dialog-form" });
    const general = el("p", {
      className: "notice error",
      hidden: true,
      tabIndex: -1,
      attrs: { role: "alert" },
    });
    form.append(general);
    const errors = {};
    for (const field of fields) {
      const id = `field-${dialogCount}-${field.name}`;
      const label = el("label", { htmlFor: id, className: "field-label" }, field.label);
      if (field.required)
        label.append(
          el("span", { className: "required", textContent: " *", attrs: { "aria-hidden": "true" } }),
        );
      const control = fieldControl(field, id, values[field.name]);
      const hint = field.hint
        ? el("p", { id: `${id}-hint`, className: "hint", textContent: field.hint })
        : null;
      errors[field.name] = el("p", { id: `${id}-error`, className: "field-error", hidden: true });
      form.append(
        el(
          "div",
          { className: "field", dataset: { field: field.name } },
          label,
          control,
          hint,
          errors[field.name],
        ),
      );
    }
    const save = el("button", { type: "submit", textContent: submitLabel });
    const cancel = el("button", { type: "button", className: "secondary", textContent: T.cancel });
    form.append(el("div", { className: "dialog-buttons" }, save, cancel));
    dialog.append(form);
    let result = null;
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => resolve(result));
    if (setup) setup(form);

    const showErrors = (exc) => {
      const unplaced = [];
      for (const [name, message] of Object.entries(exc.fields || {})) {
        if (errors[name]) {
          errors[name].textContent = message;
          errors[name].hidden = false;
          form.elements[name].setAttribute("aria-invalid", "true");
        } else {
          unplaced.push(message);
        }
      }
      general.textContent = [exc.message || T.formFailed, ...unplaced].join(" ");
      general.hidden = false;
      const firstBad = form.querySelector("[aria-invalid=true]");
      (firstBad || general).focus();
    };

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      general.hidden = true;
      for (const [name, node] of Object.entries(errors)) {
        node.hidden = true;
        form.elements[name].removeAttribute("aria-invalid");
      }
      const data = {};
      for (const field of fields) data[field.name] = form.elements[field.name].value;
      save.disabled = true;
      try {
        result = await submit(data);
        dialog.close();
      } catch (exc) {
        showErrors(exc);
      } finally {
        save.disabled = false;
      }
    });
    dialog.showModal();
  });
}

/** Ask a yes-or-no question in a dialog; resolve with true when confirmed. */
export function confirmDialog({ title, text, confirmLabel, danger = true }) {
  return new Promise((resolve) => {
    const dialog = dialogShell(title);
    const form = el("form", { method: "dialog" });
    const yes = el("button", { value: "yes", textContent: confirmLabel, className: danger ? "danger" : "" });
    const no = el("button", { value: "no", textContent: T.cancel, className: "secondary" });
    form.append(el("p", { textContent: text }), el("div", { className: "dialog-buttons" }, yes, no));
    dialog.append(form);
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"));
    dialog.showModal();
    no.focus();
  });
}

/** Open a dialog that only shows `content` (nodes) and a close button; resolve when it is closed. */
export function infoDialog({ title, content, closeLabel = T.close }) {
  return new Promise((resolve) => {
    const dialog = dialogShell(title);
    const form = el("form", { method: "dialog" });
    form.append(
      ...content,
      el("div", { className: "dialog-buttons" }, el("button", { value: "ok", textContent: closeLabel })),
    );
    dialog.append(form);
    dialog.addEventListener("close", () => resolve());
    dialog.showModal();
  });
}
