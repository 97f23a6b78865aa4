// The purchase list on the registry page: a CSV or XLSX of purchased panels (serial number and the
// school's OGRN, the room and the name if known) is sent to /api/provisions as it is, and the answer,
// how many were added and updated and which rows were not loaded and why, is shown below the form.
// panels.js wires the form (it is on the page only for those who may upload) and gives its notices.

import { write } from "./api.js";
import { _ } from "./i18n.js";
import { el } from "./ui.js";

const T = {
  field: { serial: _("Серийный номер"), school_ogrn: _("ОГРН школы"), room: _("Кабинет"), name: _("Имя панели") },
  done: (added, updated) => _("Список загружен: добавлено %(added)s, обновлено %(updated)s.", { added, updated }),
  bad: (n) => _("Строк с ошибками (не загружены): %(n)s.", { n }),
  row: (row, field, message) => _("Строка %(row)s, %(field)s: %(message)s", { row, field, message }),
  chooseFile: _("Выберите файл списка."),
};

/** Send the chosen file of the form that `event` submits; show what was loaded, or tell `notices` why not. */
export async function uploadProvisions(event, notices) {
  event.preventDefault();
  const form = event.target;
  const result = document.getElementById("provision-result");
  const file = document.getElementById("provision-file").files[0];
  result.hidden = true;
  if (!file) {
    notices.show(T.chooseFile);
    return;
  }
  const body = new FormData();
  body.append("file", file);
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const data = await write("POST", "/api/provisions", body);
    notices.clear();
    showProvisionResult(result, data);
    form.reset();
  } catch (exc) {
    notices.error(exc);
  } finally {
    submit.disabled = false;
  }
}

function showProvisionResult(result, data) {
  const lines = [el("p", { className: "notice ok", textContent: T.done(data.added, data.updated) })];
  if (data.bad_rows.length) {
    lines.push(el("p", { className: "notice error", textContent: T.bad(data.bad_rows.length) }));
    const items = data.bad_rows.map((row) =>
      el("li", { textContent: T.row(row.row, T.field[row.field] || row.field, row.message) }),
    );
    lines.push(el("ul", { className: "bad-rows" }, items));
  }
  result.replaceChildren(...lines);
  result.hidden = false;
}
