// The registry's kinds as the pages show them: names in the page's language, table columns, form
// fields, the place of each kind in the hierarchy (region → municipality → school → room).

import { _ } from "./i18n.js";

export const T = {
  plural: {
    region: _("Регионы"),
    municipality: _("Муниципалитеты"),
    school: _("Школы"),
    room: _("Кабинеты"),
  },
  one: { region: _("регион"), municipality: _("муниципалитет"), school: _("школа"), room: _("кабинет") },
  add: {
    region: _("Добавить регион"),
    municipality: _("Добавить муниципалитет"),
    school: _("Добавить школу"),
    room: _("Добавить кабинет"),
  },
  newTitle: {
    region: _("Новый регион"),
    municipality: _("Новый муниципалитет"),
    school: _("Новая школа"),
    room: _("Новый кабинет"),
  },
  empty: {
    region: _("Регионов пока нет."),
    municipality: _("Муниципалитетов пока нет."),
    school: _("Школ пока нет."),
    room: _("Кабинетов пока нет."),
  },
  searchHint: {
    region: _("Код или название…"),
    municipality: _("Название…"),
    school: _("Название, ОГРН, ИНН…"),
    room: _("Название кабинета…"),
  },
  fields: {
    code: _("Код региона"),
    name: _("Название"),
    short_name: _("Краткое название"),
    ogrn: _("ОГРН"),
    inn: _("ИНН"),
    address: _("Адрес"),
    timezone: _("Часовой пояс"),
  },
  hints: {
    code: _("2 или 3 цифры, например 54."),
    short_name: _("Как школу называют в списках: «СОШ № 7»."),
    ogrn: _("13 цифр, из ЕГРЮЛ."),
    inn: _("10 цифр."),
  },
  schoolName: _("Полное название"),
  // Russia's time zones, west to east (the tz database names the server checks).
  zones: [
    ["Europe/Kaliningrad", _("МСК−1 · Калининград")],
    ["Europe/Moscow", _("МСК · Москва")],
    ["Europe/Kirov", _("МСК · Киров")],
    ["Europe/Volgograd", _("МСК · Волгоград")],
    ["Europe/Astrakhan", _("МСК+1 · Астрахань")],
    ["Europe/Samara", _("МСК+1 · Самара")],
    ["Europe/Saratov", _("МСК+1 · Саратов")],
    ["Europe/Ulyanovsk", _("МСК+1 · Ульяновск")],
    ["Asia/Yekaterinburg", _("МСК+2 · Екатеринбург")],
    ["Asia/Omsk", _("МСК+3 · Омск")],
    ["Asia/Novosibirsk", _("МСК+4 · Новосибирск")],
    ["Asia/Barnaul", _("МСК+4 · Барнаул")],
    ["Asia/Tomsk", _("МСК+4 · Томск")],
    ["Asia/Novokuznetsk", _("МСК+4 · Новокузнецк")],
    ["Asia/Krasnoyarsk", _("МСК+4 · Красноярск")],
    ["Asia/Irkutsk", _("МСК+5 · Иркутск")],
    ["Asia/Chita", _("МСК+6 · Чита")],
    ["Asia/Yakutsk", _("МСК+6 · Якутск")],
    ["Asia/Khandyga", _("МСК+6 · Хандыга")],
    ["Asia/Vladivostok", _("МСК+7 · Владивосток")],
    ["Asia/Ust-Nera", _("МСК+7 · Усть-Нера")],
    ["Asia/Magadan", _("МСК+8 · Магадан")],
    ["Asia/Sakhalin", _("МСК+8 · Сахалин")],
    ["Asia/Srednekolymsk", _("МСК+8 · Среднеколымск")],
    ["Asia/Kamchatka", _("МСК+9 · Камчатка")],
    ["Asia/Anadyr", _("МСК+9 · Анадырь")],
  ],
};

export const ORDER = ["region", "municipality", "school", "room"];
export const PLURAL = { region: "regions", municipality: "municipalities", school: "schools", room: "rooms" };
export const PARENT = { region: null, municipality: "region", school: "municipality", room: "school" };
export const CHILD = { region: "municipality", municipality: "school", school: "room", room: null };
const ZONE_LABEL = Object.fromEntries(T.zones);

export const FIELDS = {
  region: [
    {
      name: "code",
      label: T.fields.code,
      required: true,
      inputmode: "numeric",
      maxlength: 3,
      hint: T.hints.code,
    },
    { name: "name", label: T.fields.name, required: true, maxlength: 300 },
  ],
  municipality: [{ name: "name", label: T.fields.name, required: true, maxlength: 300 }],
  school: [
    { name: "name", label: T.schoolName, required: true, maxlength: 300 },
    {
      name: "short_name",
      label: T.fields.short_name,
      required: true,
      maxlength: 120,
      hint: T.hints.short_name,
    },
    { name: "ogrn", label: T.fields.ogrn, inputmode: "numeric", maxlength: 13, hint: T.hints.ogrn },
    { name: "inn", label: T.fields.inn, inputmode: "numeric", maxlength: 10, hint: T.hints.inn },
    { name: "address", label: T.fields.address, maxlength: 500 },
    { name: "timezone", label: T.fields.timezone, type: "select" },
  ],
  room: [{ name: "name", label: T.fields.name, required: true, maxlength: 300 }],
};

const zoneText = (row) => ZONE_LABEL[row.timezone] || row.timezone || "";

/** Return the name a row goes by in lists: a school's short name, anything else's name. */
export const displayName = (kind, row) => (kind === "school" ? row.short_name || row.name : row.name);

/** Return the table columns of `kind`; `nameCell(row)` renders the name (a link one level down). */
export function columnsOf(kind, nameCell) {
  const name = { key: "name", label: T.fields.name, cell: nameCell, className: "title" };
  switch (kind) {
    case "region":
      return [{ key: "code", label: T.fields.code, className: "narrow" }, { ...name }];
    case "school":
      return [
        { ...name, key: "short_name", label: T.fields.short_name },
        { key: "name", label: T.schoolName },
        { key: "ogrn", label: T.fields.ogrn, className: "nowrap" },
        { key: "inn", label: T.fields.inn, className: "nowrap" },
        { key: "timezone", label: T.fields.timezone, text: zoneText },
      ];
    default:
      return [name];
  }
}

/** Return the form fields of `kind`; the time zone choice keeps a zone not in the list (`current`). */
export function fieldsFor(kind, current) {
  return FIELDS[kind].map((field) => {
    if (field.name !== "timezone") return field;
    const options = T.zones.map(([value, label]) => ({ value, label }));
    if (current && !ZONE_LABEL[current]) options.unshift({ value: current, label: current });
    return { ...field, options };
  });
}
