-- Read models: applications (latest state), their content revisions, and the registration
-- journal of every call. Every row remembers the stream version it reflects, so an event
-- published twice by the relay changes nothing the second time.

CREATE TABLE {schema}.applications (
    application_id     text        PRIMARY KEY,
    stream_id          text        NOT NULL,
    call_id            text        NOT NULL,
    registration_number text       NOT NULL,
    status             text        NOT NULL,
    revision           integer     NOT NULL,
    cluster_name       text        NOT NULL,
    region_code        text        NOT NULL,
    specialisation     text[]      NOT NULL,
    coordinator_bin    text        NOT NULL,
    coordinator_name   text        NOT NULL,
    participant_bins   text[]      NOT NULL,
    participant_count  integer     NOT NULL,
    currency           text        NOT NULL,
    requested_support_minor bigint NOT NULL,
    co_financing_minor bigint      NOT NULL,
    co_financing_share_percent integer NOT NULL,
    document_count     integer     NOT NULL,
    -- PII: removed for analysts and from the PII-free feed.
    contact_name       text        NOT NULL,
    contact_phone      text        NOT NULL,
    contact_email      text        NOT NULL,
    -- The latest content in protobuf's JSON mapping, documents attached since included.
    content            jsonb       NOT NULL,
    illustrative       boolean     NOT NULL,
    submitted_at       timestamptz NOT NULL,
    last_changed_at    timestamptz NOT NULL,
    withdrawn_at       timestamptz,
    withdrawal_reason  text,
    stream_version     bigint      NOT NULL,
    last_event_id      uuid        NOT NULL
);
-- Keyset pagination: every sort key is paired with the primary key.
CREATE INDEX ON {schema}.applications (call_id, submitted_at, application_id);
CREATE INDEX ON {schema}.applications (call_id, region_code, status);
CREATE INDEX ON {schema}.applications (submitted_at, application_id);
CREATE INDEX ON {schema}.applications (registration_number, application_id);
CREATE INDEX ON {schema}.applications USING gin (participant_bins);
CREATE INDEX ON {schema}.applications USING gin (specialisation);

-- One row per revision of an application's content (submission = revision 1).
CREATE TABLE {schema}.application_revisions (
    application_id text        NOT NULL,
    revision       integer     NOT NULL,
    stream_version bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    actor_subject  text        NOT NULL,
    actor_role     text        NOT NULL,
    content        jsonb       NOT NULL,
    PRIMARY KEY (application_id, revision)
);

-- The registration journal: every registration act on an application of a call
-- (submitted, amended, document attached, withdrawn), in the order they happened.
CREATE TABLE {schema}.registration_journal (
    call_id             text        NOT NULL,
    application_id      text        NOT NULL,
    stream_version      bigint      NOT NULL,
    registration_number text        NOT NULL,
    entry               text        NOT NULL,
    region_code         text        NOT NULL,
    coordinator_bin     text        NOT NULL,
    participant_bins    text[]      NOT NULL,
    cluster_name        text        NOT NULL,
    detail              text        NOT NULL,
    event_id            uuid        NOT NULL,
    occurred_at         timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL,
    actor_subject       text        NOT NULL,
    actor_role          text        NOT NULL,
    PRIMARY KEY (application_id, stream_version)
);
CREATE INDEX ON {schema}.registration_journal (call_id, occurred_at, registration_number);
