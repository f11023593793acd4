"""HTTP: announce, amend, read and list calls."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from konkurs_intake.api.deps import Intake, intake
from konkurs_intake.api.errors import CALL_NOT_FOUND, CALL_PROBLEMS, problem_of
from konkurs_intake.api.text import Line, Prose
from konkurs_intake.domain.calls import (
    Aggregation,
    AmendCall,
    AnnounceCall,
    AnnouncedCall,
    CallDefinition,
    CallState,
    ClosedCall,
    Criterion,
    CriterionKind,
    EligibilityRules,
    LocalizedText,
    Methodology,
    NoCall,
    ScaleStep,
)
from konkurs_intake.domain.regions import RegionSet
from konkurs_platform.auth import Principal, Role, authenticated, require
from konkurs_platform.problems import Problem, problem_responses
from konkurs_platform.ratelimit import TOO_MANY_REQUESTS, limit_writes
from konkurs_platform.service import command_metadata, idempotent, refusals_as_problems
from konkurs_platform.web import etag_for, parse_if_match

# Writes are limited per caller (429 with Retry-After); reads are not.
router = APIRouter(prefix="/v1/calls", tags=["calls"], dependencies=[Depends(limit_writes)])

ANNOUNCERS = (Role.OPERATOR, Role.ADMIN)

_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)

CALL_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,63}$"
# A call id in a path: one that cannot name a call is refused before it reaches the store.
CallIdPath = Annotated[str, Path(pattern=CALL_ID_PATTERN, examples=["kz-clusters-2017"])]


class Text(BaseModel):
    """Text in Russian, Kazakh and/or English; at least one."""

    model_config = _Strict
    ru: Line = Field("", max_length=2000)
    kk: Line = Field("", max_length=2000)
    en: Line = Field("", max_length=2000)

    @model_validator(mode="after")
    def _one_language(self) -> Text:
        if not (self.ru or self.kk or self.en):
            raise ValueError("give the text in at least one of ru, kk, en")
        return self

    def domain(self) -> LocalizedText:
        return LocalizedText(self.ru, self.kk, self.en)


class OptionalText(Text):
    """Longer text, which may run over several lines; it may be left out."""

    ru: Prose = Field("", max_length=2000)
    kk: Prose = Field("", max_length=2000)
    en: Prose = Field("", max_length=2000)

    @model_validator(mode="after")
    def _one_language(self) -> OptionalText:
        return self


class CriterionBody(BaseModel):
    model_config = _Strict
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["cooperation"])
    name: Text
    weight: int = Field(ge=1, le=100, description="Percent; the weights of a call sum to 100.")
    scale_min: int = Field(0, ge=0, le=1000)
    scale_max: int = Field(5, ge=1, le=1000)
    kind: Literal["automatic", "expert"]
    threshold: int = Field(ge=0, le=1000, description="Minimum score on this criterion.")


TIE_BREAK_PATTERN = r"^(criterion:[a-z0-9][a-z0-9_-]{0,63}|registration)$"


class MethodologyBody(BaseModel):
    model_config = _Strict
    criteria: list[CriterionBody] = Field(min_length=1, max_length=50)
    overall_threshold: int = Field(
        ge=0, le=100, description="Minimum weighted score, each criterion normalised to 0-100."
    )
    experts_per_application: int = Field(3, ge=1, le=50)
    divergence_threshold: int = Field(
        2, ge=0, le=1000, description="Largest expert spread on a criterion without consensus."
    )
    scale_step: Literal["half", "whole"] = Field("half", description="Step of expert scores.")
    min_comment_chars: int = Field(
        30, ge=1, le=10000, description="Least length of an expert's comment per criterion."
    )
    aggregation: Literal["mean", "median"] = "mean"
    blind_applicants: bool = Field(False, description="Experts see no applicant names or BINs.")
    exclude_same_region_experts: bool = Field(
        False, description="Never assign an expert from the application's region."
    )
    evaluation_days: int = Field(14, ge=1, le=365, description="Days an expert has to submit.")
    tie_break: list[Annotated[str, Field(pattern=TIE_BREAK_PATTERN)]] = Field(
        default_factory=lambda: ["registration"],
        max_length=51,
        description="Orders equal overall scores: criterion:<id> entries, then registration.",
    )


class EligibilityBody(BaseModel):
    model_config = _Strict
    min_participants: int = Field(ge=1, le=10000)
    min_sme_share_percent: int = Field(ge=0, le=100)
    require_university_or_research: bool
    required_document_kinds: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]] = (
        Field(default_factory=list, max_length=30)
    )


class CallBody(BaseModel):
    """A call's definition (what an amendment replaces whole)."""

    model_config = _Strict
    title: Text
    description: OptionalText = Field(default_factory=lambda: OptionalText())
    programme: Line = Field(min_length=1, max_length=200)
    opens_at: AwareDatetime = Field(
        description="With an explicit offset, e.g. 2017-04-10T00:00:00+06:00"
    )
    closes_at: AwareDatetime
    timezone: str = Field("Asia/Almaty", max_length=64, pattern=r"^[A-Za-z_]+(/[A-Za-z_+-]+)*$")
    quota: int = Field(ge=1, le=1000)
    region_set: Literal["2017", "current"]
    regions: list[Annotated[str, Field(pattern=r"^KZ-[0-9]{2}$")]] = Field(
        min_length=1, max_length=30
    )
    eligibility: EligibilityBody
    methodology: MethodologyBody

    def domain(self) -> CallDefinition:
        return CallDefinition(
            title=self.title.domain(),
            description=self.description.domain(),
            programme=self.programme,
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            timezone=self.timezone,
            quota=self.quota,
            region_set=RegionSet(self.region_set),
            regions=tuple(self.regions),
            eligibility=EligibilityRules(
                self.eligibility.min_participants,
                self.eligibility.min_sme_share_percent,
                self.eligibility.require_university_or_research,
                tuple(self.eligibility.required_document_kinds),
            ),
            methodology=Methodology(
                criteria=tuple(
                    Criterion(
                        c.id,
                        c.name.domain(),
                        c.weight,
                        c.scale_min,
                        c.scale_max,
                        CriterionKind(c.kind),
                        c.threshold,
                    )
                    for c in self.methodology.criteria
                ),
                overall_threshold=self.methodology.overall_threshold,
                experts_per_application=self.methodology.experts_per_application,
                divergence_threshold=self.methodology.divergence_threshold,
                scale_step=ScaleStep(self.methodology.scale_step),
                min_comment_chars=self.methodology.min_comment_chars,
                aggregation=Aggregation(self.methodology.aggregation),
                blind_applicants=self.methodology.blind_applicants,
                exclude_same_region_experts=self.methodology.exclude_same_region_experts,
                evaluation_days=self.methodology.evaluation_days,
                tie_break=tuple(self.methodology.tie_break),
            ),
        )


