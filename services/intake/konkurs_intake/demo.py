"""The 2017 competition of territorial clusters as demo data.

What is real (reference/competition-2017.md): the window (2017-04-10 to 2017-06-08, Astana
time, UTC+6), the quota of 6, the 2017 regions, and 21 applications from 11 regions in the
distribution of the ministry's press release of 2017-06-14. What is invented, and marked
`illustrative`: the methodology (the 2017 weights were not published; this one is modelled
on EU evaluations and the ESCA cluster labels), every application's content, and the
moments the applications were received.

Everything is recorded through the historical-import path (events at their 2017 moments,
`imported=True`, actor `demo-loader`), in one transaction: a second load finds the call in
place and changes nothing, and a load interrupted half-way leaves nothing behind. Ids are
derived from the call and the application's place in the list.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg

from konkurs_intake.app.applications import Applications, Submission
from konkurs_intake.app.calls import Calls
from konkurs_intake.domain.applications import (
    ApplicationContent,
    Cluster,
    CoFinancing,
    ContactPerson,
    Document,
    Money,
    Organisation,
    Participant,
    ParticipantKind,
    SupportRequest,
)
from konkurs_intake.domain.calls import (
    AnnounceCall,
    CallDefinition,
    CloseCall,
    Criterion,
    CriterionKind,
    EligibilityRules,
    LocalizedText,
    Methodology,
    NoCall,
)
from konkurs_intake.domain.identifiers import check_digit
from konkurs_intake.domain.regions import RegionSet, region_codes
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import Metadata

CALL_ID = "kz-clusters-2017"
ASTANA_2017 = timezone(timedelta(hours=6))
OPENS_AT = datetime(2017, 4, 10, tzinfo=ASTANA_2017)
# The window ends with 8 June: applications are accepted until midnight, Astana time.
CLOSES_AT = datetime(2017, 6, 9, tzinfo=ASTANA_2017)
ACTOR = Actor(subject="demo-loader", role="operator")
_IDS = uuid.UUID("0b5c7a52-3c1e-4d0e-9a51-6b6f6e6b2017")


def _text(ru: str, kk: str, en: str) -> LocalizedText:
    return LocalizedText(ru=ru, kk=kk, en=en)


def _expert(id: str, weight: int, ru: str, kk: str, en: str) -> Criterion:
    # EU evaluations: each criterion scored 0-5 by at least 3 experts, threshold 3.
    return Criterion(id, _text(ru, kk, en), weight, 0, 5, CriterionKind.EXPERT, 3)


CALL = CallDefinition(
    title=_text(
        "Конкурсный отбор территориальных кластеров 2017 года",
        "2017 жылғы аумақтық кластерлерді конкурстық іріктеу",
        "2017 competitive selection of territorial clusters",
    ),
    description=_text(
        "Отбор пилотных территориальных кластеров для проекта Всемирного банка «Повышение "
        "конкурентоспособности МСП в Республике Казахстан» (иллюстративные данные).",
        "Дүниежүзілік банктің «Қазақстан Республикасында ШОБ-тың бәсекеге қабілеттілігін "
        "арттыру» жобасына пилоттық аумақтық кластерлерді іріктеу (иллюстративтік деректер).",
        "Selection of pilot territorial clusters for the World Bank project “Improving the "
        "competitiveness of SMEs in the Republic of Kazakhstan” (illustrative data).",
    ),
    programme="territorial-clusters",
    opens_at=OPENS_AT,
    closes_at=CLOSES_AT,
    timezone="Asia/Almaty",
    quota=6,
    region_set=RegionSet.Y2017,
    regions=tuple(sorted(region_codes(RegionSet.Y2017))),
    eligibility=EligibilityRules(5, 50, True, ("strategy",)),
    # The six ESCA areas, grouped into five expert criteria; EU thresholds (3 of 5 per
    # criterion, 10 of 15 overall, i.e. 66 %), 3 experts, consensus beyond a 2-point spread.
    methodology=Methodology(
        criteria=(
            _expert(
                "strategy",
                30,
                "Стратегия и рыночный потенциал",
                "Стратегия және нарықтық әлеует",
                "Strategy and market potential",
            ),
            _expert(
                "critical-mass",
                20,
                "Структура и критическая масса",
                "Құрылым және сындарлы масса",
                "Structure and critical mass",
            ),
            _expert(
                "cooperation",
                20,
                "Кооперация бизнеса, науки и государства",
                "Бизнес, ғылым және мемлекет ынтымақтастығы",
                "Cooperation of business, science and government",
            ),
            _expert(
                "governance",
                15,
                "Управление и финансирование",
                "Басқару және қаржыландыру",
                "Governance and financing",
            ),
            _expert(
                "services",
                15,
                "Услуги и достижения",
                "Қызметтер және жетістіктер",
                "Services and achievements",
            ),
        ),
        overall_threshold=66,
        experts_per_application=3,
        divergence_threshold=2,
    ),
)


@dataclass(frozen=True)
class Sketch:
    """An illustrative application: region, cluster name (ru), specialisation, its university
    (None: the cluster has none), how many large enterprises it lists, and whether its
    strategy document was uploaded with it."""

    region: str
    city: str
    name: str
    oked: tuple[str, ...]
    university: str | None
    large_enterprises: int = 1
    strategy_uploaded: bool = True


# The press release's distribution: Almaty city 4, South Kazakhstan 1, Akmola 2,
# East Kazakhstan 3, Mangystau 1, Kostanay 2, Pavlodar 3, Karaganda 2, Almaty Region 1,
# West Kazakhstan 1, Zhambyl 1.
#
# Three fail a rule of the call, as real applications do, so that screening shows it: the
# pharmaceutical cluster is two large plants and three SMEs (a share of 42 % against the
# call's 50 %), the Altai tourism cluster has no university or research partner, and the
# Oral cluster's strategy was filed on paper at the regional office, not uploaded.
SKETCHES = (
    Sketch("KZ-75", "Алматы", "ИТ-кластер Алматы", ("62010", "62020"), "КазНУ им. аль-Фараби"),
    Sketch("KZ-75", "Алматы", "Туристский кластер Алматы", ("79110", "55101"), "КазУМОиМЯ"),
    Sketch("KZ-75", "Алматы", "Пищевой кластер Алматы", ("10710", "10890"), "АТУ"),
    Sketch(
        "KZ-75",
        "Алматы",
        "Фармацевтический кластер Алматы",
        ("21200",),
        "КазНМУ",
        large_enterprises=2,
    ),
    Sketch("KZ-51", "Шымкент", "Текстильный кластер Оңтүстік", ("13100", "14130"), "ЮКГУ"),
    Sketch(
        "KZ-11", "Кокшетау", "Зерновой кластер Акмолы", ("10611", "01110"), "КГУ им. Уалиханова"
    ),
    Sketch("KZ-11", "Щучинск", "Туристский кластер Бурабай", ("55101", "79120"), "КГУ"),
    Sketch("KZ-63", "Усть-Каменогорск", "Кластер цветной металлургии", ("24430", "24420"), "ВКГТУ"),
    Sketch("KZ-63", "Усть-Каменогорск", "Мебельный кластер Шығыс", ("31090", "16100"), "ВКГУ"),
    Sketch("KZ-63", "Риддер", "Туристский кластер Алтая", ("55101", "79120"), None),
    Sketch("KZ-47", "Актау", "Нефтесервисный кластер Маңғыстау", ("09100", "33120"), "КГУТИ"),
    Sketch("KZ-39", "Костанай", "Автомобильный кластер Костаная", ("29100", "29320"), "КГУ"),
    Sketch("KZ-39", "Костанай", "Агропищевой кластер Қостанай", ("10110", "10510"), "КГУ"),
    Sketch("KZ-55", "Павлодар", "Алюминиевый кластер Павлодара", ("24420", "24530"), "ПГУ"),
    Sketch("KZ-55", "Павлодар", "Химический кластер Павлодара", ("20140", "20160"), "ПГУ"),
    Sketch("KZ-55", "Экибастуз", "Агропищевой кластер Ертіс", ("10510", "01410"), "ИнЕУ"),
    Sketch("KZ-35", "Караганда", "Горно-машиностроительный кластер", ("28920", "33120"), "КарГТУ"),
    Sketch("KZ-35", "Темиртау", "Кластер строительных материалов", ("23510", "23610"), "КарГТУ"),
    Sketch("KZ-19", "Талдыкорган", "Плодоовощной кластер Жетісу", ("10390", "01240"), "ЖГУ"),
    Sketch(
        "KZ-27",
        "Уральск",
        "Нефтегазовое машиностроение Орал",
        ("28140", "09100"),
        "ЗКАТУ",
        strategy_uploaded=False,
    ),
    Sketch("KZ-31", "Тараз", "Химический кластер Тараз", ("20150", "20130"), "ТарГУ"),
)


def demo_bin(year: int, month: int, serial: int) -> str:
    """A check-digit-valid BIN of a resident head office registered in `year`/`month`."""
    while True:
        first = f"{year % 100:02d}{month:02d}40{serial % 100000:05d}"
        digit = check_digit(first)
        if digit is not None:
            return first + str(digit)
        serial += 1


def _kzt(tenge: int) -> Money:
    return Money("KZT", tenge * 100)


def strategy_document(n: int, sketch: Sketch) -> tuple[Document, bytes]:
    text = (
        f"{sketch.name}: стратегия развития кластера на 2017-2020 годы.\n"
        "Иллюстративный документ демонстрационных данных konkurs: заявки 2017 года "
        "не опубликованы.\n"
    ).encode()
    sha = hashlib.sha256(text).hexdigest()
    return Document("strategy", f"strategy-{n + 1:02d}.txt", "text/plain", len(text), sha), text


def content(n: int, sketch: Sketch) -> ApplicationContent:
    """The invented content of the `n`-th application."""
    serial = 1000 * (n + 1)
    city = sketch.city
    # Large enterprises, three to five SMEs, the university if any and the akimat's office:
    # with one large enterprise and a university, 6 to 8 participants, at least half SMEs.
    members = [
        (ParticipantKind.LARGE_ENTERPRISE, f"АО «{city} Өнеркәсіп»"),
        *(
            (ParticipantKind.LARGE_ENTERPRISE, f"АО «{city} Өнеркәсіп-{k}»")
            for k in range(2, sketch.large_enterprises + 1)
        ),
    ]
    members += [
        (ParticipantKind.SME, f"ТОО «{city} Серіктес-{i}»")
        for i in range(len(members), len(members) + 3 + n % 3)
    ]
    if sketch.university:
        members.append((ParticipantKind.UNIVERSITY, sketch.university))
    members.append((ParticipantKind.PUBLIC_BODY, f"ГУ «Управление предпринимательства, {city}»"))
    participants = []
    for i, (kind, name) in enumerate(members):
        large = kind is ParticipantKind.LARGE_ENTERPRISE
        business = kind in (ParticipantKind.LARGE_ENTERPRISE, ParticipantKind.SME)
        participants.append(
            Participant(
                bin=demo_bin(1 + (n + i) % 16, 1 + (n * 7 + i) % 12, serial + i),
                name=name,
                kind=kind,
                employees=(850 if large else 40 + 15 * i) if business else 300,
                annual_revenue=_kzt(
                    (12_000_000_000 if large else 150_000_000 * i) if business else 0
                ),
                export_share_percent=(25 if large else 5 * (i % 4)) if business else 0,
            )
        )
    coordinator = Organisation(demo_bin(16, 1 + n % 12, serial + 900), f"ОЮЛ «{sketch.name}»")
    who = "предприятий, университета и акимата" if sketch.university else "предприятий и акимата"
    return ApplicationContent(
        cluster=Cluster(
            name=sketch.name,
            description=f"Объединение {who}: {city}, "
            f"ОКЭД {', '.join(sketch.oked)}. Иллюстративная заявка.",
            region_code=sketch.region,
            specialisation=sketch.oked,
        ),
        coordinator=coordinator,
        participants=tuple(participants),
        strategy_summary="Рост экспорта и производительности участников через совместные "
        "проекты, подготовку кадров и сервисы кластерной организации (иллюстративно).",
        requested_support=(
            SupportRequest("consulting", "Диагностика и стратегия кластера", _kzt(30_000_000)),
            SupportRequest("training", "Обучение персонала участников", _kzt(15_000_000)),
        ),
        co_financing=CoFinancing(_kzt(15_000_000 + 1_000_000 * n), 25 + n % 10),
        contact=ContactPerson(
            name=f"Контактное лицо заявки {n + 1} (вымышленное)",
            phone=f"+7 701 000 {n + 1:04d}",
            email=f"cluster{n + 1:02d}@example.kz",
        ),
        documents=(strategy_document(n, sketch)[0],) if sketch.strategy_uploaded else (),
    )


def application_id(n: int) -> str:
    return str(uuid.uuid5(_IDS, f"{CALL_ID}/{n}"))


def received_at(n: int) -> datetime:
    """Spread over the window, most near the deadline, as calls go."""
    days = 10 + (n * 37) % 49
    return OPENS_AT + timedelta(days=days, hours=9 + n % 8)


async def load(pool: asyncpg.Pool, calls: Calls, applications: Applications) -> None:
    """Record the call, the 21 applications and the call's close, once.

    One transaction, because the announcement sets the intake clock's close timer, long due
    in 2017's case: committed alone, the clock would close the call at once, dated today and
    before the applications arrive. Committed with the loader's close, the timer finds the
    call closed at its 2017 moment."""
    meta = Metadata(actor=ACTOR, correlation_id=f"demo-load:{CALL_ID}", imported=True)
    async with pool.acquire() as conn, conn.transaction():
        if not isinstance((await calls.load(CALL_ID, conn)).state, NoCall):
            return
        await calls.handle_announce_call(
            AnnounceCall(CALL_ID, CALL, OPENS_AT, illustrative=True), meta, conn
        )
        for n, sketch in sorted(enumerate(SKETCHES), key=lambda item: received_at(item[0])):
            if sketch.strategy_uploaded:
                document, text = strategy_document(n, sketch)
                await applications.store_document(conn, document, text)
            await applications.handle_submit_application(
                Submission(application_id(n), CALL_ID, content(n, sketch), illustrative=True),
                received_at(n),
                meta,
                conn,
            )
        await calls.handle_close_call(CloseCall(CALL_ID, CLOSES_AT), meta, conn)
