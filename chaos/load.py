"""The steady load of a chaos run: submissions, amendments and withdrawals of applications,
and announcements and amendments of calls (which scoring reacts to), sent through intake's
HTTP API by careful clients (`chaos.client`).

Every command is recorded with its correlation id and how it ended: acknowledged (2xx),
refused (4xx), uncertain (its answer was lost and the retry was refused, so it may have taken
effect once) or unanswered. The invariants are checked against these records.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx

from chaos.client import Unanswered, call_body, send_until_answered
from konkurs.intake.v1 import events_pb2
from konkurs_intake.api.bodies import content_json
from konkurs_intake.demo import SKETCHES, content
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings

# Calls in the 2017 region set accept every region the demo sketches come from.
REGIONS = sorted({s.region for s in SKETCHES})
OPEN_CALLS = 2
# A command still unanswered after this long is given up (and reported as unanswered).
GIVE_UP_AFTER = 180.0
REQUEST_TIMEOUT = 10.0
# A call announced during the run opens and closes within it: not in its last seconds.
MIN_CALL_SECONDS = 20.0


class Outcome(StrEnum):
    ACKED = "acknowledged"
    REFUSED = "refused"
    UNCERTAIN = "uncertain"
    UNANSWERED = "unanswered"


@dataclass
class Command:
    """One command the load sent, and what became of it."""

    kind: str
    correlation_id: str
    # The event the command appends when it takes effect.
    event_type: str
    stream_id: str | None
    outcome: Outcome | None = None
    status: int | None = None
    # From a 2xx answer: the stream version the command's event has.
    version: int | None = None
    registration_number: str | None = None
    detail: str = ""


@dataclass
class Application:
    application_id: str
    call_id: str
    sketch: int
    version: int
    withdrawn: bool = False
    busy: bool = False


@dataclass
class FutureCall:
    """A call announced to open later: it may be amended until it opens, then its timer
    closes it; scoring keeps a copy of each version."""

    call_id: str
    version: int
    opens_at: datetime
    body: dict[str, Any]
    busy: bool = False


def _event(name: str) -> str:
    return str(getattr(events_pb2, name).DESCRIPTOR.full_name)


SUBMITTED = _event("ApplicationSubmitted")
AMENDED = _event("ApplicationAmended")
WITHDRAWN = _event("ApplicationWithdrawn")
ANNOUNCED = _event("CallAnnounced")
CALL_AMENDED = _event("CallAmended")


@dataclass
class Load:
    """Workers that send commands until told to stop; `commands` records every one."""

    settings: Settings
    intake_url: str
    rng: random.Random
    run_id: str
    # When the load stops: calls announced during the run close before it.
    until: datetime
    commands: list[Command] = field(default_factory=list)
    open_calls: list[str] = field(default_factory=list)
    applications: list[Application] = field(default_factory=list)
    future_calls: list[FutureCall] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        operator = mint_token(self.settings, Role.OPERATOR, "chaos-operator")
        self.operator = {"Authorization": f"Bearer {operator}"}
        self.regional = {
            region: {
                "Authorization": "Bearer "
                + mint_token(
                    self.settings, Role.REGIONAL_OPERATOR, f"chaos-{region}", region=region
                )
            }
            for region in REGIONS
        }

    def _correlation(self) -> str:
        return f"chaos-{self.run_id}-{next(self._ids)}"

    async def prepare(self, http: httpx.AsyncClient) -> None:
        """Announce the calls that take submissions (open now, for a month)."""
        now = datetime.now(UTC)
        for i in range(OPEN_CALLS):
            call_id = f"chaos-{self.run_id}-open-{i}"
            body = call_body(
                call_id,
                now - timedelta(days=1),
                now + timedelta(days=30),
                REGIONS,
                region_set="2017",
            )
            command = await self._send(
                http,
                "announce-call",
                ANNOUNCED,
                f"call-{call_id}",
                "POST",
                "/v1/calls",
                body,
                self.operator,
                idempotent=True,
            )
            if command.outcome is not Outcome.ACKED:
                raise RuntimeError(
                    f"could not announce {call_id}: {command.status} {command.detail}"
                )
            self.open_calls.append(call_id)

    async def run(self, http: httpx.AsyncClient, stop: asyncio.Event, workers: int) -> None:
        """Send commands from `workers` concurrent clients until `stop` is set."""
        await asyncio.gather(*(self._worker(http, stop) for _ in range(workers)))

    async def _worker(self, http: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._one(http)

    async def _one(self, http: httpx.AsyncClient) -> None:
        """One command; a submission whenever the one drawn has nothing to act on (so that
        every turn sends a request, and a worker never spins without yielding)."""
        roll = self.rng.random()
        now = datetime.now(UTC)
        idle = [a for a in self.applications if not a.busy and not a.withdrawn]
        amendable = [
            c for c in self.future_calls if not c.busy and c.opens_at > now + timedelta(seconds=3)
        ]
        if 0.45 <= roll < 0.75 and idle:
            await self.amend(http, self.rng.choice(idle))
        elif 0.75 <= roll < 0.85 and idle:
            await self.withdraw(http, self.rng.choice(idle))
        elif 0.85 <= roll < 0.92 and (self.until - now).total_seconds() >= MIN_CALL_SECONDS:
            await self.announce_future_call(http)
        elif roll >= 0.92 and amendable:
            await self.amend_call(http, self.rng.choice(amendable))
        else:
            await self.submit(http)

    # --- commands -------------------------------------------------------------------------

    async def submit(self, http: httpx.AsyncClient) -> None:
        n = self.rng.randrange(len(SKETCHES))
        call_id = self.rng.choice(self.open_calls)
        region = SKETCHES[n].region
        command = await self._send(
            http,
            "submit",
            SUBMITTED,
            None,
            "POST",
            f"/v1/calls/{call_id}/applications",
            content_json(content(n, SKETCHES[n])),
            self.regional[region],
            idempotent=True,
        )
        if command.outcome is Outcome.ACKED:
            assert command.stream_id is not None and command.version is not None
            application_id = command.stream_id.removeprefix("application-")
            self.applications.append(Application(application_id, call_id, n, command.version))

    async def amend(self, http: httpx.AsyncClient, app: Application) -> None:
        app.busy = True
        try:
            body = content_json(content(app.sketch, SKETCHES[app.sketch]))
            body["cluster"]["name"] += f" (ред. {app.version + 1})"
            command = await self._send(
                http,
                "amend",
                AMENDED,
                f"application-{app.application_id}",
                "PUT",
                f"/v1/applications/{app.application_id}",
                body,
                {**self._scope(app), "If-Match": f'"{app.version}"'},
            )
            await self._follow(http, app, command)
        finally:
            app.busy = False

    async def withdraw(self, http: httpx.AsyncClient, app: Application) -> None:
        app.busy = True
        try:
            command = await self._send(
                http,
                "withdraw",
                WITHDRAWN,
                f"application-{app.application_id}",
                "POST",
                f"/v1/applications/{app.application_id}/withdrawal",
                {"reason": "the cluster's participants changed their plans"},
                self._scope(app),
            )
            await self._follow(http, app, command)
            # Acknowledged or perhaps done: a careful client does not act on it again.
            app.withdrawn = command.outcome in (Outcome.ACKED, Outcome.UNCERTAIN)
        finally:
            app.busy = False

    async def announce_future_call(self, http: httpx.AsyncClient) -> None:
        now = datetime.now(UTC)
        # Opened and closed (by intake's timer) while the faults go on, so that the closing
        # is tested under them too, and no timer fires while the invariants are checked.
        remaining = (self.until - now).total_seconds()
        opens = now + timedelta(seconds=self.rng.uniform(5, remaining * 0.6))
        closes = opens + timedelta(
            seconds=self.rng.uniform(2, (self.until - opens).total_seconds() - 2)
        )
        call_id = f"chaos-{self.run_id}-future-{len(self.future_calls)}-{uuid.uuid4().hex[:6]}"
        body = call_body(call_id, opens, closes, self.rng.sample(REGIONS, 3), region_set="2017")
        command = await self._send(
            http,
            "announce-call",
            ANNOUNCED,
            f"call-{call_id}",
            "POST",
            "/v1/calls",
            body,
            self.operator,
            idempotent=True,
        )
        if command.outcome is Outcome.ACKED:
            assert command.version is not None
            self.future_calls.append(FutureCall(call_id, command.version, opens, body))

    async def amend_call(self, http: httpx.AsyncClient, call: FutureCall) -> None:
        call.busy = True
        try:
            body = {k: v for k, v in call.body.items() if k != "call_id"}
            # Always a change: an amendment to the same definition appends nothing.
            body["quota"] = call.body["quota"] % 12 + 1
            command = await self._send(
                http,
                "amend-call",
                CALL_AMENDED,
                f"call-{call.call_id}",
                "PUT",
                f"/v1/calls/{call.call_id}",
                body,
                {**self.operator, "If-Match": f'"{call.version}"'},
            )
            if command.outcome is Outcome.ACKED:
                assert command.version is not None
                call.version, call.body["quota"] = command.version, body["quota"]
            elif command.outcome is Outcome.UNCERTAIN:
                answer, _ = await self._get(http, f"/v1/calls/{call.call_id}", self.operator)
                view = answer.json()
                call.version, call.body["quota"] = view["version"], view["definition"]["quota"]
        finally:
            call.busy = False

    # --- sending ------------------------------------------------------------------------

    def _scope(self, app: Application) -> dict[str, str]:
        return self.regional[SKETCHES[app.sketch].region]

    async def _follow(self, http: httpx.AsyncClient, app: Application, command: Command) -> None:
        """Learn the application's version after a command on it."""
        if command.outcome is Outcome.ACKED:
            assert command.version is not None
            app.version = command.version
        elif command.outcome in (Outcome.UNCERTAIN, Outcome.REFUSED):
            answer, _ = await self._get(
                http, f"/v1/applications/{app.application_id}", self._scope(app)
            )
            app.version = int(answer.json()["version"])

    async def _get(
        self, http: httpx.AsyncClient, url: str, headers: dict[str, str]
    ) -> tuple[httpx.Response, bool]:
        answer, lost = await send_until_answered(
            http,
            "GET",
            url,
            correlation_id=self._correlation(),
            headers=headers,
            json=None,
            give_up_at=time.monotonic() + GIVE_UP_AFTER,
        )
        answer.raise_for_status()
        return answer, lost

    async def _send(
        self,
        http: httpx.AsyncClient,
        kind: str,
        event_type: str,
        stream_id: str | None,
        method: str,
        url: str,
        body: Any,
        headers: dict[str, str],
        *,
        idempotent: bool = False,
    ) -> Command:
        correlation_id = self._correlation()
        command = Command(kind, correlation_id, event_type, stream_id)
        self.commands.append(command)
        try:
            answer, lost = await send_until_answered(
                http,
                method,
                url,
                correlation_id=correlation_id,
                headers=headers,
                json=body,
                idempotency_key=correlation_id if idempotent else None,
                give_up_at=time.monotonic() + GIVE_UP_AFTER,
            )
        except Unanswered as exc:
            command.outcome, command.detail = Outcome.UNANSWERED, str(exc)
            return command
        command.status = answer.status_code
        if answer.is_success:
            view = answer.json()
            command.outcome = Outcome.ACKED
            command.version = int(view["version"])
            if "application_id" in view:
                command.stream_id = f"application-{view['application_id']}"
                command.registration_number = view["registration_number"]
        elif lost:
            # The lost attempt may have taken effect, and the retry then finds the stream
            # moved on (412 on If-Match) or the state changed (409). The event store will tell.
            command.outcome, command.detail = Outcome.UNCERTAIN, _problem(answer)
        else:
            command.outcome, command.detail = Outcome.REFUSED, _problem(answer)
        return command


def _problem(answer: httpx.Response) -> str:
    """The problem type and detail of a refusal, or the start of its body."""
    try:
        problem = answer.json()
        return f"{problem['type']}: {problem.get('detail', '')}"[:300]
    except (ValueError, KeyError, TypeError):
        return answer.text[:300]
