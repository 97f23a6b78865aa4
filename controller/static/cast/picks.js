// The rows of the «Показать» dialog's lists (materials, lesson sets, library results): each row is one
// big button that casts its entry to the rooms checked above, and, while the teacher has a lesson in
// one of the school's rooms, «На моём уроке» beside it, which casts it there in one tap.

import { _ } from "../admin/i18n.js";
import { el } from "../admin/ui.js";

const T = {
  showItem: (title) => _("Показать «%(title)s»", { title }),
  toLesson: _("На моём уроке"),
  toLessonItem: (title) => _("Показать на моём уроке: «%(title)s»", { title }),
};

/** Return a row: `choose()` on a tap of the entry, `toLesson()` (when given) on «На моём уроке». */
export function pickRow(title, details, choose, toLesson, dataset = {}) {
  const button = el(
    "button",
    { type: "button", className: "pick" },
    el("span", { className: "pick-title", textContent: title }),
    el("span", { className: "pick-details", textContent: details }),
  );
  button.setAttribute("aria-label", T.showItem(title));
  button.addEventListener("click", choose);
  const row = el("li", { className: "pick-row", dataset }, button);
  if (toLesson) {
    const lesson = el("button", { type: "button", className: "to-lesson", textContent: T.toLesson });
    lesson.setAttribute("aria-label", T.toLessonItem(title));
    lesson.addEventListener("click", toLesson);
    row.append(lesson);
  }
  return row;
}