class AnnounceCallBody(CallBody):
    call_id: str = Field(
        pattern=CALL_ID_PATTERN,
        description="A readable slug, unique among calls.",
        examples=["kz-clusters-2017"],
    )


class CallView(BaseModel):
    call_id: str
    version: int
    status: Literal["announced", "open", "closed"]
    closed_at: datetime | None = None
    definition: CallBody


def _view(state: CallState, version: int, now: datetime) -> CallView:
    assert isinstance(state, AnnouncedCall | ClosedCall)
    d = state.definition
    body = CallBody(
        title=Text(ru=d.title.ru, kk=d.title.kk, en=d.title.en),
        description=OptionalText(ru=d.description.ru, kk=d.description.kk, en=d.description.en),
        programme=d.programme,
        opens_at=d.opens_at,
        closes_at=d.closes_at,
        timezone=d.timezone,
        quota=d.quota,
        region_set=d.region_set.value,  # type: ignore[arg-type]
        regions=list(d.regions),
        eligibility=EligibilityBody(
            min_participants=d.eligibility.min_participants,
            min_sme_share_percent=d.eligibility.min_sme_share_percent,
            require_university_or_research=d.eligibility.require_university_or_research,
            required_document_kinds=list(d.eligibility.required_document_kinds),
        ),
        methodology=MethodologyBody(
            criteria=[
                CriterionBody(
                    id=c.id,
                    name=Text(ru=c.name.ru, kk=c.name.kk, en=c.name.en),
                    weight=c.weight,
                    scale_min=c.scale_min,
                    scale_max=c.scale_max,
                    kind=c.kind.value,  # type: ignore[arg-type]
                    threshold=c.threshold,
                )
                for c in d.methodology.criteria
            ],
            overall_threshold=d.methodology.overall_threshold,
            experts_per_application=d.methodology.experts_per_application,
            divergence_threshold=d.methodology.divergence_threshold,
            scale_step=d.methodology.scale_step.value,  # type: ignore[arg-type]
            min_comment_chars=d.methodology.min_comment_chars,
            aggregation=d.methodology.aggregation.value,  # type: ignore[arg-type]
            blind_applicants=d.methodology.blind_applicants,
            exclude_same_region_experts=d.methodology.exclude_same_region_experts,
            evaluation_days=d.methodology.evaluation_days,
            tie_break=list(d.methodology.tie_break),
        ),
    )
    if isinstance(state, ClosedCall):
        status, closed_at = "closed", state.closed_at
    else:
        status, closed_at = ("open" if d.opens_at <= now < d.closes_at else "announced"), None
    return CallView(
        call_id=state.call_id,
        version=version,
        status=status,  # type: ignore[arg-type]
        closed_at=closed_at,
        definition=body,
    )


