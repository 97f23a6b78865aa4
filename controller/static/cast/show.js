// «Показать»: one dialog for every way of casting. Where (one room or several, checkboxes) and what:
// a material of the school (one tap casts it), a new file (uploaded, then cast), a link, a text card,
// a lesson set, an item of the library. While the teacher has a lesson now in one of the school's
// rooms (the journal, timetable.js), «На моём уроке» casts with `current_lesson: true` instead of the
// checked rooms; opened from the timetable, the whole dialog casts to that lesson. POST /api/casts; a
// 409 room_taken asks whether to take the room over and sends again with take_over. The rooms' new
// snapshots in the answer go to the board; each screen that failed is named with its reason.

import { ApiError, write } from "../admin/api.js";
import { confirmDialog } from "../admin/dialogs.js";
import { _ } from "../admin/i18n.js";
import { el } from "../admin/ui.js";
import { sourceTabs } from "./sources.js";
import { lessonParts } from "./timetable.js";
import { personName, reasonText } from "./values.js";

const T = {
  title: _("Показать на экране"),
  where: _("Где показать"),
  lessonNow: (what, when) => _("На вашем уроке: %(what)s (%(when)s)", { what, when }),
  toLesson: _("Показать на моём уроке"),
  mine: _("ведёте вы"),
  taken: (name) => _("ведёт %(name)s", { name }),
  show: _("Показать"),
  cancel: _("Отмена"),
  chosen: (title) => _("Что показать: «%(title)s»", { title }),
  busy: _("Отправляем на экраны…"),
  uploading: _("Загружаем файл…"),
  noRoom: _("Отметьте хотя бы один кабинет."),
  takenTitle: _("Кабинет занят"),
  takenOne: (owner) => _("Кабинет занят: сейчас показывает %(owner)s. Показать всё равно?", { owner }),
  takenRoom: (room, owner) => _("%(room)s: сейчас показывает %(owner)s.", { room, owner }),
  takenMany: _("Показать всё равно?"),
  takeOver: _("Показать всё равно"),
  allShown: (n) => _("Показано на экранах: %(n)s.", { n }),
  noScreens: _("В выбранных кабинетах нет экранов."),
  someFailed: (list) => _("Не показано: %(list)s", { list }),
  screenFailed: (panel, reason) => _("%(panel)s — %(reason)s", { panel, reason }),
};

let openCount = 0;

/**
 * Open the dialog. roomIds: the rooms checked at first; source: a fixed source ({lesson_set: id})
 * with its `sourceTitle`, instead of the choice; currentLesson: cast to the lesson in progress rather
 * than to rooms. board, materials, lessonSets, journal (null for who has no timetable), notices: the page's.
 */
export function openShowDialog(options) {
  new ShowDialog(options).open();
}

class ShowDialog {
  constructor(options) {
    const { board, materials, lessonSets, journal, notices, roomIds = [], source, sourceTitle } = options;
    Object.assign(this, { board, journal, notices });
    const lesson = journal ? journal.lessonNow() : null;
    this.lessonMode = Boolean(options.currentLesson && lesson); // the lesson may have ended meanwhile
    openCount += 1;
    const id = `show-${openCount}`;
    this.dialog = el("dialog", {
      className: "cast-dialog show-dialog",
      attrs: { "aria-labelledby": `${id}-title` },
    });
    this.error = el("p", { className: "notice error", hidden: true, tabIndex: -1, attrs: { role: "alert" } });
    this.status = el("p", { className: "busy muted", attrs: { role: "status" } });
    const rooms = board.snapshots();
    const checked = new Set(roomIds.length ? roomIds : firstTargets(rooms, board, lesson));
    this.targets = this.lessonMode
      ? []
      : rooms.map((room) => roomChoice(room, checked.has(room.room_id), board));
    const cast = (fields, before) => this.cast(fields, before, this.lessonMode);
    const toLesson = lesson && !this.lessonMode ? (fields) => this.cast(fields, null, true) : null;
    const fail = (message) => this.fail(message);
    const what = source
      ? fixedSource(sourceTitle, () => cast(source), toLesson && (() => toLesson(source)))
      : sourceTabs(id, { materials, lessonSets, cast, fail, toLesson });
    this.dialog.append(
      el("h2", { id: `${id}-title`, textContent: T.title }),
      el(
        "form",
        { noValidate: true, className: "show-form", onsubmit: (event) => event.preventDefault() },
        this.lessonMode ? lessonTarget(lesson) : targetChoice(this.targets),
        what,
        this.error,
        this.status,
        el("div", { className: "dialog-buttons" }, closeButton(this.dialog)),
      ),
    );
  }

  open() {
    document.body.append(this.dialog);
    this.dialog.addEventListener("close", () => this.dialog.remove());
    this.dialog.showModal();
  }

