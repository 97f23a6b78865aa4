"""The stand-in's library: a few dozen lesson items in Russian, their media made in code, and search.

Items are numbered `lib-0001` … in the order of `ITEMS`. Search lowers the case, reads «ё» as «е»,
and finds the items whose title, subject and description hold every word of the query (as a part of a
word: «дроб» finds «Дроби»). There is no morphology; the real library's search is better.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from mainsystem import media

PAGE_SIZE = 20
MIME = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
    "html5": "application/zip",
}
KIND = {"svg": "image", "png": "image", "pdf": "pdf", "html5": "html5"}
COLOURS: dict[str, media.Colour] = {
    "Математика": (33, 90, 160),
    "Русский язык": (170, 60, 50),
    "Литература": (120, 70, 140),
    "История": (140, 100, 40),
    "География": (30, 130, 110),
    "Биология": (60, 130, 50),
    "Физика": (40, 70, 120),
    "Химия": (150, 80, 20),
    "Информатика": (50, 60, 70),
    "Окружающий мир": (70, 140, 60),
    "Английский язык": (30, 100, 150),
}

Quiz = tuple[tuple[str, tuple[str, ...], int], ...]  # question, answers, the right answer's index


@dataclass(frozen=True)
class Entry:
    """One item as written below: `pages` are a PDF's pages after the title page, `quiz` a bundle's."""

    subject: str
    grades: str
    media: str  # svg, png, pdf or html5
    title: str
    description: str
    updated: str
    pages: tuple[str, ...] = ()
    quiz: Quiz = ()


ITEMS: tuple[Entry, ...] = (
    Entry("Математика", "5-6", "pdf", "Дроби: числитель и знаменатель",
          "Обыкновенные дроби на примерах пиццы и шоколадки: что показывает числитель, что знаменатель.",
          "2026-08-20", ("Числитель — сколько частей взяли", "Знаменатель — на сколько частей делили")),
    Entry("Математика", "2-3", "svg", "Таблица умножения",
          "Таблица Пифагора для заучивания: произведения чисел от 1 до 10.", "2026-08-21"),
    Entry("Математика", "8", "png", "Теорема Пифагора",
          "Квадрат гипотенузы равен сумме квадратов катетов: чертёж и формула.", "2026-08-22"),
    Entry("Математика", "8", "pdf", "Квадратные уравнения: дискриминант",
          "Решение квадратных уравнений через дискриминант: формула корней и разбор трёх случаев.",
          "2026-08-23", ("D = b² − 4ac", "D > 0: два корня; D = 0: один; D < 0: нет корней")),
    Entry("Математика", "1-4", "html5", "Тренажёр: устный счёт",
          "Интерактивный тренажёр сложения и вычитания в пределах ста: ответ проверяется сразу.",
          "2026-08-24", quiz=(("27 + 15 = ?", ("32", "42", "43"), 1), ("64 − 18 = ?", ("46", "56", "44"), 0),
                              ("9 × 7 = ?", ("56", "63", "72"), 1))),
    Entry("Русский язык", "2-4", "pdf", "Безударные гласные в корне слова",
          "Как проверить безударную гласную: подбираем однокоренное слово с ударением.",
          "2026-08-20", ("Вода — во́ды", "Гора — го́ры")),
    Entry("Русский язык", "5", "svg", "Части речи",
          "Самостоятельные и служебные части речи: схема с примерами.", "2026-08-21"),
    Entry("Русский язык", "9", "pdf", "Сложноподчинённое предложение",
          "Главная и придаточная части, союзы и союзные слова, знаки препинания.", "2026-08-25",
          ("Придаточные определительные", "Придаточные изъяснительные", "Придаточные обстоятельственные")),
    Entry("Русский язык", "3", "png", "Словарные слова: 3 класс",
          "Слова с непроверяемым написанием для третьего класса: берёза, воробей, капуста, молоко.",
          "2026-08-26"),
    Entry("Литература", "2-3", "pdf", "А. С. Пушкин. «Сказка о рыбаке и рыбке»",
          "Иллюстрации к сказке Пушкина и вопросы для беседы о жадности и благодарности.",
          "2026-08-20", ("Жил старик со своею старухой", "Чему учит сказка?")),
    Entry("Литература", "10", "pdf", "Л. Н. Толстой. «Война и мир»: герои романа",
          "Семьи Ростовых, Болконских и Безуховых: схема связей героев романа Толстого.",
          "2026-08-27", ("Ростовы", "Болконские", "Безуховы")),
    Entry("Литература", "6-7", "svg", "Стихотворный размер: ямб и хорей",
          "Как различить ямб и хорей: ударные и безударные слоги, примеры из Пушкина.", "2026-08-22"),
    Entry("История", "6", "png", "Куликовская битва, 1380 год",
          "Карта-схема сражения на Куликовом поле: расположение полков Дмитрия Донского и Мамая.",
          "2026-08-28"),
    Entry("История", "7-8", "pdf", "Пётр I и его реформы",
          "Военная, административная и церковная реформы Петра Великого; основание Петербурга.",
          "2026-08-21", ("Полтавская битва, 1709 год", "Табель о рангах, 1722 год")),
    Entry("История", "5", "svg", "Лента времени: Древний мир",
          "От первых земледельцев до падения Западной Римской империи: главные даты Древнего мира.",
          "2026-08-23"),
    Entry("История", "8", "pdf", "Отечественная война 1812 года",
          "Ход войны с Наполеоном: Бородинское сражение, оставление Москвы, изгнание армии.",
          "2026-08-29", ("Бородино, 26 августа 1812 года", "Тарутинский манёвр")),
    Entry("География", "6", "svg", "Материки и океаны",
          "Карта мира: шесть материков и пять океанов, их площади.", "2026-08-20"),
    Entry("География", "8", "png", "Природные зоны России",
          "От арктических пустынь до степей: карта природных зон России с подписями.", "2026-08-24"),
    Entry("География", "7", "pdf", "Климатические пояса Земли",
          "Экваториальный, тропический, умеренный и другие пояса: температура и осадки.", "2026-08-25",
          ("Основные пояса", "Переходные пояса")),
    Entry("Биология", "5-6", "svg", "Строение растительной клетки",
          "Клеточная стенка, цитоплазма, ядро, вакуоль и хлоропласты: схема с подписями.", "2026-08-21"),
    Entry("Биология", "6", "pdf", "Фотосинтез",
          "Как растение на свету делает из углекислого газа и воды сахар и кислород.", "2026-08-26",
          ("Свет + CO₂ + H₂O → сахар + O₂",)),
    Entry("Биология", "8", "png", "Кровеносная система человека",
          "Сердце, артерии, вены и капилляры: большой и малый круги кровообращения.", "2026-08-27"),
    Entry("Физика", "7-9", "pdf", "Законы Ньютона",
          "Три закона механики с опытами и примерами из жизни.", "2026-08-22",
          ("Первый закон: инерция", "Второй закон: F = ma", "Третий закон: действие и противодействие")),
    Entry("Физика", "8", "svg", "Электрическая цепь: последовательное и параллельное соединение",
          "Схемы соединения проводников и правила для силы тока и напряжения.", "2026-08-23"),
    Entry("Физика", "8", "html5", "Тренажёр: закон Ома",
          "Задачи на закон Ома для участка цепи с проверкой ответа.", "2026-08-28",
          quiz=(("U = 12 В, R = 4 Ом. I = ?", ("3 А", "48 А", "0,3 А"), 0),
                ("I = 2 А, R = 5 Ом. U = ?", ("2,5 В", "10 В", "7 В"), 1))),
    Entry("Химия", "8-11", "png", "Периодическая система Д. И. Менделеева",
          "Таблица химических элементов: периоды, группы, металлы и неметаллы.", "2026-08-20"),
    Entry("Химия", "8", "pdf", "Строение атома",
          "Ядро, протоны, нейтроны и электроны; электронные оболочки первых элементов.", "2026-08-24",
          ("Ядро: протоны и нейтроны", "Электронные оболочки")),
    Entry("Химия", "8-9", "pdf", "Типы химических реакций",
          "Реакции соединения, разложения, замещения и обмена с уравнениями.", "2026-08-29",
          ("Соединение и разложение", "Замещение и обмен")),
    Entry("Информатика", "7-8", "pdf", "Системы счисления",
          "Двоичная, восьмеричная и шестнадцатеричная системы: перевод чисел.", "2026-08-21",
          ("1010₂ = 10₁₀", "FF₁₆ = 255₁₀")),
    Entry("Информатика", "6-7", "svg", "Алгоритмы: блок-схемы",
          "Следование, ветвление и цикл на блок-схемах.", "2026-08-25"),
    Entry("Информатика", "5-7", "html5", "Викторина: устройство компьютера",
          "Процессор, память, устройства ввода и вывода: викторина для всего класса.", "2026-08-30",
          quiz=(("Что считает и выполняет команды?", ("Монитор", "Процессор", "Клавиатура"), 1),
                ("Что из этого — устройство ввода?", ("Мышь", "Принтер", "Колонки"), 0))),
    Entry("Окружающий мир", "1-2", "svg", "Времена года",
          "Зима, весна, лето и осень: приметы каждого времени года.", "2026-08-20"),
    Entry("Окружающий мир", "2-4", "png", "Круговорот воды в природе",
          "Испарение, облака, осадки и ручьи: путь капли воды.", "2026-08-22"),
    Entry("Окружающий мир", "1-4", "pdf", "Правила дорожного движения для пешехода",
          "Переход, светофор, тротуар: правила безопасной дороги в школу.", "2026-08-31",
          ("Переходим по зебре", "Зелёный — иди, красный — стой")),
    Entry("Английский язык", "2", "svg", "The Alphabet: английский алфавит",
          "Двадцать шесть букв английского алфавита с картинками.", "2026-08-23"),
    Entry("Английский язык", "5-6", "pdf", "Present Simple",
          "Настоящее простое время: утверждение, отрицание, вопрос.", "2026-08-26",
          ("I play — He plays", "Do you play? — Does he play?")),
    Entry("Английский язык", "6-9", "pdf", "Неправильные глаголы",
          "Таблица неправильных глаголов английского языка: три формы.", "2026-08-27",
          ("be — was/were — been", "go — went — gone")),
)  # fmt: skip


class Library:
    """The items with their media (made on construction) and the search over them."""

    def __init__(self, entries: tuple[Entry, ...] = ITEMS) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._media: dict[str, bytes] = {}
        for number, entry in enumerate(entries, start=1):
            item_id = f"lib-{number:04d}"
            data = _media_of(entry)
            self._media[item_id] = data
            self._items[item_id] = {
                "id": item_id,
                "title": entry.title,
                "subject": entry.subject,
                "grades": entry.grades,
                "kind": KIND[entry.media],
                "description": entry.description,
                "media": {"mime": MIME[entry.media], "size": len(data)},
                "updated_at": f"{entry.updated}T00:00:00Z",
            }

    def item(self, item_id: str) -> dict[str, Any] | None:
        return self._items.get(item_id)

    def media(self, item_id: str) -> tuple[str, bytes] | None:
        """Return the item's (mime, bytes), or None."""
        item = self._items.get(item_id)
        return None if item is None else (item["media"]["mime"], self._media[item_id])

    def search(self, query: str, page: int) -> dict[str, Any]:
        """Return the page (from 1) of items holding every word of `query`: items, total, page."""
        words = _folded(query).split()
        found = [
            item
            for item in self._items.values()
            if all(
                w in _folded(" ".join((item["title"], item["subject"], item["description"]))) for w in words
            )
        ]
        start = (page - 1) * PAGE_SIZE
        return {"items": found[start : start + PAGE_SIZE], "total": len(found), "page": page}


