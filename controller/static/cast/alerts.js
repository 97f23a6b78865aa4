// Оповещения: sending an alert to every screen of the sender's scope (school IT: the school,
// municipal staff: the municipality; POST /api/alerts), the active alerts with how many screens
// acknowledged them and which did not yet (GET /api/alerts, then live from Socket.IO `alert` events),
// and clearing one (POST /api/alerts/<id>/clear). Titles and texts are set as text, never as markup.

import { get, write } from "../admin/api.js";
import { confirmDialog } from "../admin/dialogs.js";
import { _ } from "../admin/i18n.js";
import { el } from "../admin/ui.js";
import { personName, reasonText, timeText } from "./values.js";

const T = {
  title: _("Заголовок (необязательно)"),
  text: _("Текст оповещения"),
  level: _("Важность"),
  levels: { info: _("Информация"), warning: _("Внимание"), danger: _("Опасность") },
  send: _("Отправить оповещение"),
  sendTitle: _("Отправить оповещение?"),
  sendText: {
    school: _("Оповещение закроет собой всё, что показывают экраны школы, пока вы его не снимете."),
    municipality: _(
      "Оповещение закроет собой всё, что показывают экраны всех школ муниципалитета, пока вы его не снимете.",
    ),
  },
  sendConfirm: _("Отправить"),
  sent: _("Оповещение отправлено на экраны."),
  needText: _("Напишите текст оповещения."),
  active: _("Действующие оповещения"),
  none: _("Действующих оповещений нет."),
  meta: (when, who) => _("Отправлено в %(when)s, %(who)s", { when, who }),
  scope: (name) => _("Кому: %(name)s", { name }),
  acked: (acked, total) => _("Подтвердили экраны: %(acked)s из %(total)s", { acked, total }),
  missing: (n) => _("Ещё не подтвердили: %(n)s", { n }),
  missingScreen: (name, where) => _("%(name)s (%(where)s)", { name, where }),
  missingWhy: (screen, reason) => _("%(screen)s — %(reason)s", { screen, reason }),
  clear: _("Снять оповещение"),
  clearLabel: (title) => _("Снять оповещение «%(title)s»", { title }),
  clearTitle: _("Снять оповещение?"),
  clearText: _("Экраны вернутся к тому, что показывали до оповещения."),
  cleared: _("Оповещение снято."),
};

const LEVELS = ["info", "warning", "danger"];
const TEXT_MAX = 2000;

export class AlertDesk {
  /** root: the section to fill; scope: "school" or "municipality"; notices: the page's notices. */
  constructor(root, { scope, notices }) {
    Object.assign(this, { scope, notices });
    this.alerts = new Map();
    this.opened = new Map(); // alert id -> whether its «not yet» list is open, kept across updates
    this.list = el("div", { className: "alert-list", attrs: { "aria-live": "polite" } });
    this.none = el("p", { className: "muted", textContent: T.none });
    root.append(this.form(), el("h3", { textContent: T.active }), this.none, this.list);
  }

