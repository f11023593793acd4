-- What scoring knows of each call, learned from intake's events alone: the window and the
-- methodology it must apply. Written by the intake-events agent through the inbox.
CREATE TABLE {schema}.calls (
    call_id        text PRIMARY KEY,
    stream_version bigint      NOT NULL,
    closes_at      timestamptz NOT NULL,
    quota          integer     NOT NULL,
    -- konkurs.intake.v1.CallDefinition, as announced or last amended
    definition     bytea       NOT NULL,
    methodology    jsonb       NOT NULL,
    closed_at      timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
