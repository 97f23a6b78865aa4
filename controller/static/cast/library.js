// «Библиотека», a source tab of «Показать»: the main system's library of verified lessons, searched
// through the controller (GET /api/library/search) as the teacher types (or at once on Enter). Each
// result casts with one tap (`{"library": id}`), or to the lesson in progress. When the library is out
// of reach the controller answers from what it has seen before and says so; the page shows that.

import { get } from "../admin/api.js";
import { _ } from "../admin/i18n.js";
import { el } from "../admin/ui.js";
import { pickRow } from "./picks.js";
import { kindText } from "./values.js";

const T = {
  search: _("Найти в библиотеке"),
  hint: _("Тема, предмет или слово из описания: например, «дроби»."),
  searching: _("Ищем…"),
  nothing: _("Ничего не нашлось. Попробуйте другие слова."),
  found: (n) => _("Найдено: %(n)s.", { n }),
  grades: (grades) => _("%(grades)s кл.", { grades }),
  more: _("Показать ещё"),
};

const TYPING_MS = 350; // how long typing must pause before a search is sent
const PAGE_SIZE = 20;

/** Return the library's tab: the search box, the notice of the local index, the results, «ещё». */
export function libraryPanel(id, { cast, toLesson }) {
  const input = el("input", {
    id: `${id}-library-q`,
    type: "search",
    enterKeyHint: "search",
    autocomplete: "off",
    maxLength: 200,
    attrs: { "aria-describedby": `${id}-library-hint` },
  });
  const notice = el("p", { className: "notice warning library-notice", hidden: true });
  const status = el("p", { className: "muted library-status", attrs: { role: "status" } });
  const list = el("ul", { className: "pick-list library-results" });
  const more = el("button", { type: "button", className: "secondary", textContent: T.more, hidden: true });
  const search = new Search({ notice, status, list, more, cast, toLesson });
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => search.start(input.value), TYPING_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    clearTimeout(timer);
    search.start(input.value);
  });
  more.addEventListener("click", () => search.next());
  return el(
    "div",
    { className: "library" },
    el("label", { htmlFor: input.id, className: "field-label", textContent: T.search }),
    input,
    el("p", { id: `${id}-library-hint`, className: "hint", textContent: T.hint }),
    notice,
    status,
    list,
    more,
  );
}

class Search {
  constructor(parts) {
    Object.assign(this, parts);
    this.query = "";
    this.page = 1;
    this.shown = 0;
    this.asked = 0; // the latest request: an answer to an earlier one comes too late and is dropped
  }

  start(text) {
    const query = text.trim();
    if (query === this.query && this.shown) return;
    this.query = query;
    this.page = 1;
    this.shown = 0;
    this.list.replaceChildren();
    this.more.hidden = true;
    this.notice.hidden = true;
    if (!query) {
      this.asked += 1;
      this.status.textContent = "";
      return;
    }
    this.read();
  }

  next() {
    this.page += 1;
    this.read();
  }

  async read() {
    const asked = ++this.asked;
    this.status.textContent = T.searching;
    this.more.disabled = true;
    let answer;
    try {
      answer = await get("/api/library/search", { q: this.query, page: this.page });
    } catch (exc) {
      if (asked === this.asked) this.status.textContent = exc.message;
      return;
    } finally {
      this.more.disabled = false;
    }
    if (asked !== this.asked) return;
    this.show(answer);
  }

  show(answer) {
    const items = answer.items || [];
    this.notice.hidden = answer.source !== "local" || !answer.message;
    this.notice.textContent = answer.message || "";
    this.list.append(...items.map((item) => this.row(item)));
    this.shown += items.length;
    const total = typeof answer.total === "number" ? answer.total : null;
    this.status.textContent = !this.shown ? T.nothing : T.found(total ?? this.shown);
    this.more.hidden = total !== null ? this.shown >= total : items.length < PAGE_SIZE;
  }

  row(item) {
    const details = [item.subject, item.grades ? T.grades(item.grades) : "", kindText(item.kind)];
    const fields = { library: item.id };
    return pickRow(
      item.title,
      details.filter(Boolean).join(" · "),
      () => this.cast(fields),
      this.toLesson && (() => this.toLesson(fields)),
      { libraryId: item.id },
    );
  }
}
