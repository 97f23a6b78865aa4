// Сверка: the monthly reconciliation of the panel registry, read from /api/reconciliation: panels
// silent too long, devices that tried to connect unregistered, purchased serials never paired, and
// revoked panels still trying. Each list is a sortable table with its count beside its heading.

import { get } from "./api.js";
import { _ } from "./i18n.js";
import { ago, dateOf, dateTime } from "./panel_values.js";
import { Listing, Notices, el, T as UI } from "./ui.js";

const T = {
  silentHeading: (days) =>
    new Intl.PluralRules("ru").select(days) === "one"
      ? _("Панели, которые молчат больше %(days)s дня", { days })
      : _("Панели, которые молчат больше %(days)s дней", { days }),
  total: (n) => _("Всего в сверке: %(n)s", { n }),
  allClear: _("Все четыре списка пусты: расхождений нет."),
  never: _("не выходила на связь"),
  state: { revoked: _("отозвана"), decommissioned: _("списана") },
  channel: {
    pairing: _("запрос кода подключения"),
    socketio: _("соединение плеера"),
    telemetry: _("телеметрия агента"),
    http: _("запрос к API панелей"),
  },
  column: {
    name: _("Имя панели"),
    school: _("Школа"),
    room: _("Кабинет"),
    serial: _("Серийный номер"),
    mac: _("MAC-адрес"),
    model: _("Модель"),
    last_seen_at: _("Последняя связь"),
    address: _("Сетевой адрес"),
    channel: _("Как пыталось подключиться"),
    channels: _("Как пыталась подключиться"),
    first_at: _("Первая попытка"),
    last_at: _("Последняя попытка"),
    attempts: _("Попыток"),
    provision_school: _("Закуплена для школы"),
    created_at: _("В списке закупки с"),
    asking_at: _("Просила код"),
    state: _("Состояние"),
    revoked_at: _("Отозвана"),
  },
  empty: {
    silent: _("Молчащих панелей нет."),
    unknown: _("Незарегистрированные устройства не пытались подключиться."),
    unpaired: _("Все закупленные панели подключены."),
    refused: _("Отозванные панели на связь не выходят."),
  },
};

const notices = new Notices(document.getElementById("notices"));
const summary = document.getElementById("summary");

/** A column of a time: shown as «3 дня назад» (the exact time on hover), sorted by the time itself. */
function timeColumn(key, missing = "") {
  return {
    key,
    text: (row) => (dateOf(row[key]) ? dateOf(row[key]).toISOString() : ""),
    cell: (row) => {
      const date = dateOf(row[key]);
      if (!date) return missing;
      return el("time", { dateTime: date.toISOString(), title: dateTime.format(date), textContent: ago(row[key]) });
    },
  };
}

function plain(key) {
  return { key };
}

const PLACE = [plain("school"), plain("room"), { key: "name", className: "title" }, plain("serial")];
const COLUMNS = {
  silent: [...PLACE, plain("mac"), timeColumn("last_seen_at", T.never)],
  unknown: [
    plain("serial"),
    plain("mac"),
    plain("model"),
    plain("address"),
    { key: "channel", text: (row) => T.channel[row.channel] || row.channel },
    timeColumn("first_at"),
    timeColumn("last_at"),
    { key: "attempts", text: (row) => String(row.attempts).padStart(9, "0"), cell: (row) => String(row.attempts) },
    plain("provision_school"),
  ],
  unpaired: [...PLACE, timeColumn("created_at"), timeColumn("asking_at")],
  refused: [
    ...PLACE,
    { key: "state", text: (row) => T.state[row.state] || row.state },
    timeColumn("revoked_at"),
    timeColumn("last_at"),
    { key: "attempts", text: (row) => String(row.attempts).padStart(9, "0"), cell: (row) => String(row.attempts) },
    { key: "channels", text: (row) => row.channels.map((c) => T.channel[c] || c).join(", ") },
    plain("address"),
  ],
};

function show(answer) {
  const days = answer.thresholds.silent_after_days;
  document.getElementById("silent-heading").textContent = T.silentHeading(days);
  let total = 0;
  for (const [name, columns] of Object.entries(COLUMNS)) {
    const count = answer.counts[name];
    total += count;
    const badge = document.querySelector(`[data-count="${name}"]`);
    badge.textContent = String(count);
    badge.classList.toggle("failed", count > 0);
    badge.classList.toggle("ok", count === 0);
    const listing = new Listing(document.querySelector(`table[data-list="${name}"]`), {
      columns: columns.map((column) => ({ ...column, label: T.column[column.key] })),
      emptyText: T.empty[name],
    });
    listing.setRows(answer[name].map((row, index) => ({ id: row.id ?? index, ...row })));
  }
  summary.textContent = total ? T.total(total) : T.allClear;
}

async function load() {
  summary.textContent = UI.loading;
  try {
    show(await get("/api/reconciliation"));
  } catch (exc) {
    summary.textContent = "";
    notices.error(exc);
  }
}

load();
