"""The words a school list or a staff list may use for its column headings and its roles.

Data, not messages: these are matched against what people type into a spreadsheet's first row (in
Russian whatever the UI's language), so they are never translated. controller.imports marks the
column labels it shows people with N_.
"""

from __future__ import annotations

import re

# field -> headings accepted for it (compared after `heading_key`), besides the field's own name.
HEADINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "schools": {
        "municipality": ("муниципалитет", "муниципальное образование", "мо", "район", "городской округ"),
        "name": ("название", "наименование", "полное наименование", "полное название", "школа"),
        "short_name": (
            "краткое название",
            "краткое наименование",
            "сокращенное наименование",
            "сокращенное название",
        ),
        "ogrn": ("огрн",),
        "inn": ("инн",),
        "address": ("адрес", "юридический адрес"),
        "timezone": ("часовой пояс", "time zone"),
    },
    "staff": {
        "login": ("логин", "учетная запись"),
        "full_name": ("фио", "ф.и.о.", "ф. и. о.", "полное имя", "сотрудник", "full name"),
        "email": ("e-mail", "эл. почта", "электронная почта", "почта", "адрес электронной почты"),
        "role": ("роль", "должность в системе"),
        "school_ogrn": ("огрн школы", "огрн оо", "огрн организации", "school ogrn", "огрн"),
        "municipality": ("муниципалитет", "муниципальное образование", "мо", "район"),
    },
}

# What a cell of the role column may say -> the role.
ROLE_WORDS: dict[str, str] = {
    "teacher": "teacher",
    "учитель": "teacher",
    "педагог": "teacher",
    "school_it": "school_it",
    "администратор оо": "school_it",
    "администратор школы": "school_it",
    "школьный координатор": "school_it",
    "municipal": "municipal",
    "муниципальный координатор": "municipal",
    "администратор групп оо": "municipal",
    "моуо": "municipal",
}


# The headings a purchase list of panels (controller.provisions) may use for each field.
PROVISION_HEADINGS = {
    "serial": ("serial", "серийный номер", "s/n", "sn", "серийный №"),
    "school_ogrn": ("school_ogrn", "огрн школы", "огрн"),
    "room": ("room", "кабинет", "помещение"),
    "name": ("name", "имя панели", "название панели", "имя"),
}


def heading_key(text: str) -> str:
    """Return a heading or a role word as it is compared: lower case, ё as е, no notes in brackets."""
    text = re.sub(r"\(.*?\)", " ", text.replace("\xa0", " ").casefold().replace("ё", "е"))
    return " ".join(text.strip(" *:").split())


def name_key(name: str) -> str:
    """Return a name as names are matched: any case, ё as е, spaces collapsed."""
    return " ".join(name.casefold().replace("ё", "е").split())