def _json(view: CallView, status: int = 200) -> JSONResponse:
    return JSONResponse(
        view.model_dump(mode="json"),
        status_code=status,
        headers={"ETag": etag_for(view.version), "Location": f"/v1/calls/{view.call_id}"},
    )


@router.post(
    "",
    status_code=201,
    response_model=CallView,
    responses=problem_responses(
        400, 401, 403, 409, 413, 415, 422, TOO_MANY_REQUESTS, *CALL_PROBLEMS
    ),
    summary="Announce a call",
)
async def announce_call(
    body: AnnounceCallBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(*ANNOUNCERS))],
    svc: Annotated[Intake, Depends(intake)],
) -> Response:
    """Announce a competition: its window, quota, regions, eligibility rules and methodology.

    Send `Idempotency-Key` to make a retry safe."""
    now = svc.clock()

    async def run(conn: object) -> Response:
        with refusals_as_problems(None, problem_of):
            outcome = await svc.calls.handle_announce_call(
                AnnounceCall(body.call_id, body.domain(), now),
                command_metadata(principal),
                conn,  # type: ignore[arg-type]
            )
        return _json(_view(outcome.state, outcome.version, now), 201)

    response = await idempotent(request, principal, svc.pool, svc.idempotency, run)
    svc.closer.wake()
    return response


@router.put(
    "/{call_id}",
    response_model=CallView,
    responses=problem_responses(
        400, 401, 403, 404, 409, 412, 413, 422, TOO_MANY_REQUESTS, *CALL_PROBLEMS
    ),
    summary="Amend a call before it opens",
)
async def amend_call(
    call_id: CallIdPath,
    body: CallBody,
    principal: Annotated[Principal, Depends(require(*ANNOUNCERS))],
    svc: Annotated[Intake, Depends(intake)],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Replace the call's definition; allowed until the call opens. Send `If-Match` with the
    ETag you read to be sure you amend what you saw (412 if it changed since)."""
    expected = parse_if_match(if_match)
    now = svc.clock()
    async with svc.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems(expected, problem_of):
            outcome = await svc.calls.handle_amend_call(
                AmendCall(call_id, body.domain(), now), command_metadata(principal), conn, expected
            )
    svc.closer.wake()
    return _json(_view(outcome.state, outcome.version, now))


@router.get(
    "/{call_id}",
    response_model=CallView,
    responses=problem_responses(401, 404, CALL_NOT_FOUND),
    summary="A call, as it stands",
)
async def get_call(
    call_id: CallIdPath,
    _: Annotated[Principal, Depends(authenticated)],
    svc: Annotated[Intake, Depends(intake)],
) -> Response:
    loaded = await svc.calls.load(call_id)
    if isinstance(loaded.state, NoCall):
        raise Problem(CALL_NOT_FOUND, f"There is no call {call_id}.")
    return _json(_view(loaded.state, loaded.version, svc.clock()))


class CallSummary(BaseModel):
    call_id: str
    version: int
    opens_at: datetime
    closes_at: datetime
    closed: bool


@router.get(
    "", response_model=list[CallSummary], responses=problem_responses(401), summary="All calls"
)
async def list_calls(
    _: Annotated[Principal, Depends(authenticated)],
    svc: Annotated[Intake, Depends(intake)],
) -> list[CallSummary]:
    return [CallSummary(**vars(listing)) for listing in await svc.calls.list_calls()]
