// «Расписание»: the teacher's lessons today from the main system's journal (GET /api/journal/today,
// through the controller): the lesson now and the next one, read again every minute and whenever the
// page comes back into view. The lesson now with a room of the school is what «Показать на моём
// уроке» casts to (`current_lesson: true`); when the journal is down or not set up its message is
// shown quietly in the strip and the rest of the page works as before.

import { get } from "../admin/api.js";
import { _ } from "../admin/i18n.js";
import { el } from "../admin/ui.js";

const T = {
  now: _("Сейчас"),
  next: _("Далее"),
  number: (n) => _("%(n)s-й урок", { n }),
  room: (room) => _("кабинет %(room)s", { room }),
  noneNow: _("Сейчас урока нет."),
  noneNext: _("Больше уроков сегодня нет."),
  noneToday: _("Сегодня уроков по расписанию нет."),
  unknownRoom: _(
    "Этого кабинета нет среди кабинетов школы в ClassCast: показать на уроке одним нажатием нельзя.",
  ),
  toLesson: _("Показать на моём уроке…"),
  loading: _("Загружаем расписание…"),
};

const REFRESH_MS = 60_000;
const AGAIN_AFTER_MS = 10_000; // a focus soon after a reading does not read again

/** Today's timetable as the page knows it; listeners hear each new reading. */
export class Journal {
  constructor() {
    this.today = null;
    this.error = null;
    this.readAt = 0;
    this.listeners = [];
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  async load() {
    this.readAt = Date.now();
    try {
      this.today = await get("/api/journal/today");
      this.error = null;
    } catch (exc) {
      this.today = null;
      this.error = exc.message;
    }
    for (const listener of this.listeners) listener();
  }

  /** Return the lesson in progress when it is in one of the school's rooms (what one tap casts to). */
  lessonNow() {
    const now = this.today && this.today.now;
    return now && now.room_id !== null && now.room_id !== undefined ? now : null;
  }

  /** Read again every minute, and when the page is looked at again after a while. */
  keepCurrent() {
    setInterval(() => this.load(), REFRESH_MS);
    const again = () => {
      if (document.visibilityState === "visible" && Date.now() - this.readAt > AGAIN_AFTER_MS) this.load();
    };
    window.addEventListener("focus", again);
    document.addEventListener("visibilitychange", again);
  }
}

/** Return a lesson in words: «2-й урок · 09:20–10:00», «5А · Математика · кабинет 101», its topic. */
export function lessonParts(lesson) {
  const when = [lesson.number ? T.number(lesson.number) : "", `${lesson.start}–${lesson.end}`];
  const what = [lesson.class, lesson.subject, lesson.room ? T.room(lesson.room) : ""];
  return {
    when: when.filter(Boolean).join(" · "),
    what: what.filter(Boolean).join(" · "),
    topic: lesson.topic ? `«${lesson.topic}»` : "",
  };
}

/** The strip at the top of the page; `onShow({currentLesson: true})` opens «Показать» for the lesson. */
export class TimetableStrip {
  constructor(root, { journal, onShow }) {
    this.journal = journal;
    this.now = el("div", { className: "timetable-row now-lesson" });
    this.next = el("div", { className: "timetable-row next-lesson" });
    this.message = el("p", { className: "timetable-message muted", textContent: T.loading });
    this.toLesson = el("button", { type: "button", className: "to-lesson", textContent: T.toLesson });
    this.toLesson.addEventListener("click", () => onShow({ currentLesson: true }));
    root.append(this.message, this.now, this.next, this.toLesson);
    root.setAttribute("aria-busy", "true");
    journal.onChange(() => {
      root.setAttribute("aria-busy", "false");
      this.render();
    });
    this.render();
  }

  render() {
    const { today, error } = this.journal;
    const lessons = today ? today.lessons || [] : [];
    this.message.hidden = lessons.length > 0;
    if (error) this.message.textContent = error;
    else if (today) this.message.textContent = T.noneToday;
    this.now.hidden = this.next.hidden = !lessons.length;
    this.toLesson.hidden = !this.journal.lessonNow();
    if (!lessons.length) return;
    this.now.replaceChildren(...row(T.now, today.now, T.noneNow));
    if (today.now && !this.journal.lessonNow()) {
      this.now.append(el("p", { className: "hint", textContent: T.unknownRoom }));
    }
    this.next.replaceChildren(...row(T.next, today.next, T.noneNext));
  }
}

function row(label, lesson, none) {
  const head = el("span", { className: "timetable-label", textContent: label });
  if (!lesson) return [head, el("span", { className: "muted", textContent: none })];
  const parts = lessonParts(lesson);
  return [
    head,
    el("span", { className: "lesson-when", textContent: parts.when }),
    el("span", { className: "lesson-what", textContent: parts.what }),
    parts.topic ? el("span", { className: "lesson-topic", textContent: parts.topic }) : null,
  ].filter(Boolean);
}
