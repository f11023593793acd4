"""The awards as a 360Giving package: valid against the official 360Giving JSON schemas
(fetched into the package, validated with jsonschema and nothing fetched), one grant per
support measure with organisations as KZ-BIN identifiers, and the CSV that flattentool makes
of it with the standard's column titles, which flattentool reads back into the same grants."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import flattentool
import jsonschema
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from konkurs_readside.opendata.threesixtygiving import (
    Award,
    Disbursement,
    Measure,
    grant_schema,
    package,
    package_schema,
    to_csv,
)

ISSUED = datetime(2018, 7, 1, 12, tzinfo=UTC)


def award(n: int, *, disbursed: bool = True) -> Award:
    return Award(
        application_id=f"app-{n}",
        call_id="kz-clusters-2017",
        programme="territorial-clusters",
        call_title="Competitive selection of territorial clusters",
        registration_number=f"KZ-75-2017-000{n}",
        cluster_name=f"Cluster «{n}»",
        coordinator_bin=f"17044000001{n}",
        coordinator_name=f"TOO Coordinator {n}",
        region_code="KZ-75",
        rank=n,
        selected_at=datetime(2017, 7, 20, 9, tzinfo=UTC),
        rationale="" if n == 1 else "ranked below a fundable candidate: regional balance",
        plan_version=2,
        approved_at=datetime(2017, 11, 3, 10, 30, tzinfo=UTC),
        measures=(
            Measure(
                "co-financing",
                "co-financing of a cluster organisation",
                Decimal("12500000.00"),
                "republican budget",
            ),
            Measure("training", "training", Decimal("750000.50"), "local budget"),
        ),
        disbursements=(
            (
                Disbursement("co-financing", "2018-Q1", "2018-02-15", Decimal("2500000.00")),
                Disbursement("co-financing", "2018-Q2", "2018-05-15", Decimal("2500000.00")),
            )
            if disbursed
            else ()
        ),
    )


def validator() -> jsonschema.Draft202012Validator:
    """The package schema, its reference to the grant schema resolved to the fetched copy
    (registered under the `$id` it refers to), formats checked as the standard's
    `oneOf`s of date and date-time need."""
    grant = grant_schema()
    registry: Registry[Any] = Registry().with_resource(
        grant["$id"], DRAFT202012.create_resource(grant)
    )
    return jsonschema.Draft202012Validator(
        package_schema(),
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def errors(document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(document)]


def test_the_package_validates_against_the_official_360giving_schema() -> None:
    pkg = package([award(1), award(2, disbursed=False)], issued=ISSUED)
    assert errors(pkg) == []
    assert len(pkg["grants"]) == 4


def test_the_validation_refuses_what_the_standard_refuses() -> None:
    pkg = package([award(1)], issued=ISSUED)
    broken = json.loads(json.dumps(pkg))
    del broken["grants"][0]["currency"]
    broken["grants"][1]["awardDate"] = "2017-13-03"
    found = errors(broken)
    assert any(e.startswith("['grants', 0]") for e in found), found
    assert any(e.startswith("['grants', 1, 'awardDate']") for e in found), found
    # No award approved yet: the package says so, and the standard wants a grant at least.
    assert errors(package([], issued=ISSUED)) != []


def test_one_grant_per_support_measure_with_kz_bin_organisations_and_disbursements() -> None:
    grants = {g["id"]: g for g in package([award(1)], issued=ISSUED)["grants"]}
    assert set(grants) == {
        "360G-konkurs-app-1-co-financing",
        "360G-konkurs-app-1-training",
    }
    cofinancing = grants["360G-konkurs-app-1-co-financing"]
    assert cofinancing["recipientOrganization"][0]["id"] == "KZ-BIN-170440000011"
    assert cofinancing["recipientOrganization"][0]["name"] == "TOO Coordinator 1"
    assert (cofinancing["currency"], cofinancing["amountAwarded"]) == ("KZT", 12500000)
    assert cofinancing["amountDisbursed"] == 5000000
    assert [t["transactionDate"] for t in cofinancing["disbursementTransaction"]] == [
        "2018-02-15",
        "2018-05-15",
    ]
    assert cofinancing["fundingOrganization"][0]["department"] == "republican budget"
    assert cofinancing["awardDate"] == "2017-11-03T10:30:00+00:00"
    training = grants["360G-konkurs-app-1-training"]
    assert (training["amountAwarded"], training["amountDisbursed"]) == (750000.5, 0)
    assert "disbursementTransaction" not in training


def test_the_csv_has_the_standard_titles_and_reads_back_into_the_same_grants() -> None:
    pkg = package([award(1), award(2)], issued=ISSUED)
    text = to_csv(pkg)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["Identifier"] for r in rows] == [g["id"] for g in pkg["grants"]]
    first = rows[0]
    assert first["Recipient Org:Identifier"] == "KZ-BIN-170440000011"
    assert first["Amount Awarded"] == "12500000"
    assert first["Funding Org:Department"] == "republican budget"
    assert first["Beneficiary Location:Geographic Code"] == "KZ-75"
    assert rows[3]["Title"] == "training: Cluster «2»"

    # flattentool's own way back, with the same schema: the CSV holds the grants' fields.
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "csv").mkdir()
        (root / "csv" / "grants.csv").write_text(text, encoding="utf-8")
        (root / "schema.json").write_text(json.dumps(grant_schema()))
        flattentool.unflatten(
            str(root / "csv"),
            input_format="csv",
            output_name=str(root / "back.json"),
            root_list_path="grants",
            root_id="",
            schema=str(root / "schema.json"),
            convert_titles=True,
        )
        back = json.loads((root / "back.json").read_text())["grants"]
    for original, read in zip(pkg["grants"], back, strict=True):
        expected = {k: v for k, v in original.items() if k != "disbursementTransaction"}
        assert read == expected
