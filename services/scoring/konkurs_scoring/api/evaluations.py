"""HTTP: an application's evaluation. Experts draft, submit and read their own (blind: the
others' only after their own submission); the rapporteur records consensus; operators name
the rapporteur, follow the evaluation and reopen it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.db import Connection
from konkurs_platform.domain import DomainError
from konkurs_platform.handler import Outcome
from konkurs_platform.idempotency import IdempotencyStore
from konkurs_platform.problems import problem_responses
from konkurs_platform.ratelimit import TOO_MANY_REQUESTS, limit_writes
from konkurs_platform.service import (
    command_metadata,
    command_problem,
    idempotent,
    refusals_as_problems,
)
from konkurs_platform.web import ID_PATTERN, Identifier, etag_for, parse_if_match
from konkurs_scoring.app.evaluation import Evaluations
from konkurs_scoring.domain.aggregation import CriterionScore
from konkurs_scoring.domain.evaluation import Evaluation, expert_view

router = APIRouter(
    prefix="/v1/applications", tags=["evaluations"], dependencies=[Depends(limit_writes)]
)

OVERSEERS = (Role.OPERATOR, Role.ADMIN, Role.AUDITOR)
_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Async, though it awaits nothing: FastAPI runs a plain `def` dependency in a thread pool.
async def evaluations(request: Request) -> Evaluations:
    """Dependency: the evaluation handlers `bootstrap` built (`app.evaluation.build`)."""
    service: Evaluations = request.app.state.scoring.evaluation
    return service


class ScoreBody(BaseModel):
    model_config = _Strict
    criterion_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["strategy"])
    score: float = Field(
        ge=0, le=1000, description="Points on the criterion's scale, in the methodology's step."
    )
    comment: str = Field("", max_length=10000)

    @field_validator("score")
    @classmethod
    def _half_points(cls, value: float) -> float:
        if not (value * 2).is_integer():
            raise ValueError("a score is a whole or half number of points")
        return value

    def domain(self) -> CriterionScore:
        return CriterionScore(self.criterion_id, int(self.score * 2), self.comment)


class ScoresBody(BaseModel):
    """An expert's scores: every expert criterion for a submission, any for a draft."""

    model_config = _Strict
    scores: list[ScoreBody] = Field(max_length=50)

    def domain(self) -> tuple[CriterionScore, ...]:
        return tuple(s.domain() for s in self.scores)


class ConsensusBody(ScoresBody):
    justification: str = Field(max_length=20000)


class RapporteurBody(BaseModel):
    model_config = _Strict
    expert_id: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)


class ReopenBody(BaseModel):
    model_config = _Strict
    reason: str = Field(min_length=1, max_length=5000)


def scores_json(scores: Sequence[CriterionScore] | None) -> list[dict[str, Any]] | None:
    """Scores as the API shows them: points, not half points."""
    if scores is None:
        return None
    return [
        {"criterion_id": s.criterion_id, "score": s.half_points / 2, "comment": s.comment}
        for s in scores
    ]


def final_json(state: Evaluation) -> dict[str, Any] | None:
    """The final scores, rounded for reading (the events keep the exact fractions)."""
    final = state.final
    if final is None:
        return None
    return {
        "scores": [
            {
                "criterion_id": s.criterion_id,
                "score": round(float(s.score), 4),
                "exact": f"{s.score.numerator}/{s.score.denominator}",
                "basis": s.basis.value,
            }
            for s in final.scores
        ],
        "overall": round(float(final.overall), 4),
        "fundable": final.fundable,
        "failed_thresholds": list(final.failed_thresholds),
    }


def _expert_json(state: Evaluation, expert_id: str, application_id: str) -> dict[str, Any]:
    view = expert_view(state, expert_id)
    others: Mapping[str, Any] = {k: scores_json(v) for k, v in view.others.items()}
    return {
        "application_id": application_id,
        "round": view.round,
        "status": view.status,
        "draft": scores_json(view.draft),
        "submitted": scores_json(view.submitted),
        "others": others,
        "rapporteur": view.rapporteur,
        "final": final_json(state) if view.submitted is not None else None,
    }


def _overseer_json(state: Evaluation, application_id: str) -> dict[str, Any]:
    return {
        "application_id": application_id,
        "round": state.round,
        "status": state.status,
        "drafting": sorted(state.drafts),
        "submitted": {k: scores_json(v) for k, v in sorted(state.submitted.items())},
        "divergences": [
            {"criterion_id": d.criterion_id, "lowest": d.lowest / 2, "highest": d.highest / 2}
            for d in state.divergences
        ],
        "rapporteur": state.rapporteur,
        "consensus": None
        if state.consensus is None
        else {
            "expert_id": state.consensus.expert_id,
            "scores": scores_json(state.consensus.scores),
            "justification": state.consensus.justification,
        },
        "final": final_json(state),
    }


def _answer(body: dict[str, Any], version: int, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"ETag": etag_for(version)})


def _expert_answer(
    outcome: Outcome[Evaluation], principal: Principal, application_id: str
) -> JSONResponse:
    return _answer(_expert_json(outcome.state, principal.subject, application_id), outcome.version)


_WRITE_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 412, 422, TOO_MANY_REQUESTS)


