-- The platform tables every service schema gets: event store, outbox, inbox, projection
-- offsets and idempotency keys. `{schema}` is the service's own schema.

CREATE TABLE {schema}.events (
    -- Global order of appends in this schema; only the relay and rebuilds use it.
    position        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    stream_id       text        NOT NULL,
    version         bigint      NOT NULL CHECK (version >= 1),
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    payload         bytea       NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    actor_subject   text        NOT NULL,
    actor_role      text        NOT NULL,
    actor_organisation text,
    actor_region    text,
    correlation_id  text        NOT NULL,
    causation_id    text,
    imported        boolean     NOT NULL DEFAULT false,
    -- The exact bytes published to Kafka (konkurs.envelope.v1.Envelope), kept so that the
    -- record in Kafka and the record here are byte-identical.
    envelope        bytea       NOT NULL,
    -- A second writer at the same version violates this key: that is the optimistic
    -- concurrency check, enforced by the database rather than by a read-then-write.
    PRIMARY KEY (stream_id, version)
);

-- Events waiting to be published; the relay deletes a row once Kafka acknowledged it.
CREATE TABLE {schema}.outbox (
    position   bigint PRIMARY KEY REFERENCES {schema}.events (position),
    topic      text   NOT NULL
);

-- Events a consumer has already processed: inserted in the same transaction as the
-- consumer's effect, so a redelivered event finds its row and has no second effect.
CREATE TABLE {schema}.inbox (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Kafka positions of projections, written in the same transaction as the rows they produced.
CREATE TABLE {schema}.projection_offsets (
    projection  text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);

-- The first answer to a creating request, replayed for a retry with the same key.
CREATE TABLE {schema}.idempotency_keys (
    principal    text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status       integer     NOT NULL,
    headers      jsonb       NOT NULL,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
