"""The dashboard's three languages: its words, the names of regions and sectors, and numbers
and dates formatted for each (Babel's CLDR data).

A page's language comes from `?lang=`, else the language the browser chose earlier (a
cookie set when it last switched), else its `Accept-Language`, else Russian, the language
the programme's documents are written in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from babel.core import negotiate_locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.numbers import format_currency, format_decimal, format_percent

Language = Literal["kk", "ru", "en"]
LANGUAGES: tuple[Language, ...] = ("kk", "ru", "en")
DEFAULT: Language = "ru"
LANGUAGE_NAMES: dict[Language, str] = {"kk": "Қазақша", "ru": "Русский", "en": "English"}

# Every word the pages show, by key; each key has all three languages (a unit test holds it).
MESSAGES: dict[str, dict[Language, str]] = {
    "dashboard": {"kk": "Бақылау тақтасы", "ru": "Панель мониторинга", "en": "Dashboard"},
    "calls": {"kk": "Конкурстар", "ru": "Конкурсы", "en": "Calls"},
    "call": {"kk": "Конкурс", "ru": "Конкурс", "en": "Call"},
    "window": {"kk": "Өтінім қабылдау", "ru": "Приём заявок", "en": "Application window"},
    "quota": {"kk": "Квота", "ru": "Квота", "en": "Quota"},
    "status": {"kk": "Күйі", "ru": "Статус", "en": "Status"},
    "overview": {"kk": "Шолу", "ru": "Обзор", "en": "Overview"},
    "evaluation": {"kk": "Бағалау", "ru": "Оценка", "en": "Evaluation"},
    "audit": {"kk": "Аудит", "ru": "Аудит", "en": "Audit"},
    "funnel": {"kk": "Іріктеу кезеңдері", "ru": "Воронка отбора", "en": "Selection funnel"},
    "received": {"kk": "Түскен", "ru": "Поступило", "en": "Received"},
    "eligible": {"kk": "Талаптарға сай", "ru": "Допущено", "en": "Eligible"},
    "evaluated": {"kk": "Бағаланған", "ru": "Оценено", "en": "Evaluated"},
    "fundable": {"kk": "Қаржыландыруға лайық", "ru": "Прошли пороги", "en": "Fundable"},
    "selected": {"kk": "Іріктелген", "ru": "Отобрано", "en": "Selected"},
    "plans_on_track": {
        "kk": "Жоспары уақытында",
        "ru": "Планы в графике",
        "en": "Plans on track",
    },
    "not_yet": {"kk": "әлі жоқ", "ru": "ещё нет", "en": "not yet"},
    "by_region": {"kk": "Өңірлер бойынша", "ru": "По регионам", "en": "By region"},
    "by_sector": {"kk": "Салалар бойынша", "ru": "По отраслям", "en": "By sector"},
    "region": {"kk": "Өңір", "ru": "Регион", "en": "Region"},
    "sector": {"kk": "Сала (ЭҚЖЖ)", "ru": "Отрасль (ОКЭД)", "en": "Sector (OKED)"},
    "applications": {"kk": "Өтінімдер", "ru": "Заявки", "en": "Applications"},
    "total": {"kk": "Барлығы", "ru": "Всего", "en": "Total"},
    "registration_number": {"kk": "Тіркеу нөмірі", "ru": "Рег. номер", "en": "Registration"},
    "cluster": {"kk": "Кластер", "ru": "Кластер", "en": "Cluster"},
    "coordinator": {"kk": "Үйлестіруші", "ru": "Координатор", "en": "Coordinator"},
    "contact": {"kk": "Байланыс тұлға", "ru": "Контактное лицо", "en": "Contact person"},
    "application_submitted": {"kk": "Берілді", "ru": "Подана", "en": "Submitted"},
    "application_withdrawn": {"kk": "Қайтарылды", "ru": "Отозвана", "en": "Withdrawn"},
    "yes": {"kk": "иә", "ru": "да", "en": "yes"},
    "no": {"kk": "жоқ", "ru": "нет", "en": "no"},
    "distributions": {
        "kk": "Критерийлер бойынша бағалар",
        "ru": "Распределение оценок по критериям",
        "en": "Score distribution per criterion",
    },
    "criterion": {"kk": "Критерий", "ru": "Критерий", "en": "Criterion"},
    "lowest": {"kk": "Ең төмен", "ru": "Мин.", "en": "Lowest"},
    "median": {"kk": "Медиана", "ru": "Медиана", "en": "Median"},
    "highest": {"kk": "Ең жоғары", "ru": "Макс.", "en": "Highest"},
    "mean": {"kk": "Орташа", "ru": "Среднее", "en": "Mean"},
    "ranking": {"kk": "Рейтинг", "ru": "Рейтинг", "en": "Ranking"},
    "ranking_version": {"kk": "нұсқа", "ru": "версия", "en": "version"},
    "published": {"kk": "Жарияланды", "ru": "Опубликован", "en": "Published"},
    "rank": {"kk": "Орын", "ru": "Место", "en": "Rank"},
    "overall": {"kk": "Жалпы балл", "ru": "Итоговый балл", "en": "Overall"},
    "failed_thresholds": {
        "kk": "Өтпеген шектер",
        "ru": "Не пройдены пороги",
        "en": "Thresholds failed",
    },
    "threshold_line": {
        "kk": "Шектен өткендер мен өтпегендер арасындағы сызық",
        "ru": "Граница прохождения порогов",
        "en": "Threshold line: fundable above, not fundable below",
    },
    "no_ranking": {
        "kk": "Рейтинг әлі жарияланған жоқ.",
        "ru": "Рейтинг ещё не опубликован.",
        "en": "No ranking is published yet.",
    },
    "consensus": {"kk": "Консенсус жағдайлары", "ru": "Случаи консенсуса", "en": "Consensus cases"},
    "divergence": {"kk": "Алшақтық", "ru": "Расхождение", "en": "Divergence"},
    "rapporteur": {"kk": "Баяндамашы", "ru": "Докладчик", "en": "Rapporteur"},
    "recorded": {"kk": "Тіркелді", "ru": "Записан", "en": "Recorded"},
    "final": {"kk": "Қорытынды", "ru": "Итог", "en": "Final"},
    "none": {"kk": "Жоқ", "ru": "Нет", "en": "None"},
    "history": {"kk": "Өтінім тарихы", "ru": "История заявки", "en": "Application history"},
    "seq": {"kk": "№", "ru": "№", "en": "#"},
    "when": {"kk": "Уақыты", "ru": "Когда", "en": "When"},
    "event": {"kk": "Оқиға", "ru": "Событие", "en": "Event"},
    "actor": {"kk": "Орындаушы", "ru": "Кто", "en": "Actor"},
    "cause": {"kk": "Себебі", "ru": "Причина", "en": "Cause"},
    "details": {"kk": "Мәліметтер", "ru": "Подробности", "en": "Details"},
    "imported": {"kk": "импортталған", "ru": "импорт", "en": "imported"},
    "freshness": {"kk": "Деректер жаңалығы", "ru": "Актуальность", "en": "Freshness"},
    "lag": {
        "kk": "өңделмеген оқиғалар",
        "ru": "необработанных событий",
        "en": "events not yet projected",
    },
    "last_event": {
        "kk": "соңғы жаңарту",
        "ru": "последнее обновление",
        "en": "last updated",
    },
    "lag_unknown": {
        "kk": "кешігу белгісіз",
        "ru": "отставание неизвестно",
        "en": "lag unknown",
    },
    "login": {"kk": "Кіру", "ru": "Вход", "en": "Sign in"},
    "logout": {"kk": "Шығу", "ru": "Выход", "en": "Sign out"},
    "token": {"kk": "Кіру токені (JWT)", "ru": "Токен доступа (JWT)", "en": "Access token (JWT)"},
    "login_failed": {
        "kk": "Токен қабылданбады",
        "ru": "Токен не принят",
        "en": "The token was refused",
    },
    "forbidden": {
        "kk": "Бұл бетті көруге рұқсат жоқ.",
        "ru": "У вашей роли нет доступа к этой странице.",
        "en": "Your role may not see this page.",
    },
    "not_found": {"kk": "Табылмады.", "ru": "Не найдено.", "en": "Not found."},
    "signed_in_as": {"kk": "Рөл", "ru": "Роль", "en": "Role"},
    "illustrative": {
        "kk": "Деректер көрнекі (нақты өтінімдер жария емес).",
        "ru": "Данные иллюстративные (настоящие заявки не публикуются).",
        "en": "Illustrative data (the real applications are not public).",
    },
    "commission": {"kk": "Комиссия шешімі", "ru": "Решение комиссии", "en": "Commission"},
    "plans": {"kk": "Даму жоспарлары", "ru": "Планы развития", "en": "Development plans"},
    "meeting": {"kk": "Отырыс", "ru": "Заседание", "en": "Meeting"},
    "decided": {"kk": "Шешім қабылданды", "ru": "Решение принято", "en": "Decided"},
    "not_published": {
        "kk": "әлі жарияланған жоқ",
        "ru": "ещё не опубликовано",
        "en": "not published yet",
    },
    "quorum": {"kk": "Кворум", "ru": "Кворум", "en": "Quorum"},
    "present": {"kk": "қатысты", "ru": "присутствовали", "en": "present"},
    "required": {"kk": "қажет", "ru": "требуется", "en": "required"},
    "outcome": {"kk": "Шешім", "ru": "Решение", "en": "Outcome"},
    "outcome_selected": {"kk": "іріктелді", "ru": "отобран", "en": "selected"},
    "outcome_declined": {"kk": "іріктелмеді", "ru": "не отобран", "en": "declined"},
    "tally": {
        "kk": "Дауыстар (иә / қарсы / қалыс)",
        "ru": "Голоса (за / против / возд.)",
        "en": "Votes (for / against / abstained)",
    },
    "casting_vote": {"kk": "төраға дауысы", "ru": "голос председателя", "en": "casting vote"},
    "recusals": {"kk": "Бас тартулар", "ru": "Самоотводы", "en": "Recusals"},
    "automatic": {"kk": "автоматты", "ru": "автоматически", "en": "automatic"},
    "rationale": {"kk": "Негіздеме", "ru": "Обоснование", "en": "Rationale"},
    "reserve": {"kk": "Резерв", "ru": "Резерв", "en": "Reserve"},
    "from_reserve": {"kk": "резервтен", "ru": "из резерва", "en": "from the reserve"},
    "replaced": {"kk": "ауыстырылды", "ru": "заменён", "en": "replaced"},
    "no_decision": {
        "kk": "Комиссия шешімі әлі жоқ.",
        "ru": "Решения комиссии ещё нет.",
        "en": "No commission decision yet.",
    },
    "no_plans": {"kk": "Жоспарлар әлі жоқ.", "ru": "Планов ещё нет.", "en": "No plans yet."},
    "milestones": {"kk": "Кезеңдер", "ru": "Вехи", "en": "Milestones"},
    "milestone_met": {"kk": "орындалды", "ru": "выполнена", "en": "met"},
    "milestone_partly_met": {"kk": "ішінара", "ru": "частично", "en": "partly met"},
    "milestone_cancelled": {"kk": "күшін жойды", "ru": "отменена", "en": "cancelled"},
    "milestone_late": {"kk": "кешікті", "ru": "просрочена", "en": "late"},
    "milestone_upcoming": {"kk": "алда", "ru": "предстоит", "en": "upcoming"},
    "plan_on_track": {"kk": "кестеде", "ru": "в графике", "en": "on track"},
    "plan_at_risk": {"kk": "тәуекелде", "ru": "под риском", "en": "at risk"},
    "plan_late": {"kk": "кешігуде", "ru": "отстаёт", "en": "late"},
    "plan_draft": {"kk": "бекітілмеген", "ru": "не утверждён", "en": "not approved"},
    "indicators": {"kk": "Көрсеткіштер", "ru": "Показатели", "en": "Indicators"},
    "baseline": {"kk": "Базалық", "ru": "База", "en": "Baseline"},
    "target": {"kk": "Мақсат", "ru": "Цель", "en": "Target"},
    "actual": {"kk": "Нақты", "ru": "Факт", "en": "Actual"},
    "attainment": {"kk": "Қол жеткізу", "ru": "Достижение", "en": "Attainment"},
    "period": {"kk": "Кезең", "ru": "Период", "en": "Period"},
    "budget": {"kk": "Бюджет орындалуы", "ru": "Исполнение бюджета", "en": "Budget execution"},
    "planned": {"kk": "Жоспар", "ru": "План", "en": "Planned"},
    "disbursed": {"kk": "Төленді", "ru": "Выплачено", "en": "Disbursed"},
    "overdue": {"kk": "Мерзімі өткендер", "ru": "Просроченное", "en": "Overdue"},
    "kind": {"kk": "Түрі", "ru": "Вид", "en": "Kind"},
    "kind_milestone": {"kk": "кезең", "ru": "веха", "en": "milestone"},
    "kind_report": {"kk": "есеп", "ru": "отчёт", "en": "report"},
    "due": {"kk": "Мерзімі", "ru": "Срок", "en": "Due"},
    "status_announced": {"kk": "жарияланды", "ru": "объявлен", "en": "announced"},
    "status_closed": {"kk": "жабылды", "ru": "закрыт", "en": "closed"},
    "requested_support": {
        "kk": "Сұралған қолдау",
        "ru": "Запрошенная поддержка",
        "en": "Requested support",
    },
}

# ISO 3166-2:KZ regions, 2017 and today (reference/regions.csv), in the three languages.
REGIONS: dict[str, dict[Language, str]] = {
    "KZ-11": {"kk": "Ақмола облысы", "ru": "Акмолинская область", "en": "Akmola Region"},
    "KZ-15": {"kk": "Ақтөбе облысы", "ru": "Актюбинская область", "en": "Aktobe Region"},
    "KZ-19": {"kk": "Алматы облысы", "ru": "Алматинская область", "en": "Almaty Region"},
    "KZ-23": {"kk": "Атырау облысы", "ru": "Атырауская область", "en": "Atyrau Region"},
    "KZ-27": {
        "kk": "Батыс Қазақстан облысы",
        "ru": "Западно-Казахстанская область",
        "en": "West Kazakhstan Region",
    },
    "KZ-31": {"kk": "Жамбыл облысы", "ru": "Жамбылская область", "en": "Zhambyl Region"},
    "KZ-35": {"kk": "Қарағанды облысы", "ru": "Карагандинская область", "en": "Karaganda Region"},
    "KZ-39": {"kk": "Қостанай облысы", "ru": "Костанайская область", "en": "Kostanay Region"},
    "KZ-43": {"kk": "Қызылорда облысы", "ru": "Кызылординская область", "en": "Kyzylorda Region"},
    "KZ-47": {"kk": "Маңғыстау облысы", "ru": "Мангистауская область", "en": "Mangystau Region"},
    "KZ-51": {
        "kk": "Оңтүстік Қазақстан облысы",
        "ru": "Южно-Казахстанская область",
        "en": "South Kazakhstan Region",
    },
    "KZ-55": {"kk": "Павлодар облысы", "ru": "Павлодарская область", "en": "Pavlodar Region"},
    "KZ-59": {
        "kk": "Солтүстік Қазақстан облысы",
        "ru": "Северо-Казахстанская область",
        "en": "North Kazakhstan Region",
    },
    "KZ-63": {
        "kk": "Шығыс Қазақстан облысы",
        "ru": "Восточно-Казахстанская область",
        "en": "East Kazakhstan Region",
    },
    "KZ-71": {"kk": "Астана қаласы", "ru": "город Астана", "en": "Astana"},
    "KZ-75": {"kk": "Алматы қаласы", "ru": "город Алматы", "en": "Almaty"},
    "KZ-10": {"kk": "Абай облысы", "ru": "область Абай", "en": "Abai Region"},
    "KZ-33": {"kk": "Жетісу облысы", "ru": "область Жетісу", "en": "Zhetisu Region"},
    "KZ-62": {"kk": "Ұлытау облысы", "ru": "область Ұлытау", "en": "Ulytau Region"},
    "KZ-61": {"kk": "Түркістан облысы", "ru": "Туркестанская область", "en": "Turkistan Region"},
    "KZ-79": {"kk": "Шымкент қаласы", "ru": "город Шымкент", "en": "Shymkent"},
}

# OKED (NACE Rev. 2) sections: the first two digits of a code name its division, and each
# division belongs to one section.
SECTIONS: dict[str, tuple[range, dict[Language, str]]] = {
    "A": (range(1, 4), {"kk": "Ауыл шаруашылығы", "ru": "Сельское хозяйство", "en": "Agriculture"}),
    "B": (
        range(5, 10),
        {"kk": "Тау-кен өндірісі", "ru": "Горнодобывающая промышленность", "en": "Mining"},
    ),
    "C": (
        range(10, 34),
        {"kk": "Өңдеу өнеркәсібі", "ru": "Обрабатывающая промышленность", "en": "Manufacturing"},
    ),
    "D": (
        range(35, 36),
        {"kk": "Энергиямен жабдықтау", "ru": "Энергоснабжение", "en": "Energy supply"},
    ),
    "E": (range(36, 40), {"kk": "Сумен жабдықтау", "ru": "Водоснабжение", "en": "Water supply"}),
    "F": (range(41, 44), {"kk": "Құрылыс", "ru": "Строительство", "en": "Construction"}),
    "G": (range(45, 48), {"kk": "Сауда", "ru": "Торговля", "en": "Trade"}),
    "H": (
        range(49, 54),
        {
            "kk": "Көлік және қойма",
            "ru": "Транспорт и складирование",
            "en": "Transport and storage",
        },
    ),
    "I": (
        range(55, 57),
        {"kk": "Тұру және тамақтану", "ru": "Проживание и питание", "en": "Accommodation and food"},
    ),
    "J": (
        range(58, 64),
        {
            "kk": "Ақпарат және байланыс",
            "ru": "Информация и связь",
            "en": "Information and communication",
        },
    ),
    "K": (range(64, 67), {"kk": "Қаржы қызметі", "ru": "Финансовая деятельность", "en": "Finance"}),
    "L": (
        range(68, 69),
        {"kk": "Жылжымайтын мүлік", "ru": "Операции с недвижимостью", "en": "Real estate"},
    ),
    "M": (
        range(69, 76),
        {
            "kk": "Ғылыми-техникалық қызмет",
            "ru": "Научная и техническая деятельность",
            "en": "Professional, scientific, technical",
        },
    ),
    "N": (
        range(77, 83),
        {
            "kk": "Әкімшілік қызмет",
            "ru": "Административное обслуживание",
            "en": "Administrative services",
        },
    ),
    "O": (
        range(84, 85),
        {
            "kk": "Мемлекеттік басқару",
            "ru": "Государственное управление",
            "en": "Public administration",
        },
    ),
    "P": (range(85, 86), {"kk": "Білім беру", "ru": "Образование", "en": "Education"}),
    "Q": (range(86, 89), {"kk": "Денсаулық сақтау", "ru": "Здравоохранение", "en": "Health"}),
    "R": (
        range(90, 94),
        {"kk": "Өнер және демалыс", "ru": "Искусство и отдых", "en": "Arts and recreation"},
    ),
    "S": (range(94, 97), {"kk": "Басқа қызметтер", "ru": "Прочие услуги", "en": "Other services"}),
    "T": (
        range(97, 99),
        {"kk": "Үй шаруашылықтары", "ru": "Домашние хозяйства", "en": "Households"},
    ),
    "U": (
        range(99, 100),
        {
            "kk": "Экстерриториялық ұйымдар",
            "ru": "Экстерриториальные организации",
            "en": "Extraterritorial bodies",
        },
    ),
}


def section_of(oked_code: str) -> str:
    """The OKED section letter of a code (`62010` -> `J`); `?` for a division in none."""
    division = int(oked_code[:2]) if oked_code[:2].isdigit() else -1
    return next((s for s, (divisions, _) in SECTIONS.items() if division in divisions), "?")


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> Language:
    """The page's language: the query's, else the cookie's, else the best of the header's."""
    for value in (query, cookie):
        for language in LANGUAGES:
            if value == language:
                return language
    preferred = [
        part.split(";")[0].strip().replace("-", "_")
        for part in (accept_language or "").split(",")
        if part.strip()
    ]
    found = negotiate_locale(preferred, list(LANGUAGES))
    return next((language for language in LANGUAGES if language == found), DEFAULT)


@dataclass(frozen=True)
class Words:
    """What a template needs to speak one language: words, names and formats."""

    lang: Language
    time_zone: str = "Asia/Almaty"

    def __call__(self, key: str) -> str:
        return MESSAGES[key][self.lang]

    def term(self, prefix: str, value: str) -> str:
        """A value the read models store as a word (a status): its translation under
        `prefix_value`, or the value itself when a later service adds a word not here yet."""
        names = MESSAGES.get(f"{prefix}_{value}")
        return names[self.lang] if names else value

    def region(self, code: str) -> str:
        names = REGIONS.get(code)
        return names[self.lang] if names else code

    def section(self, letter: str) -> str:
        found = SECTIONS.get(letter)
        return found[1][self.lang] if found else letter

    def number(self, value: int | float | Decimal) -> str:
        return format_decimal(value, format="#,##0.##", locale=self.lang)

    def percent(self, part: int | Decimal, whole: int | Decimal) -> str:
        # One decimal of a percent, in the language's own pattern (a space before % in
        # Russian and Kazakh): rounded here, since the pattern itself has no decimals.
        share = round(Decimal(part) / Decimal(whole), 3) if whole else Decimal(0)
        return format_percent(share, locale=self.lang, decimal_quantization=False)

    def money(self, minor_units: int, currency: str) -> str:
        return format_currency(Decimal(minor_units) / 100, currency, locale=self.lang)

    def tenge(self, amount: Decimal) -> str:
        """An amount in tenge (the plans' budgets are kept in whole tenge as decimals)."""
        return format_currency(amount, "KZT", locale=self.lang)

    def day(self, value: date | None) -> str:
        return format_date(value, "medium", locale=self.lang) if value is not None else "–"

    def moment(self, value: datetime | None) -> str:
        if value is None:
            return "–"
        return format_datetime(
            value, "medium", tzinfo=get_timezone(self.time_zone), locale=self.lang
        )
