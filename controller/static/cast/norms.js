// The screen-time norm of the lesson in progress (SanPiN 1.2.3685-21), as GET /api/journal/today
// gives it for `now`: the seconds of screen work in the lesson so far (`used_s`), whether the room's
// cast goes on (`running`) and the minutes a lesson allows for its grades. Between two readings of the
// timetable the page counts on by itself while the cast goes on; past the norm the remote of the
// lesson's room says so, gently: it is advice for the teacher, nothing is stopped.

import { _ } from "../admin/i18n.js";

const T = {
  over: (used, grades, limit) =>
    _(
      "Экран на этом уроке работает уже %(used)s мин, а по СанПиН для %(grades)s кл. — не больше %(limit)s мин за урок. Можно дать глазам отдохнуть: «Чёрный экран» на пульте.",
      { used, grades, limit },
    ),
};

/** Return the seconds of screen work in the lesson now: as read, plus the time since if it goes on. */
export function screenSeconds(norm, readAt, now = Date.now()) {
  const since = norm.running ? Math.max(0, (now - readAt) / 1000) : 0;
  return norm.used_s + since;
}

/** Return the notice for the lesson (or null while it is within its norm). */
export function normNotice(norm, readAt, now = Date.now()) {
  if (!norm) return null;
  const used = screenSeconds(norm, readAt, now);
  if (used <= norm.lesson_limit_s) return null;
  const minutes = (seconds) => String(Math.max(1, Math.round(seconds / 60)));
  return T.over(minutes(used), norm.grades, minutes(norm.lesson_limit_s));
}
