"""How a browser carries its token to the dashboard, and who may see which page.

A browser cannot add an `Authorization` header to a link it follows, so the sign-in form
takes the token once and keeps it in a cookie: `HttpOnly` (no script on the page can read
it), `SameSite=Strict` (no other site's page can make the browser send it, which is what
keeps the read-only pages safe from cross-site requests), `Path=/dashboard` (the JSON API
still wants the header) and `Secure` whenever the request came over HTTPS. The token is
verified on every request as the API verifies it, so an expired token signs the browser out.
A client that sends the bearer header (the role matrix, scripts) is served the same way.

The two forms that change the session (sign in, sign out) carry a token of their own in a
hidden field that must equal a cookie set with the form (double submit): another site can
neither read that cookie nor set it, so it cannot sign a browser in to an account of its
choosing or out of its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.responses import Response

from konkurs_platform.auth import Principal, Role, authenticated, forbidden
from konkurs_platform.problems import BAD_REQUEST, Problem
from konkurs_readside.api.scope import STAFF

SESSION_COOKIE = "konkurs_dashboard"
CSRF_COOKIE = "konkurs_dashboard_csrf"
LANGUAGE_COOKIE = "konkurs_dashboard_lang"
COOKIE_PATH = "/dashboard"
# A JWT is far shorter; a longer form is no sign-in.
MAX_FORM_BYTES = 16_384

# Who sees the programme's pages: its staff, the analysts and the commission. Applicants,
# regional operators and experts have their own views in the services, where their scope
# is enforced.
READERS = (*STAFF, Role.ANALYST, Role.COMMISSION_SECRETARY, Role.COMMISSION_MEMBER)
# An application's whole history names every person who acted: the audit API's readers.
AUDITORS = (Role.AUDITOR,)


# Those who see the commission's work before it is published, and its members by name: the
# commission itself and the staff (as in the commission's API).
INSIDERS = (*STAFF, Role.COMMISSION_SECRETARY, Role.COMMISSION_MEMBER)


def insider(principal: Principal) -> bool:
    """Whether `principal` sees decisions not yet published and the members who recused."""
    return principal.role in INSIDERS


def personal_data_visible(principal: Principal) -> bool:
    """Whether the pages may name people (contact persons, experts, actors) to `principal`:
    staff only; never an analyst (personal data never enters the analytics side)."""
    return principal.role in STAFF


async def viewer(request: Request) -> Principal:
    """Dependency: the caller from the bearer header, else from the session cookie; 401
    otherwise, answered and logged as the API answers it."""
    header = request.headers.get("authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    credentials = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
    elif cookie:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=cookie)
    return await authenticated(request, credentials)


def allow(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the viewer if its role is one of `roles`, else a logged 403."""
    names = ", ".join(r.value for r in roles)

    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(viewer)]
    ) -> Principal:
        if principal.role not in roles:
            raise forbidden(
                request, principal, f"role {principal.role.value} may not see this page ({names})"
            )
        return principal

    return dependency


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """A cookie of the dashboard, as strict as a cookie can be."""
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def new_csrf_token() -> str:
    """A fresh token for a form and its cookie."""
    return secrets.token_urlsafe(32)


async def form_fields(request: Request) -> dict[str, str]:
    """A URL-encoded form's fields (the last value of each), after the double-submit check:
    its `csrf` field must equal the CSRF cookie, else a 400 problem."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if media_type != "application/x-www-form-urlencoded" or len(body) > MAX_FORM_BYTES:
        raise Problem(BAD_REQUEST, "Send the dashboard's form (application/x-www-form-urlencoded).")
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        raise Problem(BAD_REQUEST, "The form cannot be read.") from None
    fields = {key: values[-1] for key, values in parsed.items()}
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(fields.get("csrf", ""), expected):
        raise Problem(BAD_REQUEST, "The form is stale or was not sent from the dashboard.")
    return fields
