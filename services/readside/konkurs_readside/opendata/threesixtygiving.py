"""The awards as a 360Giving Data Standard package (standard 1.4, schema in `schema/`).

One grant per support measure of a selected cluster's approved plan: a measure is what the
state grants (an amount, from one budget source, disbursed report by report), and the
cluster's selection alone carries no amount, which a 360Giving grant requires. A cluster
whose plan has no approved version yet has no grant; a winner replaced after the decision
has none either.

Identifiers:
- organisations by Kazakhstan's business identification number in org-id.guide's scheme
  `KZ-BIN` (https://org-id.guide/list/KZ-BIN, the Ministry of Finance's register);
- grants by this publisher's 360Giving prefix, the application and the measure
  (`360G-konkurs-<application id>-<measure id>`), stable across rebuilds and plan versions;
- the funder, the Government of the Republic of Kazakhstan, has no identifier in any
  register org-id.guide lists, so it is named under the publisher's prefix, as 360Giving's
  guidance on identifiers allows; the budget source (republican or local budget, a
  development institution) is its department.

Dates are the events' own: the award date is the approval of the plan version that holds
the measure; a disbursement's date is the calendar date its report gives.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import flattentool  # type: ignore[import-untyped]  # no stubs, no py.typed

VERSION = "1.4"
PREFIX = "360G-konkurs"
ORG_ID_SCHEME = "KZ-BIN"
CURRENCY = "KZT"
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
PUBLISHER = {"identifier": PREFIX, "name": "konkurs competitive selection programmes"}
FUNDER = {"id": f"{PREFIX}-GOV-KZ", "name": "Government of the Republic of Kazakhstan"}


@dataclass(frozen=True)
class Measure:
    """A support measure of the approved plan version."""

    measure_id: str
    kind: str
    amount: Decimal
    budget_source: str


@dataclass(frozen=True)
class Disbursement:
    """A disbursement of an accepted report."""

    measure_id: str
    period_id: str
    on: str
    amount: Decimal


@dataclass(frozen=True)
class Award:
    """A selected cluster, the decision that selected it and its approved plan's measures."""

    application_id: str
    call_id: str
    programme: str | None
    call_title: str | None
    registration_number: str
    cluster_name: str
    coordinator_bin: str
    coordinator_name: str | None
    region_code: str
    rank: int
    selected_at: datetime
    rationale: str
    plan_version: int
    approved_at: datetime
    measures: tuple[Measure, ...]
    disbursements: tuple[Disbursement, ...]


def org_id(bin_: str) -> str:
    """An organisation's identifier from its BIN, in org-id.guide's scheme."""
    return f"{ORG_ID_SCHEME}-{bin_}"


def grant_id(award: Award, measure: Measure) -> str:
    """The grant of `measure` to the cluster of `award`."""
    return f"{PREFIX}-{award.application_id}-{measure.measure_id}"