@router.get(
    "/{application_id}/evaluation",
    responses=problem_responses(401, 403, 404, 422),
    summary="An application's evaluation: an expert's own, or the whole for operators",
)
async def get_evaluation(
    application_id: Identifier,
    principal: Annotated[Principal, Depends(require(Role.EXPERT, *OVERSEERS))],
    svc: Annotated[Evaluations, Depends(evaluations)],
) -> Response:
    """An expert sees their draft or submission, and the other experts' submissions only
    once their own is in. Operators, admins and auditors see every submission, the
    divergences, the rapporteur, the consensus report and the final scores."""
    expert_id = principal.subject if principal.role is Role.EXPERT else None
    async with svc.pool.acquire() as conn:
        try:
            loaded = await svc.view(conn, application_id, expert_id)
        except DomainError as exc:
            raise command_problem(exc) from exc
    if expert_id is not None:
        return _answer(_expert_json(loaded.state, expert_id, application_id), loaded.version)
    return _answer(_overseer_json(loaded.state, application_id), loaded.version)


@router.put(
    "/{application_id}/evaluation/draft",
    responses=_WRITE_PROBLEMS,
    summary="Save a draft of your evaluation",
)
async def save_draft(
    application_id: Identifier,
    body: ScoresBody,
    principal: Annotated[Principal, Depends(require(Role.EXPERT))],
    svc: Annotated[Evaluations, Depends(evaluations)],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Save your scores so far (any criteria, comments of any length); the next draft
    replaces it. Only you see it. Refused before you declare no conflict of interest."""
    expected = parse_if_match(if_match)
    async with svc.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems(expected):
            outcome = await svc.handle_save_draft(
                conn,
                application_id,
                principal.subject,
                body.domain(),
                command_metadata(principal),
                expected,
            )
    return _expert_answer(outcome, principal, application_id)


@router.post(
    "/{application_id}/evaluation:submit",
    responses=_WRITE_PROBLEMS,
    summary="Submit your evaluation (then it is locked)",
)
async def submit_evaluation(
    application_id: Identifier,
    body: ScoresBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.EXPERT))],
    svc: Annotated[Evaluations, Depends(evaluations)],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Submit a score and a comment of the methodology's least length for every expert
    criterion. Once the whole panel has submitted, the evaluation is final or, if the experts
    diverge beyond the methodology's limit, awaits the rapporteur's consensus report. Send
    `Idempotency-Key` to make a retry safe."""
    expected = parse_if_match(if_match)

    async def run(conn: Connection) -> Response:
        with refusals_as_problems(expected):
            outcome = await svc.handle_submit_evaluation(
                conn,
                application_id,
                principal.subject,
                body.domain(),
                command_metadata(principal),
                expected,
            )
        return _expert_answer(outcome, principal, application_id)

    return await idempotent(request, principal, svc.pool, IdempotencyStore(svc.store.schema), run)


@router.put(
    "/{application_id}/evaluation/rapporteur",
    responses=_WRITE_PROBLEMS,
    summary="Name the rapporteur who writes the consensus report",
)
async def name_rapporteur(
    application_id: Identifier,
    body: RapporteurBody,
    principal: Annotated[Principal, Depends(require(Role.OPERATOR, Role.ADMIN))],
    svc: Annotated[Evaluations, Depends(evaluations)],
) -> Response:
    """Replace the rapporteur the rule named (the panel's first assigned expert) with another
    expert of the panel who submitted."""
    async with svc.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems():
            outcome = await svc.handle_name_rapporteur(
                conn, application_id, body.expert_id, command_metadata(principal)
            )
    return _answer(_overseer_json(outcome.state, application_id), outcome.version)


@router.post(
    "/{application_id}/evaluation/consensus",
    responses=_WRITE_PROBLEMS,
    summary="Record the panel's consensus report (the rapporteur)",
)
async def record_consensus(
    application_id: Identifier,
    body: ConsensusBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.EXPERT))],
    svc: Annotated[Evaluations, Depends(evaluations)],
) -> Response:
    """The agreed score and comment of every expert criterion, and why: it counts instead of
    the aggregated scores and makes the evaluation final. Send `Idempotency-Key` to make a
    retry safe."""

    async def run(conn: Connection) -> Response:
        with refusals_as_problems():
            outcome = await svc.handle_record_consensus(
                conn,
                application_id,
                principal.subject,
                body.domain(),
                body.justification,
                command_metadata(principal),
            )
        return _expert_answer(outcome, principal, application_id)

    return await idempotent(request, principal, svc.pool, IdempotencyStore(svc.store.schema), run)


@router.post(
    "/{application_id}/evaluation:reopen",
    responses=_WRITE_PROBLEMS,
    summary="Reopen a final evaluation for a new round",
)
async def reopen_evaluation(
    application_id: Identifier,
    body: ReopenBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.OPERATOR, Role.ADMIN))],
    svc: Annotated[Evaluations, Depends(evaluations)],
) -> Response:
    """What an upheld appeal will do once the commission publishes it: a new round with the
    panel as assigned then; the published ranking stays and a new version follows when the
    round is final. Send `Idempotency-Key` to make a retry safe."""

    async def run(conn: Connection) -> Response:
        with refusals_as_problems():
            outcome = await svc.handle_reopen_evaluation(
                conn, application_id, body.reason, "", command_metadata(principal)
            )
        return _answer(_overseer_json(outcome.state, application_id), outcome.version)

    return await idempotent(request, principal, svc.pool, IdempotencyStore(svc.store.schema), run)
