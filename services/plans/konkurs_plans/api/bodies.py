"""The request bodies of the plan routes, parsed into the domain's values (the edge only
parses: every rule of a plan lives in its decider)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from konkurs_plans.domain.plans import (
    Direction,
    Disbursement,
    DisbursementMade,
    Indicator,
    IndicatorActual,
    Milestone,
    MilestoneStatus,
    MilestoneTransition,
    PlanContent,
    SupportMeasure,
    Target,
)

_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)
# Exact decimals travel as strings, never as JSON numbers (which a parser may turn into floats).
DecimalText = Annotated[
    str, StringConstraints(pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$"), Field(examples=["12.5"])
]
AmountText = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{1,15}(\.[0-9]{1,2})?$"), Field(examples=["1250000.00"])
]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Status = Literal["scheduled", "met", "partly_met", "not_met", "cancelled"]


class MilestoneBody(BaseModel):
    model_config = _Strict
    milestone_id: Slug
    title: Text
    phase_id: Slug
    owner: Text = Field(description="An organisation (name or BIN), never a person's name.")
    due_on: date
    status: Status = "scheduled"
    met_on: date | None = None

    def parsed(self) -> Milestone:
        return Milestone(
            self.milestone_id,
            self.title,
            self.phase_id,
            self.owner,
            self.due_on,
            MilestoneStatus(self.status),
            self.met_on,
        )


class TargetBody(BaseModel):
    model_config = _Strict
    period_id: Slug
    value: DecimalText


class IndicatorBody(BaseModel):
    model_config = _Strict
    code: Slug
    name: Text
    unit: Text
    direction: Literal["increasing", "decreasing"]
    baseline_year: int = Field(ge=1991, le=2100)
    baseline_value: DecimalText
    targets: list[TargetBody] = Field(default=[], max_length=100)

    def parsed(self) -> Indicator:
        return Indicator(
            self.code,
            self.name,
            self.unit,
            Direction(self.direction),
            self.baseline_year,
            Decimal(self.baseline_value),
            tuple(Target(t.period_id, Decimal(t.value)) for t in self.targets),
        )


class DisbursementBody(BaseModel):
    model_config = _Strict
    on: date
    amount: AmountText

    def parsed(self) -> Disbursement:
        return Disbursement(self.on, Decimal(self.amount))


class SupportMeasureBody(BaseModel):
    model_config = _Strict
    measure_id: Slug
    kind: Text
    amount: AmountText = Field(description="In tenge.")
    budget_source: Text
    planned: list[DisbursementBody] = Field(default=[], max_length=100)

    def parsed(self) -> SupportMeasure:
        return SupportMeasure(
            self.measure_id,
            self.kind,
            Decimal(self.amount),
            self.budget_source,
            tuple(d.parsed() for d in self.planned),
        )


class ContentBody(BaseModel):
    model_config = _Strict
    summary: str = Field(default="", max_length=20000)
    milestones: list[MilestoneBody] = Field(default=[], max_length=500)
    indicators: list[IndicatorBody] = Field(default=[], max_length=200)
    support_measures: list[SupportMeasureBody] = Field(default=[], max_length=200)

    def parsed(self) -> PlanContent:
        return PlanContent(
            tuple(m.parsed() for m in self.milestones),
            tuple(x.parsed() for x in self.indicators),
            tuple(s.parsed() for s in self.support_measures),
            self.summary,
        )


class DraftBody(BaseModel):
    model_config = _Strict
    content: ContentBody
    reason: str = Field(
        default="", max_length=5000, description="Why the plan changes: required for an amendment."
    )


class CommentsBody(BaseModel):
    model_config = _Strict
    comments: str = Field(min_length=1, max_length=5000, description="What is to change, and why.")


class ActualBody(BaseModel):
    model_config = _Strict
    code: Slug
    value: DecimalText
    evidence_sha256: list[str] = Field(
        default=[], max_length=50, description="SHA-256 (lower-case hex) of each document."
    )


class TransitionBody(BaseModel):
    model_config = _Strict
    milestone_id: Slug
    status: Status
    met_on: date | None = None


class DisbursementMadeBody(BaseModel):
    model_config = _Strict
    measure_id: Slug
    on: date
    amount: AmountText


class ReportBody(BaseModel):
    model_config = _Strict
    actuals: list[ActualBody] = Field(default=[], max_length=200)
    milestones: list[TransitionBody] = Field(default=[], max_length=500)
    disbursements: list[DisbursementMadeBody] = Field(default=[], max_length=500)
    narrative: str = Field(default="", max_length=20000)

    def actuals_parsed(self) -> tuple[IndicatorActual, ...]:
        return tuple(
            IndicatorActual(a.code, Decimal(a.value), tuple(a.evidence_sha256))
            for a in self.actuals
        )

    def milestones_parsed(self) -> tuple[MilestoneTransition, ...]:
        return tuple(
            MilestoneTransition(t.milestone_id, MilestoneStatus(t.status), t.met_on)
            for t in self.milestones
        )

    def disbursements_parsed(self) -> tuple[DisbursementMade, ...]:
        return tuple(
            DisbursementMade(d.measure_id, Disbursement(d.on, Decimal(d.amount)))
            for d in self.disbursements
        )