  /** Cast `fields` (the source; or what `before()` gives, an upload) to the checked rooms, or to the
   * room of the lesson in progress (`toLesson`). */
  async cast(fields, before, toLesson) {
    this.error.hidden = true;
    const ids = this.targets.filter((t) => t.box.checked).map((t) => t.roomId);
    if (!toLesson && !ids.length) return this.fail(T.noRoom);
    const rooms = ids.length === 1 ? { room_id: ids[0] } : { room_ids: ids };
    const targets = toLesson ? { current_lesson: true } : rooms;
    try {
      if (before) {
        this.setBusy(T.uploading);
        fields = await before();
      }
      this.setBusy(T.busy);
      const answer = await castWithTakeOver({ ...targets, ...fields });
      if (!answer) return this.setBusy(null); // the teacher left the taken room alone
      for (const snapshot of answer.rooms || []) this.board.update(snapshot);
      report(answer.casts || [], this.notices);
      this.dialog.close();
    } catch (exc) {
      this.setBusy(null);
      this.fail(exc.message);
      // No lesson now after all, or not in a room of the school: the timetable has changed.
      if (toLesson && exc instanceof ApiError && exc.status === 409) this.journal?.load();
    }
  }

  setBusy(text) {
    this.status.textContent = text || "";
    for (const node of this.dialog.querySelectorAll("button, input, select, textarea")) {
      node.disabled = Boolean(text);
    }
    this.dialog.setAttribute("aria-busy", String(Boolean(text)));
  }

  fail(message) {
    this.error.textContent = message;
    this.error.hidden = false;
    this.error.focus();
  }
}

function closeButton(dialog) {
  const cancel = el("button", { type: "button", className: "secondary", textContent: T.cancel });
  cancel.addEventListener("click", () => dialog.close());
  return cancel;
}

/** Return the rooms checked when none was named: the teacher's own, else the room of their lesson now,
 * else their only usual one. */
function firstTargets(rooms, board, lesson) {
  const mine = rooms.filter((room) => board.cards.get(room.room_id)?.mine);
  if (mine.length) return mine.map((room) => room.room_id);
  if (lesson && board.cards.has(lesson.room_id)) return [lesson.room_id];
  const usual = rooms.filter((room) => room.usual);
  if (usual.length === 1) return [usual[0].room_id];
  return rooms.length === 1 ? [rooms[0].room_id] : [];
}

function targetChoice(targets) {
  return el(
    "fieldset",
    { className: "targets" },
    el("legend", { textContent: T.where }),
    targets.map((t) => t.node),
  );
}

/** The «where» of a dialog that casts to the lesson in progress: which lesson, which room. */
function lessonTarget(lesson) {
  const parts = lessonParts(lesson);
  return el(
    "div",
    { className: "lesson-target" },
    el("h3", { textContent: T.where }),
    el("p", { textContent: T.lessonNow(parts.what, parts.when) }),
  );
}

function roomChoice(room, checked, board) {
  const box = el("input", { type: "checkbox", checked, value: String(room.room_id) });
  const card = board.cards.get(room.room_id);
  const owner = room.owner ? (card && card.mine ? T.mine : T.taken(personName(room.owner))) : "";
  const node = el(
    "label",
    { className: "check target" },
    box,
    el("span", { textContent: room.name }),
    owner ? el("span", { className: "muted", textContent: ` (${owner})` }) : null,
  );
  return { roomId: room.room_id, box, node };
}

function fixedSource(title, send, toLesson) {
  const button = el("button", { type: "button", className: "primary", textContent: T.show });
  button.addEventListener("click", send);
  const lesson = toLesson
    ? el("button", { type: "button", className: "to-lesson", textContent: T.toLesson })
    : null;
  lesson?.addEventListener("click", toLesson);
  return el(
    "div",
    { className: "fixed-source" },
    el("p", { textContent: T.chosen(title) }),
    el("div", { className: "row-buttons" }, button, lesson),
  );
}

/** POST the cast; when a room is taken, ask and send again with take_over. Return null if declined. */
async function castWithTakeOver(body) {
  try {
    return await write("POST", "/api/casts", body);
  } catch (exc) {
    if (!(exc instanceof ApiError) || exc.status !== 409 || exc.code !== "room_taken") throw exc;
    const taken = (exc.body && exc.body.rooms) || [];
    const text =
      taken.length === 1
        ? T.takenOne(personName(taken[0].owner))
        : [...taken.map((r) => T.takenRoom(r.name, personName(r.owner))), T.takenMany].join(" ");
    const sure = await confirmDialog({ title: T.takenTitle, text, confirmLabel: T.takeOver });
    return sure ? write("POST", "/api/casts", { ...body, take_over: true }) : null;
  }
}

/** Tell how the cast went: how many screens show it, or which failed and why. */
function report(answers, notices) {
  const failed = answers.filter((a) => !a.ok);
  if (!answers.length) notices.show(T.noScreens);
  else if (!failed.length) notices.show(T.allShown(answers.length), "ok");
  else
    notices.show(
      T.someFailed(failed.map((a) => T.screenFailed(a.panel || a.panel_id, reasonText(a))).join("; ")),
    );
}
