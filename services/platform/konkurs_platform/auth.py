"""Identity and access: JWT bearer tokens, roles, and the FastAPI dependencies that check them.

A token carries `iss`, `aud`, `exp`, `sub`, `role` (a `Role` value), `org` (the BIN of the
caller's organisation, required for `applicant`) and `region` (a region code, required for
`regional_operator`). With a public key configured only RS256/ES256 tokens signed by its
private key are accepted and the development secret is ignored; otherwise HS256 with the
secret.

    @router.post("/calls", responses=problem_responses(401, 403, 422))
    async def announce_call(
        body: AnnounceCallBody, principal: Annotated[Principal, Depends(require(Role.OPERATOR))]
    ) -> ...:
        ... principal.actor() goes into the envelope ...

A refused request is answered 401 or 403 and logged (logger `konkurs.auth`, WARNING, with
subject, role, path and reason); it is never recorded anywhere else, the event store least
of all. Scope checks a route makes itself (an applicant reading another organisation's
application) go through `forbidden(...)` so that they are logged the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from konkurs_platform.envelope import Actor
from konkurs_platform.problems import FORBIDDEN, UNAUTHENTICATED, Problem
from konkurs_platform.settings import Settings

log = logging.getLogger("konkurs.auth")

# Tolerated clock difference between the token issuer and this service.
LEEWAY = timedelta(seconds=30)


class Role(StrEnum):
    """What a caller may do; a token has exactly one role."""

    APPLICANT = "applicant"
    REGIONAL_OPERATOR = "regional_operator"
    OPERATOR = "operator"
    EXPERT = "expert"
    COMMISSION_SECRETARY = "commission_secretary"
    COMMISSION_MEMBER = "commission_member"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    subject: str
    role: Role
    organisation: str | None = None
    region: str | None = None

    def actor(self) -> Actor:
        """The caller as the actor of the events its request causes."""
        return Actor(self.subject, self.role.value, self.organisation, self.region)


class InvalidToken(Exception):
    """A token that may not be used; `reason` says why, for a person to read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _scope_error(role: Role, organisation: str | None, region: str | None) -> str | None:
    if role is Role.APPLICANT and not organisation:
        return "an applicant token needs the 'org' claim (the organisation's BIN)"
    if role is Role.REGIONAL_OPERATOR and not region:
        return "a regional_operator token needs the 'region' claim"
    return None


_PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _public_key(pem: str) -> _PublicKey:
    key = load_pem_public_key(pem.encode())
    if not isinstance(key, _PublicKey):
        raise ValueError(f"unsupported JWT key type {type(key).__name__}: use RSA or EC P-256")
    return key


def _private_key(pem: str) -> _PrivateKey:
    key = load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, _PrivateKey):
        raise ValueError(f"unsupported JWT key type {type(key).__name__}: use RSA or EC P-256")
    return key


def _algorithm(key: _PublicKey | _PrivateKey) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RS256"
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"ES256 needs a P-256 key, not {key.curve.name}")
    return "ES256"


# (exception type, reason) in the order they are tested: subclasses before their bases.
_REASONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.DecodeError, "malformed token"),
)


