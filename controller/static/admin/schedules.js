// Расписания экранов: a card per room of the chosen school (school IT's own; staff above pick one),
// each with its screen schedule from GET /api/rooms/<id>/schedule and the day's plan. Those who may
// change schedules upload a file (and bell files) with PUT, download the source and remove it; a
// refused file's faults are listed under its room, each with its file, line and field.

import { get, write } from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { _ } from "./i18n.js";
import { collator, dateOnly, dateTime } from "./panel_values.js";
import { Notices, el, fillSelect, may, pageData } from "./ui.js";

const T = {
  none: _("Расписания нет: между показами панели кабинета показывают заставку."),
  fact: {
    title: _("Расписание"),
    file: _("Файл"),
    uploaded: _("Загружено"),
    panels: _("Панелей в кабинете"),
  },
  uploadedBy: (who, when) => _("%(when)s, %(who)s", { who, when }),
  planOf: (day) => _("План на %(day)s", { day }),
  nothing: _("заставка"),
  screenOff: _("экран выключен"),
  download: _("Скачать файл"),
  downloadOf: (room) => _("Скачать файл расписания кабинета «%(room)s»", { room }),
  remove: _("Удалить"),
  removeOf: (room) => _("Удалить расписание кабинета «%(room)s»", { room }),
  removeTitle: _("Удалить расписание?"),
  removeText: (room) =>
    _("Панели кабинета «%(room)s» вернутся к заставке между показами. Файл останется у вас.", { room }),
  removed: (room) => _("Расписание кабинета «%(room)s» удалено.", { room }),
  file: _("Файл расписания"),
  bells: _("Файлы звонков (если расписание ссылается на них)"),
  hint: _("YAML или JSON, до 256 КиБ. Файл звонков, загруженный раньше, прикладывать снова не нужно."),
  upload: _("Загрузить"),
  chooseFile: _("Выберите файл расписания."),
  uploaded: (room, title) =>
    _("Расписание «%(title)s» кабинета «%(room)s» принято: панели кабинета получат его сразу.", {
      room,
      title,
    }),
  line: (n) => _("строка %(n)s", { n }),
  field: (name) => _("поле %(name)s", { name }),
  chooseSchool: _("Выберите школу, чтобы увидеть её кабинеты."),
  noRooms: _("В школе нет кабинетов. Добавьте их в реестре."),
  summary: (rooms, kept) => _("Кабинетов: %(rooms)s, с расписанием: %(kept)s.", { rooms, kept }),
};

const page = pageData();
const notices = new Notices(document.getElementById("notices"));
const container = document.getElementById("rooms");
const summary = document.getElementById("summary");
const schoolChoice = document.getElementById("school-choice");
const mayChange = may(page.powers, "schedule", "update");
const state = { generation: 0, schedules: new Map() };

// --- a room's card -------------------------------------------------------------------------------

function planLine(segment) {
  const what = !segment.screen ? T.screenOff : segment.playlist || T.nothing;
  return el(
    "li",
    { className: segment.screen ? "" : "off" },
    el("span", { className: "times", textContent: `${segment.start}–${segment.end}` }),
    " ",
    what,
  );
}

function facts(schedule) {
  const when = dateTime.format(new Date(schedule.uploaded_at));
  const rows = [
    [T.fact.title, schedule.title],
    [T.fact.file, schedule.file_name],
    [T.fact.uploaded, T.uploadedBy(schedule.uploaded_by || "—", when)],
    [T.fact.panels, String(schedule.panels)],
  ];
  const pairs = rows.map(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]);
  return el("dl", { className: "schedule-facts" }, ...pairs);
}

function plan(room, schedule) {
  const day = dateOnly.format(new Date(`${schedule.day}T00:00:00`));
  const id = `plan-${room.id}`;
  return [
    el("h3", { id, textContent: T.planOf(day) }),
    el("ul", { className: "day-plan", attrs: { "aria-labelledby": id } }, schedule.today.map(planLine)),
  ];
}

function buttons(room) {
  const download = el("a", {
    className: "button small secondary",
    href: `/api/rooms/${room.id}/schedule/source`,
    textContent: T.download,
    attrs: { download: "", "aria-label": T.downloadOf(room.name) },
  });
  const list = [download];
  if (mayChange) {
    const remove = el("button", { type: "button", className: "small danger", textContent: T.remove });
    remove.setAttribute("aria-label", T.removeOf(room.name));
    remove.addEventListener("click", () => removeSchedule(room));
    list.push(remove);
  }
  return el("div", { className: "row-buttons" }, list);
}

function uploadForm(room) {
  const fileId = `schedule-file-${room.id}`;
  const bellsId = `schedule-bells-${room.id}`;
  const hintId = `schedule-hint-${room.id}`;
  const form = el(
    "form",
    { className: "schedule-upload", noValidate: true },
    el("label", { htmlFor: fileId }, el("span", { className: "field-label", textContent: T.file })),
    el("input", {
      type: "file",
      id: fileId,
      name: "file",
      accept: ".yaml,.yml,.json",
      attrs: { "aria-describedby": hintId },
    }),
    el("label", { htmlFor: bellsId }, el("span", { className: "field-label", textContent: T.bells })),
    el("input", { type: "file", id: bellsId, name: "bells", multiple: true, accept: ".yaml,.yml,.json" }),
    el("p", { id: hintId, className: "hint", textContent: T.hint }),
    el("div", { className: "form-buttons" }, el("button", { type: "submit", textContent: T.upload })),
  );
  form.addEventListener("submit", (event) => uploadSchedule(event, room));
  return form;
}

