"""Problem details: what a client sees when its request is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Header, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from konkurs_platform.problems import (
    PROBLEM_MEDIA_TYPE,
    VALIDATION_FAILED,
    FieldError,
    Problem,
    ProblemModel,
    ProblemType,
    field_errors,
    json_pointer,
    problem_responses,
)
from konkurs_platform.settings import Settings
from konkurs_platform.web import create_app

CALL_CLOSED = ProblemType("call-closed", 409, "The call is closed", "Its window has ended.")


class Participant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bin: str = Field(min_length=12, max_length=12)

    @field_validator("bin")
    @classmethod
    def digits(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("a BIN has only digits")
        return value


class SubmitApplication(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cluster: str
    participants: list[Participant]


def build_app() -> FastAPI:
    app = create_app(
        Settings(), service="test", title="test", version="0", description="", ready_checks={}
    )

    @app.post(
        "/calls/{call_id}/applications",
        responses=problem_responses(401, 403, 422, CALL_CLOSED),
    )
    async def submit(
        call_id: int,
        body: SubmitApplication,
        limit: Annotated[int, Query(le=10)] = 5,
        x_region: Annotated[str | None, Header(pattern=r"^KZ-\d\d$")] = None,
    ) -> dict[str, str]:
        return {"ok": body.cluster}

    @app.post("/closed")
    async def closed() -> None:
        raise Problem(
            CALL_CLOSED,
            "The call closed at 2017-06-08T18:00:00+06:00.",
            errors=[FieldError("/submitted_at", "is after the deadline")],
            extensions={"closes_at": "2017-06-08T18:00:00+06:00"},
        )

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


VALID = {"cluster": "Almaty IT", "participants": [{"bin": "940140000385"}]}


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    ProblemModel.model_validate(body)
    assert body["type"] == f"https://konkurs.kz/problems/{slug}"
    assert body["status"] == status
    return body


async def test_a_valid_request_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/calls/7/applications", json=VALID)
    assert response.status_code == 200


async def test_invalid_body_fields_are_422_with_a_pointer_each(client: httpx.AsyncClient) -> None:
    body = {
        "cluster": "Almaty IT",
        "participants": [{"bin": "940140000385"}, {"bin": "94014000038X"}, {}],
    }
    response = await client.post("/calls/7/applications", json=body)
    problem = assert_problem(response, 422, "validation-failed")
    assert problem["instance"] == "/calls/7/applications"
    assert problem["errors"] == [
        {"pointer": "/participants/1/bin", "reason": "a BIN has only digits"},
        {"pointer": "/participants/2/bin", "reason": "is required"},
    ]


async def test_unknown_field_is_named_by_its_pointer(client: httpx.AsyncClient) -> None:
    body = {**VALID, "participants": [{"bin": "940140000385", "iin": "1"}]}
    response = await client.post("/calls/7/applications", json=body)
    problem = assert_problem(response, 422, "validation-failed")
    assert problem["errors"] == [{"pointer": "/participants/0/iin", "reason": "unknown field"}]


async def test_invalid_parameters_are_named_with_where_they_are(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/calls/seven/applications?limit=11", json=VALID, headers={"X-Region": "Almaty"}
    )
    problem = assert_problem(response, 422, "validation-failed")
    located = {(e["in"], e["parameter"]) for e in problem["errors"]}
    assert located == {("path", "call_id"), ("query", "limit"), ("header", "x-region")}
    assert all("pointer" not in e and e["reason"] for e in problem["errors"])


async def test_errors_never_echo_the_input(client: httpx.AsyncClient) -> None:
    body = {**VALID, "participants": [{"bin": "SECRET-VALUE"}]}
    response = await client.post("/calls/7/applications", json=body)
    assert "SECRET-VALUE" not in response.text


async def test_malformed_json_is_400_naming_line_and_column(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/calls/7/applications",
        content=b'{"cluster": "x",\n "participants": [1,]}',
        headers={"content-type": "application/json"},
    )
    problem = assert_problem(response, 400, "malformed-json")
    [error] = problem["errors"]
    assert error["pointer"] == ""
    assert error["reason"].startswith("invalid JSON at line 2, column 21:")


async def test_missing_body_is_422_at_the_whole_document(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/calls/7/applications", headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, 422, "validation-failed")
    assert problem["errors"] == [{"pointer": "", "reason": "a request body is required"}]


async def test_a_body_that_is_not_json_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/calls/7/applications", content=b"cluster=x", headers={"content-type": "text/plain"}
    )
    assert_problem(response, 415, "unsupported-media-type")
    assert response.headers["accept"] == "application/json"


async def test_unknown_path_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert_problem(response, 404, "not-found")


async def test_wrong_method_is_a_405_problem_keeping_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/calls/7/applications")
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "POST"


async def test_a_raised_problem_keeps_its_errors_and_extensions(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/closed")
    problem = assert_problem(response, 409, "call-closed")
    assert problem["title"] == "The call is closed"
    assert problem["detail"] == "The call closed at 2017-06-08T18:00:00+06:00."
    assert problem["errors"] == [{"pointer": "/submitted_at", "reason": "is after the deadline"}]
    assert problem["closes_at"] == "2017-06-08T18:00:00+06:00"
    assert problem["correlation_id"] == response.headers["x-correlation-id"]


def test_json_pointer_escapes_slash_and_tilde() -> None:
    assert json_pointer("participants", 2, "bin") == "/participants/2/bin"
    assert json_pointer("a/b", "c~d") == "/a~1b/c~0d"
    assert json_pointer() == ""


def test_a_field_error_points_either_into_the_body_or_at_a_parameter() -> None:
    assert FieldError.of_parameter("query", "limit", "too big").to_json() == {
        "parameter": "limit",
        "in": "query",
        "reason": "too big",
    }
    with pytest.raises(ValueError):
        FieldError(None, "points nowhere")


def test_an_extension_may_not_replace_a_standard_member() -> None:
    with pytest.raises(ValueError):
        Problem(VALIDATION_FAILED, extensions={"status": 200})


def test_hand_validated_bodies_get_pointers_below_a_prefix() -> None:
    with pytest.raises(ValidationError) as caught:
        SubmitApplication.model_validate({"cluster": "x", "participants": [{"bin": "1"}]})
    [error] = field_errors(caught.value, "applications", 17)
    assert error.pointer == "/applications/17/participants/0/bin"
    assert "12 characters" in error.reason


async def test_openapi_documents_problem_bodies_not_fastapis_default(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "ProblemModel" in schemas and "FieldErrorModel" in schemas
    assert "HTTPValidationError" not in schemas
    responses = document["paths"]["/calls/{call_id}/applications"]["post"]["responses"]
    for status in ("401", "403", "409", "422"):
        assert list(responses[status]["content"]) == [PROBLEM_MEDIA_TYPE]
    assert CALL_CLOSED.uri in responses["409"]["description"]
    assert "https://konkurs.kz/problems/not-ready" in document["info"]["description"]
