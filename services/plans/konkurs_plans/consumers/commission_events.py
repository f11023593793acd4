"""Plan tracking's reaction to the commission's events: ClusterSelected opens the selected
cluster's draft plan, in its call's programme.

The command runs in the transaction that claims the event in the inbox, through the
platform's `CommandReaction`: its event id derives from the ClusterSelected event, and the
decider opens a plan only where none is, so neither a redelivery nor a second selection of
the same cluster (another event) opens a second plan. The plan's index row is written in the
same transaction. A selection imported as history opens its plan as history, dated by it.
"""

from __future__ import annotations

from konkurs_plans.adapters.commission_events import CLUSTER_SELECTED, selection
from konkurs_plans.app.plans import Plans, opening, plan_stream
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_platform.reaction import Caused, CommandReaction, Effect

# The inbox's name for this reaction: renaming it would apply every event again.
CONSUMER = "plans.commission-events"


class CommissionEvents:
    """The effects of the commission's events on plans."""

    def __init__(self, plans: Plans) -> None:
        self.plans = plans

    async def on_cluster_selected(self, conn: Connection, envelope: Envelope) -> None:
        """ClusterSelected: open the cluster's plan (once) and index it."""
        selected = selection(envelope)
        command = opening(selected)
        # Imported selections are history: no timer to set, and none is set on opening.
        handler = self.plans.historical if envelope.imported else self.plans.handler
        reaction = CommandReaction(
            handler,
            lambda _: Caused(plan_stream(selected.application_id), command),
            consumer=CONSUMER,
        )
        await reaction(conn, envelope)
        await self.plans.index.add(conn, command.opened, envelope.occurred_at)

    def effects(self) -> dict[str, Effect]:
        """The effect of each event type this reaction handles; other types are skipped."""
        return {CLUSTER_SELECTED: self.on_cluster_selected}