function card(room) {
  const schedule = state.schedules.get(room.id);
  const titleId = `room-${room.id}`;
  const section = el("section", {
    className: "card schedule-room",
    dataset: { roomId: String(room.id) },
    attrs: { "aria-labelledby": titleId },
  });
  section.append(el("h2", { id: titleId, textContent: room.name }));
  if (schedule) section.append(facts(schedule), ...plan(room, schedule), buttons(room));
  else section.append(el("p", { className: "muted", textContent: T.none }));
  if (mayChange) section.append(uploadForm(room));
  section.append(el("div", { className: "schedule-faults", hidden: true }));
  return section;
}

function showFaults(section, error) {
  const box = section.querySelector(".schedule-faults");
  const faults = (error.body && error.body.faults) || [];
  const lines = faults.map((fault) => {
    const where = [fault.file];
    if (fault.line) where.push(T.line(fault.line));
    if (fault.field) where.push(T.field(fault.field));
    return el("li", { textContent: `${where.join(", ")}: ${fault.message}` });
  });
  box.replaceChildren(
    el(
      "div",
      { className: "notice error", attrs: { role: "alert" } },
      el("p", { textContent: error.message }),
      lines.length ? el("ul", {}, lines) : null,
    ),
  );
  box.hidden = false;
}

// --- actions -------------------------------------------------------------------------------------

async function uploadSchedule(event, room) {
  event.preventDefault();
  const form = event.target;
  const section = form.closest(".schedule-room");
  const [file] = form.elements.file.files;
  if (!file) {
    showFaults(section, { message: T.chooseFile });
    form.elements.file.focus();
    return;
  }
  const body = new FormData();
  body.append("file", file);
  for (const bell of form.elements.bells.files) body.append("bells", bell);
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const answer = await write("PUT", `/api/rooms/${room.id}/schedule`, body);
    state.schedules.set(room.id, answer.schedule);
    replaceCard(room);
    notices.show(T.uploaded(room.name, answer.schedule.title), "ok");
  } catch (exc) {
    showFaults(section, exc);
  } finally {
    submit.disabled = false;
  }
}

async function removeSchedule(room) {
  const sure = await confirmDialog({
    title: T.removeTitle,
    text: T.removeText(room.name),
    confirmLabel: T.remove,
  });
  if (!sure) return;
  try {
    await write("DELETE", `/api/rooms/${room.id}/schedule`);
    state.schedules.delete(room.id);
    replaceCard(room);
    notices.show(T.removed(room.name), "ok");
  } catch (exc) {
    notices.error(exc);
  }
}

function replaceCard(room) {
  const old = container.querySelector(`[data-room-id="${room.id}"]`);
  old.replaceWith(card(room));
  updateSummary();
}

function updateSummary() {
  const rooms = container.querySelectorAll(".schedule-room").length;
  summary.textContent = rooms ? T.summary(rooms, state.schedules.size) : "";
}

// --- loading -------------------------------------------------------------------------------------

async function loadRooms(schoolId) {
  state.generation += 1;
  const generation = state.generation;
  container.replaceChildren();
  state.schedules.clear();
  if (!schoolId) {
    summary.textContent = T.chooseSchool;
    return;
  }
  container.setAttribute("aria-busy", "true");
  try {
    const rooms = (await get("/api/rooms", { school_id: schoolId })).rooms;
    rooms.sort((a, b) => collator.compare(a.name, b.name));
    const answers = await Promise.all(rooms.map((room) => get(`/api/rooms/${room.id}/schedule`)));
    if (generation !== state.generation) return;
    rooms.forEach((room, i) => answers[i].schedule && state.schedules.set(room.id, answers[i].schedule));
    container.replaceChildren(...rooms.map(card));
    updateSummary();
    if (!rooms.length) summary.textContent = T.noRooms;
  } catch (exc) {
    notices.error(exc);
  } finally {
    container.removeAttribute("aria-busy");
  }
}

async function loadSchools() {
  try {
    const schools = (await get("/api/schools")).schools;
    schools.sort((a, b) => collator.compare(a.short_name, b.short_name));
    const options = schools.map((school) => ({ value: school.id, label: school.short_name }));
    const only = schools.length === 1 ? schools[0].id : "";
    fillSelect(schoolChoice, [{ value: "", label: schoolChoice.options[0].textContent }, ...options], only);
    loadRooms(only);
  } catch (exc) {
    notices.error(exc);
  }
}

if (schoolChoice) {
  schoolChoice.addEventListener("change", () => loadRooms(schoolChoice.value));
  loadSchools();
} else {
  loadRooms(page.nodeId);
}