def _number(amount: Decimal) -> int | float:
    """An amount as a JSON number: whole tenge as an integer, else as a float."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def grants(award: Award) -> list[dict[str, Any]]:
    """The grants of one award, one per support measure, in the plan's order."""
    out = []
    for measure in award.measures:
        paid = [d for d in award.disbursements if d.measure_id == measure.measure_id]
        gid = grant_id(award, measure)
        grant: dict[str, Any] = {
            "id": gid,
            "title": f"{measure.kind}: {award.cluster_name}",
            "description": (
                f"State support measure '{measure.kind}' ({measure.budget_source}) for the "
                f"territorial cluster '{award.cluster_name}' (application "
                f"{award.registration_number}, ranked {award.rank}), selected in call "
                f"{award.call_id} on {award.selected_at.date().isoformat()}; plan version "
                f"{award.plan_version}."
                + (f" Rationale of the commission: {award.rationale}" if award.rationale else "")
            ),
            "currency": CURRENCY,
            "amountAwarded": _number(measure.amount),
            "amountDisbursed": _number(sum((d.amount for d in paid), Decimal(0))),
            "awardDate": award.approved_at.isoformat(),
            "recipientOrganization": [
                {
                    "id": org_id(award.coordinator_bin),
                    "name": award.coordinator_name or award.cluster_name,
                    "companyNumber": award.coordinator_bin,
                    "addressCountry": "Kazakhstan",
                }
            ],
            "fundingOrganization": [{**FUNDER, "department": measure.budget_source}],
            "beneficiaryLocation": [
                {"countryCode": "KZ", "geoCode": award.region_code, "geoCodeType": "ISO 3166-2"}
            ],
            "grantProgramme": [
                {
                    "code": award.programme or award.call_id,
                    "title": award.call_title or award.call_id,
                }
            ],
            "fromOpenCall": "Yes",
            "relatedActivity": [award.registration_number],
        }
        if paid:
            grant["disbursementTransaction"] = [
                {
                    "id": f"{gid}-{d.period_id}-{n}",
                    "transactionDate": d.on,
                    "value": _number(d.amount),
                    "currency": CURRENCY,
                }
                for n, d in enumerate(paid, 1)
            ]
        out.append(grant)
    return out


def package(awards: Sequence[Award], *, issued: datetime) -> dict[str, Any]:
    """The 360Giving package of `awards`, issued at `issued`. With no award approved yet its
    `grants` are empty, which the standard's package schema (at least one grant) refuses: an
    honest empty answer rather than an invented grant."""
    return {
        "version": VERSION,
        "title": "konkurs awards: selected clusters and their state support measures",
        "description": (
            "The clusters selected by the commission of each call of a competitive selection "
            "programme and the state support measures of their approved development plans, "
            "one grant per measure, with the disbursements of accepted reports."
        ),
        "issued": issued.isoformat(),
        "license": LICENSE,
        "publisher": PUBLISHER,
        "grants": [g for award in awards for g in grants(award)],
    }


def _schema_dir() -> Path:
    return Path(str(resources.files(__package__).joinpath("schema")))


def grant_schema() -> dict[str, Any]:
    """The official 360Giving grant schema, as fetched."""
    loaded: dict[str, Any] = json.loads((_schema_dir() / "360-giving-schema.json").read_text())
    return loaded


def package_schema() -> dict[str, Any]:
    """The official 360Giving package schema, as fetched."""
    loaded: dict[str, Any] = json.loads(
        (_schema_dir() / "360-giving-package-schema.json").read_text()
    )
    return loaded


def to_csv(pkg: dict[str, Any]) -> str:
    """The package's grants as 360Giving's one-sheet CSV: flattentool with the standard's
    column titles (`Identifier`, `Amount Awarded`, `Recipient Org:Identifier`, ...), one row
    per grant, organisations, locations and programmes rolled up into it. Disbursement
    transactions have no column there (they would need a sheet of their own); the JSON
    holds them, and `Amount Disbursed` sums them."""
    with tempfile.TemporaryDirectory(prefix="konkurs-360g-") as tmp, warnings.catch_warnings():
        # flattentool warns of the schema's untitled fields (the transactions) on every
        # run: a fact of the standard's schema, documented above, not of this package.
        warnings.simplefilter("ignore", flattentool.exceptions.FlattenToolWarning)
        root = Path(tmp)
        (root / "package.json").write_text(json.dumps(pkg))
        flattentool.flatten(
            str(root / "package.json"),
            # The grant schema (flattentool reads the schema of one row of the root list),
            # from the package: nothing is fetched.
            schema=str(_schema_dir() / "360-giving-schema.json"),
            output_name=str(root / "out"),
            output_format="csv",
            main_sheet_name="grants",
            root_list_path="grants",
            rollup=True,
            use_titles=True,
            root_id="",
            line_terminator="LF",
        )
        return (root / "out" / "grants.csv").read_text(encoding="utf-8")
