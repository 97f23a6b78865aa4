// The rooms of the teacher's school as cards: what the screens show now, each screen's state (sent,
// shown at what time, failed and why, offline), who has the room, the remote when it is ours and
// «Показать…». A card is built once per room and updated from each snapshot (an API answer or a
// Socket.IO `room` event), so a page open on another phone follows along. Usual rooms and the ones the
// teacher has come first, and the room of their lesson now by the timetable (marked «идёт ваш урок»);
// the rest wait under «Остальные кабинеты».

import { _ } from "../admin/i18n.js";
import { el } from "../admin/ui.js";
import { normNotice } from "./norms.js";
import { Remote } from "./remote.js";
import { kindText, panelStatusText, personName } from "./values.js";

const T = {
  free: _("свободен"),
  mine: _("ведёте вы"),
  owner: (name) => _("ведёт %(name)s", { name }),
  usual: _("ваш кабинет"),
  lessonNow: _("идёт ваш урок"),
  nothing: _("Экраны ничего не показывают."),
  now: _("Сейчас:"),
  page: (page, pages) => _("стр. %(page)s из %(pages)s", { page, pages }),
  pageOnly: (page) => _("стр. %(page)s", { page }),
  paused: _("на паузе"),
  blank: _("чёрный экран"),
  frozen: _("заморожено"),
  lessonSet: (title, index, count) => _("урок «%(title)s», %(index)s из %(count)s", { title, index, count }),
  alert: (title) => _("На экранах оповещение: %(title)s", { title }),
  screens: _("Экраны"),
  noScreens: _("В кабинете нет экранов."),
  show: _("Показать…"),
  showIn: (room) => _("Показать: %(room)s", { room }),
};

/** Return what a room's cast is, in words: kind, page, the lesson set, and whether it is paused. */
export function castDetails(cast) {
  const view = cast.view || {};
  const parts = [kindText(cast.kind)];
  const pages = Number(cast.pages) || 0;
  if (pages > 1) parts.push(T.page((view.page || 0) + 1, pages));
  else if (cast.kind === "html5" && view.page) parts.push(T.pageOnly(view.page + 1));
  if (cast.kind === "video" && view.playing === false) parts.push(T.paused);
  if (view.blank) parts.push(T.blank);
  if (view.frozen) parts.push(T.frozen);
  const set = cast.lesson_set;
  if (set) parts.push(T.lessonSet(set.title, set.index + 1, set.count));
  return parts.filter(Boolean).join(" · ");
}

const NORM_TICK_MS = 10_000; // how often the lesson's screen time is counted on between two readings

class RoomCard {
  constructor(snapshot, { me, onShow, onRoom, notices }) {
    this.me = me;
    const id = snapshot.room_id;
    this.name = el("h3", { id: `room-${id}-name` });
    this.usual = el("span", { className: "tag usual", textContent: T.usual });
    this.lessonNow = el("span", { className: "tag lesson-now", textContent: T.lessonNow, hidden: true });
    this.owner = el("span", { className: "owner" });
    this.alert = el("p", { className: "room-alert", attrs: { role: "status" } });
    this.nowTitle = el("span", { className: "now-title" });
    this.nowDetails = el("span", { className: "now-details" });
    this.now = el(
      "p",
      { className: "now" },
      el("span", { className: "now-label", textContent: T.now }),
      " ",
      this.nowTitle,
      " ",
      this.nowDetails,
    );
    this.nothing = el("p", { className: "now idle muted", textContent: T.nothing });
    this.screens = el("ul", { className: "screens", attrs: { "aria-label": T.screens } });
    this.remote = new Remote(snapshot, { onRoom, notices });
    this.norm = el("p", { className: "norm-notice", hidden: true, attrs: { role: "status" } });
    this.show = el("button", { type: "button", className: "show-here", textContent: T.show });
    this.show.addEventListener("click", () => onShow({ roomIds: [this.snapshot.room_id] }));
    this.node = el(
      "article",
      { className: "room-card", dataset: { roomId: String(id) }, attrs: { "aria-labelledby": this.name.id } },
      el("header", { className: "room-head" }, this.name, this.lessonNow, this.usual, this.owner),
      this.alert,
      this.now,
      this.nothing,
      this.screens,
      this.remote.node,
      this.norm,
      el("div", { className: "room-buttons" }, this.show),
    );
    this.update(snapshot);
  }

  get mine() {
    return Boolean(this.snapshot.owner && this.snapshot.owner.user_id === this.me);
  }

  /** Mark (or unmark) the room as the one of the teacher's lesson in progress. */
  setLesson(on) {
    this.lessonNow.hidden = !on;
    this.node.classList.toggle("lesson-room", on);
  }

  /** Say (or stop saying) that the lesson here is past its screen-time norm. */
  showNorm(text) {
    this.norm.hidden = !text;
    if (text && this.norm.textContent !== text) this.norm.textContent = text;
  }