def _folded(text: str) -> str:
    return text.casefold().replace("ё", "е")


def _media_of(entry: Entry) -> bytes:
    colour = COLOURS[entry.subject]
    if entry.media == "svg":
        return media.svg(entry.title, entry.subject, colour)
    if entry.media == "png":
        return media.png(entry.title, entry.subject, colour)
    if entry.media == "pdf":
        shades = [colour, media.lighter(colour), media.lighter(media.lighter(colour))]
        texts = (entry.title, *entry.pages)
        return media.pdf([(text, shades[i % len(shades)]) for i, text in enumerate(texts)])
    return media.bundle(entry.title, _quiz_html(entry.quiz))


def _quiz_html(quiz: Quiz) -> str:
    """Return a quiz's page body: each question with its answers as buttons that say right or wrong."""
    parts = []
    for question, answers, right in quiz:
        buttons = "".join(
            f"<button data-right={json.dumps(i == right)}>{html.escape(a)}</button>"
            for i, a in enumerate(answers)
        )
        parts.append(f"<section><p>{html.escape(question)}</p>{buttons}<span></span></section>")
    script = (
        "<script>document.querySelectorAll('button').forEach(b=>b.onclick=()=>{"
        "const s=b.parentNode.querySelector('span');const ok=b.dataset.right==='true';"
        "s.textContent=ok?' Верно!':' Подумайте ещё';s.className=ok?'ok':'no';});</script>"
    )
    return "".join(parts) + script
