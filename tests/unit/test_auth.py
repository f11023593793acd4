"""Identity and access: who may call, and what a refused caller is told."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI, Request

from konkurs_platform.auth import (
    Actor,
    InvalidToken,
    Principal,
    Role,
    TokenVerifier,
    authenticated,
    forbidden,
    mint_token,
    require,
)
from konkurs_platform.settings import Settings
from konkurs_platform.web import create_app

SETTINGS = Settings()
BIN = "940140000385"


def build_app() -> FastAPI:
    app = create_app(
        SETTINGS, service="test", title="test", version="0", description="", ready_checks={}
    )

    @app.get("/me")
    async def me(principal: Annotated[Principal, Depends(authenticated)]) -> dict[str, Any]:
        return {"subject": principal.subject, "role": principal.role}

    @app.post("/calls")
    async def announce(
        principal: Annotated[Principal, Depends(require(Role.OPERATOR, Role.ADMIN))],
    ) -> dict[str, str]:
        return {"by": principal.subject}

    @app.get("/organisations/{bin}/applications")
    async def applications(
        bin: str,
        request: Request,
        principal: Annotated[Principal, Depends(require(Role.APPLICANT))],
    ) -> list[str]:
        if principal.organisation != bin:
            raise forbidden(request, principal, "applicants see only their own applications")
        return []

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hand_made(claims: dict[str, Any], key: str | None = None, algorithm: str = "HS256") -> str:
    now = datetime.now(UTC)
    base = {
        "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience,
        "sub": "user-1",
        "role": "operator",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    payload = {k: v for k, v in {**base, **claims}.items() if v is not None}
    return jwt.encode(payload, key or SETTINGS.jwt_secret or "", algorithm=algorithm)


def fields(record: logging.LogRecord, *names: str) -> tuple[Any, ...]:
    """The `extra` fields a record was logged with."""
    return tuple(vars(record).get(name) for name in names)


async def assert_401(client: httpx.AsyncClient, headers: dict[str, str], reason: str) -> None:
    response = await client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    problem = response.json()
    assert problem["type"] == "https://konkurs.kz/problems/unauthenticated"
    assert problem["detail"] == reason


async def test_a_minted_token_authenticates(client: httpx.AsyncClient) -> None:
    token = mint_token(SETTINGS, Role.OPERATOR, "operator-1")
    response = await client.get("/me", headers=bearer(token))
    assert response.json() == {"subject": "operator-1", "role": "operator"}


async def test_no_token_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    await assert_401(client, {}, "no bearer token")
    response = await client.get("/me")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_another_scheme_counts_as_no_token(client: httpx.AsyncClient) -> None:
    await assert_401(client, {"Authorization": "Basic dXNlcjpwYXNz"}, "no bearer token")


async def test_bad_signature_is_401_with_reason(client: httpx.AsyncClient) -> None:
    token = hand_made({}, key="another-secret-that-is-long-enough-for-hs256")
    await assert_401(client, bearer(token), "bad signature")


async def test_expired_token_is_401_with_reason(client: httpx.AsyncClient) -> None:
    token = mint_token(SETTINGS, Role.OPERATOR, "operator-1", ttl=timedelta(hours=-1))
    await assert_401(client, bearer(token), "token expired")


async def test_wrong_issuer_is_401_with_reason(client: httpx.AsyncClient) -> None:
    await assert_401(client, bearer(hand_made({"iss": "someone-else"})), "wrong issuer")


async def test_wrong_audience_is_401_with_reason(client: httpx.AsyncClient) -> None:
    await assert_401(client, bearer(hand_made({"aud": "another-system"})), "wrong audience")


async def test_a_token_without_expiry_is_refused(client: httpx.AsyncClient) -> None:
    await assert_401(client, bearer(hand_made({"exp": None})), "missing claim 'exp'")


async def test_an_unsigned_token_is_refused(client: httpx.AsyncClient) -> None:
    unsigned = jwt.encode(
        {"iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience, "sub": "x", "role": "admin"},
        "",
        algorithm="none",
    )
    await assert_401(client, bearer(unsigned), "algorithm not allowed")


async def test_garbage_is_a_malformed_token(client: httpx.AsyncClient) -> None:
    await assert_401(client, bearer("not.a.jwt"), "malformed token")


async def test_an_unknown_role_is_refused(client: httpx.AsyncClient) -> None:
    await assert_401(client, bearer(hand_made({"role": "minister"})), "unknown role 'minister'")


async def test_applicant_token_without_org_is_rejected(client: httpx.AsyncClient) -> None:
    token = hand_made({"role": "applicant"})
    await assert_401(
        client, bearer(token), "an applicant token needs the 'org' claim (the organisation's BIN)"
    )
    with pytest.raises(ValueError):
        mint_token(SETTINGS, Role.APPLICANT, "applicant-1")


async def test_regional_operator_token_without_region_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    token = hand_made({"role": "regional_operator"})
    await assert_401(client, bearer(token), "a regional_operator token needs the 'region' claim")


async def test_wrong_role_is_403_and_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint_token(SETTINGS, Role.ANALYST, "analyst-1")
    with caplog.at_level(logging.WARNING, logger="konkurs.auth"):
        response = await client.post("/calls", headers=bearer(token))
    assert response.status_code == 403
    problem = response.json()
    assert problem["type"] == "https://konkurs.kz/problems/forbidden"
    assert problem["detail"] == "role analyst may not do this (needs: operator, admin)"
    [record] = [r for r in caplog.records if r.name == "konkurs.auth"]
    assert record.levelno == logging.WARNING
    assert fields(record, "subject", "role", "path", "status", "reason") == (
        "analyst-1",
        "analyst",
        "/calls",
        403,
        problem["detail"],
    )


async def test_a_listed_role_may_act(client: httpx.AsyncClient) -> None:
    token = mint_token(SETTINGS, Role.ADMIN, "admin-1")
    response = await client.post("/calls", headers=bearer(token))
    assert response.json() == {"by": "admin-1"}


async def test_a_401_is_logged_with_its_reason(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint_token(SETTINGS, Role.OPERATOR, "operator-1", ttl=timedelta(hours=-1))
    with caplog.at_level(logging.WARNING, logger="konkurs.auth"):
        await client.get("/me", headers=bearer(token))
    [record] = [r for r in caplog.records if r.name == "konkurs.auth"]
    assert fields(record, "status", "reason", "path") == (401, "token expired", "/me")


async def test_an_applicant_is_scoped_to_its_organisation(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint_token(SETTINGS, Role.APPLICANT, "applicant-1", org=BIN)
    own = await client.get(f"/organisations/{BIN}/applications", headers=bearer(token))
    assert own.status_code == 200
    with caplog.at_level(logging.WARNING, logger="konkurs.auth"):
        other = await client.get("/organisations/990140004654/applications", headers=bearer(token))
    assert other.status_code == 403
    assert any(r.name == "konkurs.auth" and fields(r, "status") == (403,) for r in caplog.records)


def test_minted_token_round_trips_with_its_claims() -> None:
    token = mint_token(SETTINGS, Role.REGIONAL_OPERATOR, "ro-almaty", org=BIN, region="KZ-75")
    principal = TokenVerifier(SETTINGS).verify(token)
    assert principal == Principal("ro-almaty", Role.REGIONAL_OPERATOR, BIN, "KZ-75")
    assert principal.actor() == Actor("ro-almaty", "regional_operator", BIN, "KZ-75")


def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return pem(key)


def ec_pair() -> tuple[str, str]:
    return pem(ec.generate_private_key(ec.SECP256R1()))


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.mark.parametrize("pair, algorithm", [(rsa_pair, "RS256"), (ec_pair, "ES256")])
def test_a_key_pair_signs_and_verifies_with_its_algorithm(pair: Any, algorithm: str) -> None:
    private, public = pair()
    settings = Settings(jwt_public_key=public, jwt_private_key=private)
    token = mint_token(settings, Role.EXPERT, "expert-1")
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    verifier = TokenVerifier(settings)
    assert verifier.algorithms == (algorithm,)
    assert verifier.verify(token).role is Role.EXPERT


def test_with_a_public_key_the_development_secret_is_not_accepted() -> None:
    _, public = rsa_pair()
    dev_token = mint_token(SETTINGS, Role.ADMIN, "intruder")
    with pytest.raises(InvalidToken) as refused:
        TokenVerifier(Settings(jwt_public_key=public)).verify(dev_token)
    assert refused.value.reason == "algorithm not allowed"
    with pytest.raises(ValueError):
        mint_token(Settings(jwt_public_key=public), Role.ADMIN, "someone")


def test_a_verifier_needs_a_key() -> None:
    with pytest.raises(ValueError):
        TokenVerifier(Settings(jwt_secret=None))


def test_require_needs_a_role() -> None:
    with pytest.raises(ValueError):
        require()