class TokenVerifier:
    """Verifies bearer tokens against the issuer, audience and key in `settings`."""

    def __init__(self, settings: Settings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._key: _PublicKey | str
        if settings.jwt_public_key:
            # The public key wins over the secret, which has a development default: a
            # deployment that configures a key must not also accept dev-signed tokens.
            self._key = _public_key(settings.jwt_public_key)
            self.algorithms: tuple[str, ...] = (_algorithm(self._key),)
        elif settings.jwt_secret:
            self._key = settings.jwt_secret
            self.algorithms = ("HS256",)
        else:
            raise ValueError("no JWT key configured: set a public key or a secret")

    def verify(self, token: str) -> Principal:
        """The principal `token` names, or `InvalidToken` with the reason it is refused."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                # Fixed by configuration, never taken from the token: that is what stops a
                # token from choosing "none" or HS256-with-the-public-key.
                algorithms=list(self.algorithms),
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.MissingRequiredClaimError as e:
            raise InvalidToken(f"missing claim '{e.claim}'") from e
        except jwt.InvalidTokenError as e:
            reason = next((r for kind, r in _REASONS if isinstance(e, kind)), "invalid token")
            raise InvalidToken(reason) from e
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("claim 'sub' must be a non-empty string")
    role_name = claims.get("role")
    if not isinstance(role_name, str):
        raise InvalidToken("missing claim 'role'")
    try:
        role = Role(role_name)
    except ValueError:
        raise InvalidToken(f"unknown role '{role_name}'") from None
    organisation = claims.get("org")
    region = claims.get("region")
    for name, value in (("org", organisation), ("region", region)):
        if value is not None and not isinstance(value, str):
            raise InvalidToken(f"claim '{name}' must be a string")
    problem = _scope_error(role, organisation, region)
    if problem:
        raise InvalidToken(problem)
    return Principal(subject, role, organisation, region)


def mint_token(
    settings: Settings,
    role: Role,
    sub: str,
    org: str | None = None,
    region: str | None = None,
    ttl: timedelta = timedelta(hours=12),
) -> str:
    """A signed token for development and tests: with the private key when one is configured
    (RS256 or ES256 by its type), else with the secret (HS256). A negative `ttl` mints an
    expired token."""
    problem = _scope_error(role, org, region)
    if problem:
        raise ValueError(problem)
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": sub,
        "role": role.value,
        "iat": now,
        "exp": now + ttl,
    }
    if org is not None:
        claims["org"] = org
    if region is not None:
        claims["region"] = region
    if settings.jwt_private_key:
        key = _private_key(settings.jwt_private_key)
        return jwt.encode(claims, key, algorithm=_algorithm(key))
    if settings.jwt_public_key:
        # The verifier would refuse an HS256 token here (see TokenVerifier).
        raise ValueError("a public key is configured: minting needs its private key")
    if settings.jwt_secret:
        return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
    raise ValueError("no JWT key configured: set a private key or a secret")


# ---------------------------------------------------------------------------------------------
# FastAPI dependencies

# auto_error=False: a missing token must be answered by `authenticated` (a problem document,
# logged), not by FastAPI's own 401. Declaring the scheme still documents it in OpenAPI.
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", scheme_name="bearer")


def log_denial(request: Request, principal: Principal | None, status: int, reason: str) -> None:
    """Log a refused request (who, what, why): a denial leaves no event but is logged."""
    log.warning(
        "request denied: %s",
        reason,
        extra={
            "subject": principal.subject if principal else None,
            "role": principal.role.value if principal else None,
            "method": request.method,
            "path": request.url.path,
            "status": status,
            "reason": reason,
        },
    )


def forbidden(request: Request, principal: Principal, reason: str) -> Problem:
    """Log a denial and return the 403 problem to raise: for scope checks made in a route
    (`raise forbidden(request, principal, "applicants see only their own applications")`)."""
    log_denial(request, principal, 403, reason)
    return Problem(FORBIDDEN, reason)


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Dependency: the caller's principal, or 401 with `WWW-Authenticate: Bearer`."""
    if credentials is None:
        reason = "no bearer token"
        challenge = "Bearer"
    else:
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            return verifier.verify(credentials.credentials)
        except InvalidToken as e:
            reason = e.reason
            # RFC 6750 §3.1. The reason stays out of the header: it may quote a claim, and
            # header values must be plain ASCII; the problem body carries it.
            challenge = 'Bearer error="invalid_token"'
    log_denial(request, None, 401, reason)
    raise Problem(UNAUTHENTICATED, reason, headers={"WWW-Authenticate": challenge})


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the caller's principal if its role is one of `roles`, else 403.

    No role is implied by another: `admin` may act only where it is listed.
    """
    if not roles:
        raise ValueError("require() needs at least one role")
    allowed = frozenset(roles)
    names = ", ".join(r.value for r in roles)

    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(authenticated)]
    ) -> Principal:
        if principal.role not in allowed:
            raise forbidden(
                request, principal, f"role {principal.role.value} may not do this (needs: {names})"
            )
        return principal

    return dependency