  form() {
    const title = el("input", { id: "alert-title", maxLength: 200, autocomplete: "off" });
    const text = el("textarea", { id: "alert-text", maxLength: TEXT_MAX, rows: 4, required: true });
    const level = el(
      "select",
      { id: "alert-level" },
      // Selected as the server's own default: a warning.
      LEVELS.map((name) =>
        el("option", { value: name, textContent: T.levels[name], attrs: { selected: name === "warning" } }),
      ),
    );
    const send = el("button", { type: "submit", className: "danger-solid", textContent: T.send });
    const label = (control, text) =>
      el("label", { htmlFor: control.id, className: "field-label", textContent: text });
    const form = el(
      "form",
      { className: "alert-form", noValidate: true },
      el("div", { className: "field" }, label(text, T.text), text),
      el("div", { className: "field" }, label(title, T.title), title),
      el("div", { className: "field" }, label(level, T.level), level),
      send,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!text.value.trim()) {
        this.notices.show(T.needText);
        text.focus();
        return;
      }
      const sure = await confirmDialog({
        title: T.sendTitle,
        text: T.sendText[this.scope] || T.sendText.school,
        confirmLabel: T.sendConfirm,
      });
      if (!sure) return;
      send.disabled = true;
      try {
        const body = { text: text.value, title: title.value.trim(), level: level.value };
        this.update(await write("POST", "/api/alerts", body));
        form.reset();
        this.notices.show(T.sent, "ok");
      } catch (exc) {
        this.notices.error(exc);
      } finally {
        send.disabled = false;
      }
    });
    return form;
  }

  /** Read the active alerts again (on load and after a reconnection). */
  async load() {
    try {
      const { alerts } = await get("/api/alerts");
      this.alerts = new Map(alerts.filter((a) => !a.cleared_at).map((a) => [a.id, a]));
      this.render();
    } catch (exc) {
      this.notices.error(exc);
    }
  }

  /** Take an alert's new state (an answer or an `alert` event): a cleared one leaves the list. */
  update(alert) {
    if (alert.cleared_at) this.alerts.delete(alert.id);
    else this.alerts.set(alert.id, alert);
    this.render();
  }

  render() {
    const alerts = [...this.alerts.values()];
    this.none.hidden = alerts.length > 0;
    this.list.replaceChildren(...alerts.map((alert) => this.card(alert)));
  }

  card(alert) {
    const level = LEVELS.includes(alert.level) ? alert.level : "info";
    const missing = alert.missing || [];
    const clear = el("button", { type: "button", className: "secondary", textContent: T.clear });
    clear.setAttribute("aria-label", T.clearLabel(alert.title || alert.text));
    clear.addEventListener("click", () => this.clear(alert, clear));
    // School IT also sees the municipality's alert on its screens, but only its sender may clear it.
    const ours = !alert.scope || alert.scope.type === this.scope;
    const progress = el("progress", { max: alert.total || 0, value: alert.acked || 0 });
    progress.setAttribute("aria-label", T.acked(alert.acked || 0, alert.total || 0));
    return el(
      "article",
      { className: `alert-card level-${level}`, dataset: { alertId: String(alert.id) } },
      el("p", { className: `tag level-${level}`, textContent: T.levels[level] }),
      alert.title ? el("h4", { className: "alert-title", textContent: alert.title }) : null,
      el("p", { className: "alert-text", textContent: alert.text }),
      el("p", {
        className: "muted",
        textContent: T.meta(timeText(alert.created_at), personName(alert.sender)),
      }),
      alert.scope && alert.scope.name
        ? el("p", { className: "muted", textContent: T.scope(alert.scope.name) })
        : null,
      el("p", { className: "acked", textContent: T.acked(alert.acked || 0, alert.total || 0) }),
      progress,
      missing.length ? this.missingList(alert.id, missing) : null,
      ours ? el("div", { className: "row-buttons" }, clear) : null,
    );
  }

  missingList(alertId, missing) {
    const open = this.opened.has(alertId) ? this.opened.get(alertId) : missing.length <= 5;
    const details = el(
      "details",
      { className: "missing", open },
      el("summary", { textContent: T.missing(missing.length) }),
      el("ul", {}, missing.map(missingScreen)),
    );
    details.addEventListener("toggle", () => this.opened.set(alertId, details.open));
    return details;
  }

  async clear(alert, button) {
    const sure = await confirmDialog({ title: T.clearTitle, text: T.clearText, confirmLabel: T.clear });
    if (!sure) return;
    button.disabled = true;
    try {
      await write("POST", `/api/alerts/${alert.id}/clear`);
      this.alerts.delete(alert.id);
      this.render();
      this.notices.show(T.cleared, "ok");
    } catch (exc) {
      button.disabled = false;
      this.notices.error(exc);
      if (exc.code === "cleared") this.load(); // someone else cleared it meanwhile
    }
  }
}

/** A screen that did not acknowledge yet: its name, where it hangs, and why when it said. */
function missingScreen(panel) {
  const where = [panel.school, panel.room].filter(Boolean).join(", ");
  const name = where ? T.missingScreen(panel.name, where) : panel.name;
  return el("li", { textContent: panel.error ? T.missingWhy(name, reasonText(panel)) : name });
}