  update(snapshot) {
    this.snapshot = snapshot;
    this.name.textContent = snapshot.name;
    this.usual.hidden = !snapshot.usual;
    const owner = snapshot.owner;
    this.owner.textContent = !owner ? T.free : this.mine ? T.mine : T.owner(personName(owner));
    this.owner.className = `owner ${!owner ? "free" : this.mine ? "mine" : "taken"}`;
    this.alert.hidden = !snapshot.alert;
    if (snapshot.alert) this.alert.textContent = T.alert(snapshot.alert.title || snapshot.alert.text);
    const cast = snapshot.cast;
    this.now.hidden = !cast;
    this.nothing.hidden = Boolean(cast);
    if (cast) {
      this.nowTitle.textContent = cast.title ? `«${cast.title}»` : "";
      this.nowDetails.textContent = castDetails(cast);
    }
    this.updateScreens(snapshot.panels || []);
    this.remote.update(snapshot, this.mine);
    this.show.setAttribute("aria-label", T.showIn(snapshot.name));
  }

  updateScreens(panels) {
    if (!panels.length) {
      this.screens.replaceChildren(el("li", { className: "muted", textContent: T.noScreens }));
      return;
    }
    this.screens.replaceChildren(
      ...panels.map((panel) => {
        const status = panel.online === false ? "offline" : panel.status;
        return el(
          "li",
          { className: `screen status-${status}`, dataset: { panelId: String(panel.panel_id) } },
          el("span", { className: "screen-name", textContent: panel.name }),
          el("span", { className: "screen-status", textContent: panelStatusText(panel) }),
        );
      }),
    );
  }
}

export class RoomBoard {
  /**
   * main, other: where the cards go (other is inside `otherBox`, a <details>); empty: the «no rooms»
   * line; me: the signed-in user's id; onShow({roomIds}) opens «Показать»; notices: the page's notices.
   */
  constructor({ main, other, otherBox, empty, me, onShow, notices }) {
    Object.assign(this, { main, other, otherBox, empty });
    this.options = { me, onShow, notices, onRoom: (snapshot) => this.update(snapshot) };
    this.order = [];
    this.cards = new Map();
    this.lessonRoom = null;
    this.lessonNorm = null; // {norm, readAt} of the lesson now, from the timetable
    setInterval(() => this.tickNorm(), NORM_TICK_MS);
  }

  /** Take the lesson's screen-time norm as the timetable last gave it (null: none). */
  setLessonNorm(norm, readAt) {
    this.lessonNorm = norm ? { norm, readAt } : null;
    this.tickNorm();
  }

  tickNorm() {
    const lesson = this.lessonNorm;
    for (const [id, card] of this.cards) {
      const here = lesson && id === this.lessonRoom;
      card.showNorm(here ? normNotice(lesson.norm, lesson.readAt) : null);
    }
  }

  /** Mark the room of the teacher's lesson now (null: none), and bring it among the first. */
  setLessonRoom(roomId) {
    if (roomId === this.lessonRoom) return;
    this.lessonRoom = roomId;
    for (const [id, card] of this.cards) card.setLesson(id === roomId);
    this.place();
    this.tickNorm();
  }

  /** Take the whole list (GET /api/cast/rooms): in its order, dropping the rooms no longer in it. */
  setAll(snapshots) {
    const ids = new Set(snapshots.map((s) => s.room_id));
    for (const [id, card] of this.cards) {
      if (!ids.has(id)) {
        card.node.remove();
        this.cards.delete(id);
      }
    }
    this.order = snapshots.map((s) => s.room_id);
    for (const snapshot of snapshots) this.put(snapshot);
    this.place();
  }

  /** Take one room's new snapshot (an answer or a `room` event). */
  update(snapshot) {
    const card = this.cards.get(snapshot.room_id);
    if (!card && !(snapshot.panels || []).length) return; // a room without screens is not listed
    if (!card) this.order.push(snapshot.room_id);
    // «Usual» is the teacher's own: what the school's pages are all sent does not know it.
    this.put(card ? { ...snapshot, usual: card.snapshot.usual } : snapshot);
    this.place();
  }

  put(snapshot) {
    const card = this.cards.get(snapshot.room_id);
    if (card) card.update(snapshot);
    else {
      const made = new RoomCard(snapshot, this.options);
      made.setLesson(snapshot.room_id === this.lessonRoom);
      this.cards.set(snapshot.room_id, made);
    }
  }

  /** Return the rooms' snapshots in the board's order (the «Показать» dialog's targets). */
  snapshots() {
    return this.order.map((id) => this.cards.get(id).snapshot);
  }

  /** Put the cards where they belong, moving only what must move (a moved button loses focus). */
  place() {
    const cards = this.order.map((id) => this.cards.get(id));
    const anyUsual = cards.some((card) => card.snapshot.usual);
    const lesson = (card) => card.snapshot.room_id === this.lessonRoom;
    const first = cards.filter((card) => !anyUsual || card.snapshot.usual || card.mine || lesson(card));
    const rest = cards.filter((card) => !first.includes(card));
    arrange(
      this.main,
      first.map((card) => card.node),
    );
    arrange(
      this.other,
      rest.map((card) => card.node),
    );
    this.otherBox.hidden = rest.length === 0;
    this.empty.hidden = cards.length > 0;
  }
}

function arrange(container, nodes) {
  const same =
    container.children.length === nodes.length && nodes.every((node, i) => container.children[i] === node);
  if (!same) container.replaceChildren(...nodes);
}
