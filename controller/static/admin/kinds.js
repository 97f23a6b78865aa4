// The registry's kinds as the pages show them: names in Russian, table columns, form fields, the
// place of each kind in the hierarchy (region → municipality → school → room).

export const T = {
  plural: { region: "Регионы", municipality: "Муниципалитеты", school: "Школы", room: "Кабинеты" },
  one: { region: "регион", municipality: "муниципалитет", school: "школа", room: "кабинет" },
  add: {
    region: "Добавить регион",
    municipality: "Добавить муниципалитет",
    school: "Добавить школу",
    room: "Добавить кабинет",
  },
  newTitle: {
    region: "Новый регион",
    municipality: "Новый муниципалитет",
    school: "Новая школа",
    room: "Новый кабинет",
  },
  empty: {
    region: "Регионов пока нет.",
    municipality: "Муниципалитетов пока нет.",
    school: "Школ пока нет.",
    room: "Кабинетов пока нет.",
  },
  searchHint: {
    region: "Код или название…",
    municipality: "Название…",
    school: "Название, ОГРН, ИНН…",
    room: "Название кабинета…",
  },
  fields: {
    code: "Код региона",
    name: "Название",
    short_name: "Краткое название",
    ogrn: "ОГРН",
    inn: "ИНН",
    address: "Адрес",
    timezone: "Часовой пояс",
  },
  hints: {
    code: "2 или 3 цифры, например 54.",
    short_name: "Как школу называют в списках: «СОШ № 7».",
    ogrn: "13 цифр, из ЕГРЮЛ.",
    inn: "10 цифр.",
  },
  schoolName: "Полное название",
  // Russia's time zones, west to east (the tz database names the server checks).
  zones: [
    ["Europe/Kaliningrad", "МСК−1 · Калининград"],
    ["Europe/Moscow", "МСК · Москва"],
    ["Europe/Kirov", "МСК · Киров"],
    ["Europe/Volgograd", "МСК · Волгоград"],
    ["Europe/Astrakhan", "МСК+1 · Астрахань"],
    ["Europe/Samara", "МСК+1 · Самара"],
    ["Europe/Saratov", "МСК+1 · Саратов"],
    ["Europe/Ulyanovsk", "МСК+1 · Ульяновск"],
    ["Asia/Yekaterinburg", "МСК+2 · Екатеринбург"],
    ["Asia/Omsk", "МСК+3 · Омск"],
    ["Asia/Novosibirsk", "МСК+4 · Новосибирск"],
    ["Asia/Barnaul", "МСК+4 · Барнаул"],
    ["Asia/Tomsk", "МСК+4 · Томск"],
    ["Asia/Novokuznetsk", "МСК+4 · Новокузнецк"],
    ["Asia/Krasnoyarsk", "МСК+4 · Красноярск"],
    ["Asia/Irkutsk", "МСК+5 · Иркутск"],
    ["Asia/Chita", "МСК+6 · Чита"],
    ["Asia/Yakutsk", "МСК+6 · Якутск"],
    ["Asia/Khandyga", "МСК+6 · Хандыга"],
    ["Asia/Vladivostok", "МСК+7 · Владивосток"],
    ["Asia/Ust-Nera", "МСК+7 · Усть-Нера"],
    ["Asia/Magadan", "МСК+8 · Магадан"],
    ["Asia/Sakhalin", "МСК+8 · Сахалин"],
    ["Asia/Srednekolymsk", "МСК+8 · Среднеколымск"],
    ["Asia/Kamchatka", "МСК+9 · Камчатка"],
    ["Asia/Anadyr", "МСК+9 · Анадырь"],
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
