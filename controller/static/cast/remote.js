// The remote of a room the teacher has: previous and next page, page N of M, play and pause (video),
// a blank screen, freeze, stop. Each button is one POST (/api/rooms/<id>/control or /stop); the
// room's new snapshot in the answer goes to the board at once, and every other page open on the room
// gets the same snapshot by Socket.IO. The controls are built once and only updated afterwards, so a
// button keeps its focus while the room changes under it.

import { write } from "../admin/api.js";
import { _ } from "../admin/i18n.js";
import { el } from "../admin/ui.js";
import { reasonText } from "./values.js";

const T = {
  remote: (room) => _("Пульт: %(room)s", { room }),
  prev: _("Назад"),
  next: _("Вперёд"),
  prevLabel: _("Назад, предыдущая страница"),
  nextLabel: _("Вперёд, следующая страница"),
  page: _("Страница"),
  of: (pages) => _("из %(pages)s", { pages }),
  play: _("Продолжить видео"),
  pause: _("Пауза"),
  blank: _("Чёрный экран"),
  unblank: _("Вернуть изображение"),
  freeze: _("Заморозить"),
  unfreeze: _("Разморозить"),
  stop: _("Остановить показ"),
  setPosition: (title, index, count) =>
    _("Урок «%(title)s»: материал %(index)s из %(count)s", { title, index, count }),
  screenFailed: (panel, reason) => _("%(panel)s: %(reason)s", { panel, reason }),
};

const PAGED = new Set(["pdf", "html5"]);

export class Remote {
  /** `onRoom(snapshot)` takes the room's snapshot from each answer; `notices` tells what went wrong. */
  constructor(snapshot, { onRoom, notices }) {
    this.roomId = snapshot.room_id;
    this.onRoom = onRoom;
    this.notices = notices;
    this.busy = false;
    this.view = null;
    const button = (text, className, action) => {
      const node = el("button", { type: "button", className, textContent: text });
      node.addEventListener("click", () => action());
      return node;
    };
    this.prev = button(T.prev, "remote-prev", () => this.control("prev"));
    this.prev.setAttribute("aria-label", T.prevLabel);
    this.next = button(T.next, "remote-next", () => this.control("next"));
    this.next.setAttribute("aria-label", T.nextLabel);
    this.pageChoice = el("select", { className: "remote-page", id: `room-${this.roomId}-page` });
    this.pageChoice.addEventListener("change", () =>
      this.control("goto", { page: Number(this.pageChoice.value) }),
    );
    this.pageTotal = el("span", { className: "remote-pages" });
    this.pageLabel = el(
      "div",
      { className: "page-of" },
      el("label", { htmlFor: this.pageChoice.id, textContent: T.page }),
      this.pageChoice,
      this.pageTotal,
    );
    this.pager = el("div", { className: "remote-pager" }, this.prev, this.pageLabel, this.next);
    this.setPosition = el("p", { className: "set-position", attrs: { "aria-live": "polite" } });
    this.play = button(T.pause, "remote-play", () => this.control(this.view.playing ? "pause" : "play"));
    this.blank = button(T.blank, "remote-blank", () => this.control(this.view.blank ? "unblank" : "blank"));
    this.freeze = button(T.freeze, "remote-freeze", () =>
      this.control(this.view.frozen ? "unfreeze" : "freeze"),
    );
    this.stop = button(T.stop, "remote-stop danger", () => this.send(`/api/rooms/${this.roomId}/stop`, {}));
    this.node = el(
      "div",
      { className: "remote", attrs: { role: "group", "aria-label": T.remote(snapshot.name) } },
      this.pager,
      this.setPosition,
      el("div", { className: "remote-buttons" }, this.play, this.blank, this.freeze, this.stop),
    );
  }

  /** Show the controls that fit what the room shows now; hide them all when it is not ours. */
  update(snapshot, mine) {
    const cast = snapshot.cast;
    this.node.hidden = !(mine && cast);
    if (this.node.hidden) return;
    const view = { page: 0, playing: true, blank: false, frozen: false, ...(cast.view || {}) };
    this.view = view;
    const set = cast.lesson_set;
    const pages = Number(cast.pages) || 0;
    this.pager.hidden = !(PAGED.has(cast.kind) || set);
    this.prev.dataset.enabled = String(view.page > 0 || (set && set.index > 0));
    this.next.dataset.enabled = String(
      !pages || view.page < pages - 1 || Boolean(set && set.index < set.count - 1),
    );
    this.pageLabel.hidden = pages < 2;
    if (pages >= 2) this.fillPages(pages, view.page);
    this.setPosition.hidden = !set;
    if (set) this.setPosition.textContent = T.setPosition(set.title, set.index + 1, set.count);
    this.play.hidden = cast.kind !== "video";
    this.play.textContent = view.playing ? T.pause : T.play;
    this.blank.textContent = view.blank ? T.unblank : T.blank;
    this.blank.classList.toggle("active", view.blank);
    this.freeze.textContent = view.frozen ? T.unfreeze : T.freeze;
    this.freeze.classList.toggle("active", view.frozen);
    this.applyBusy();
  }

  fillPages(pages, page) {
    if (this.pageChoice.options.length !== pages) {
      this.pageChoice.replaceChildren(
        ...Array.from({ length: pages }, (_unused, n) =>
          el("option", { value: String(n), textContent: String(n + 1) }),
        ),
      );
    }
    this.pageChoice.value = String(page);
    this.pageTotal.textContent = T.of(pages);
  }

  applyBusy() {
    this.node.setAttribute("aria-busy", String(this.busy));
    for (const node of [this.play, this.blank, this.freeze, this.stop, this.pageChoice])
      node.disabled = this.busy;
    this.prev.disabled = this.busy || this.prev.dataset.enabled !== "true";
    this.next.disabled = this.busy || this.next.dataset.enabled !== "true";
  }

  control(action, extra = {}) {
    return this.send(`/api/rooms/${this.roomId}/control`, { action, ...extra });
  }

  /** POST one action; give the room's new snapshot to the board and tell which screens failed. */
  async send(path, body) {
    if (this.busy) return;
    this.busy = true;
    this.applyBusy();
    try {
      const answer = await write("POST", path, body);
      const names = new Map(((answer.room && answer.room.panels) || []).map((p) => [p.panel_id, p.name]));
      const failed = (answer.answers || []).filter((a) => !a.ok);
      if (failed.length) {
        const text = (a) => T.screenFailed(a.panel || names.get(a.panel_id) || a.panel_id, reasonText(a));
        this.notices.show(failed.map(text).join("; "));
      }
      this.busy = false;
      if (answer.room) this.onRoom(answer.room);
    } catch (exc) {
      this.notices.error(exc);
    } finally {
      this.busy = false;
      this.applyBusy();
    }
  }
}
