"""The readside as the platform and the tooling see it (registered in pyproject.toml under
the `konkurs.services` entry points).

It projects the events of every registered service that publishes any
(`konkurs_readside.positions.event_topics`), so it names none of them here.
"""

from konkurs_platform.spec import Ref, ServiceSpec

SPEC = ServiceSpec(
    name="readside",
    port=8000,
    summary="read models, audit trail, exports and analytics feed of every service's events",
    api=Ref("konkurs_readside.bootstrap:create_app"),
    # The read models and the audit log, and beside them the analytics feed on
    # konkurs.analytics.v1 (konkurs_readside.analytics).
    projector=Ref("konkurs_readside.analytics.process:run_projector"),
    commands=Ref("konkurs_readside.commands:register"),
    # The legal record: the readside's own role may add to it and read it, nothing else.
    append_only=("audit_log",),
    # It opens the sealed personal fields into the read models for the roles that may see
    # them, and erases them there when a subject is erased.
    personal_data="read",
)
