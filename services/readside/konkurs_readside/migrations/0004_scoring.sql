-- Read models of scoring (issue 8): screening, experts and assignments, evaluation progress
-- and the published rankings. Every row remembers the version of the stream it reflects, so
-- an event the relay published twice changes nothing the second time.

-- The screening of each application: the result that holds, and the last assessment's rules.
CREATE TABLE {schema}.screening (
    application_id      text        PRIMARY KEY,
    call_id             text        NOT NULL,
    -- The result that holds: the last assessment's, or an override's after it.
    eligible            boolean     NOT NULL,
    assessed_eligible   boolean     NOT NULL,
    overridden          boolean     NOT NULL,
    -- [{rule, passed, required, found}] in the order the rules are checked.
    results             jsonb       NOT NULL,
    application_version bigint      NOT NULL,
    call_version        bigint      NOT NULL,
    assessed_at         timestamptz NOT NULL,
    last_changed_at     timestamptz NOT NULL,
    stream_version      bigint      NOT NULL,
    last_event_id       uuid        NOT NULL
);
CREATE INDEX ON {schema}.screening (call_id, application_id);

-- Every override, also those a later assessment superseded: who, when and why.
CREATE TABLE {schema}.screening_overrides (
    application_id    text        NOT NULL,
    stream_version    bigint      NOT NULL,
    call_id           text        NOT NULL,
    eligible          boolean     NOT NULL,
    justification     text        NOT NULL,
    overrides_version bigint      NOT NULL,
    event_id          uuid        NOT NULL,
    occurred_at       timestamptz NOT NULL,
    actor_subject     text        NOT NULL,
    actor_role        text        NOT NULL,
    PRIMARY KEY (application_id, stream_version)
);
CREATE INDEX ON {schema}.screening_overrides (call_id);

-- The expert registry, for the names on the assignments.
CREATE TABLE {schema}.experts (
    expert_id       text    PRIMARY KEY,
    stream_id       text    NOT NULL,
    -- PII: opened with the key store's keys; `[erased]` once the subject is erased.
    name            text    NOT NULL,
    active          boolean NOT NULL,
    stream_version  bigint  NOT NULL,
    last_event_id   uuid    NOT NULL
);

-- One row per expert ever assigned to an application; `current` until unassigned.
CREATE TABLE {schema}.assignments (
    application_id      text        NOT NULL,
    expert_id           text        NOT NULL,
    call_id             text        NOT NULL,
    mode                text        NOT NULL,
    reason              text        NOT NULL,
    assigned_at         timestamptz NOT NULL,
    due_at              timestamptz NOT NULL,
    current             boolean     NOT NULL,
    -- none, no_conflict or conflict
    declaration         text        NOT NULL,
    conflict_nature     text,
    declared_at         timestamptz,
    overdue             boolean     NOT NULL,
    unassignment_cause  text,
    unassignment_reason text,
    unassigned_at       timestamptz,
    last_changed_at     timestamptz NOT NULL,
    stream_version      bigint      NOT NULL,
    last_event_id       uuid        NOT NULL,
    PRIMARY KEY (application_id, expert_id)
);
CREATE INDEX ON {schema}.assignments (call_id, application_id);

-- Where each application's evaluation stands in its current round.
CREATE TABLE {schema}.evaluations (
    application_id      text        PRIMARY KEY,
    call_id             text        NOT NULL,
    round               integer     NOT NULL,
    -- Experts with a draft they have not submitted, and experts who submitted.
    drafting            text[]      NOT NULL,
    submitted           text[]      NOT NULL,
    consensus_required  boolean     NOT NULL,
    -- [{criterion_id, lowest, highest}] in half points.
    divergences         jsonb       NOT NULL,
    rapporteur          text,
    consensus_recorded  boolean     NOT NULL,
    final               boolean     NOT NULL,
    overall_numerator   bigint,
    overall_denominator bigint,
    fundable            boolean,
    failed_thresholds   text[]      NOT NULL,
    finalised_at        timestamptz,
    last_changed_at     timestamptz NOT NULL,
    stream_version      bigint      NOT NULL,
    last_event_id       uuid        NOT NULL
);
CREATE INDEX ON {schema}.evaluations (call_id, application_id);

-- Every published version of every call's ranking; a version never changes.
CREATE TABLE {schema}.rankings (
    call_id         text        NOT NULL,
    ranking_version integer     NOT NULL,
    call_version    bigint      NOT NULL,
    tie_break       text[]      NOT NULL,
    -- The criteria of the entries' scores, in the methodology's order.
    criteria        text[]      NOT NULL,
    content_hash    text        NOT NULL,
    published_at    timestamptz NOT NULL,
    entry_count     integer     NOT NULL,
    stream_version  bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    PRIMARY KEY (call_id, ranking_version)
);

CREATE TABLE {schema}.ranking_entries (
    call_id             text    NOT NULL,
    ranking_version     integer NOT NULL,
    rank                integer NOT NULL,
    application_id      text    NOT NULL,
    registration_number text    NOT NULL,
    round               integer NOT NULL,
    -- [{criterion_id, numerator, denominator}] in the methodology's order: exact scores.
    scores              jsonb   NOT NULL,
    overall_numerator   bigint  NOT NULL,
    overall_denominator bigint  NOT NULL,
    fundable            boolean NOT NULL,
    failed_thresholds   text[]  NOT NULL,
    event_ids           text[]  NOT NULL,
    decided_by          text    NOT NULL,
    PRIMARY KEY (call_id, ranking_version, rank)
);
CREATE INDEX ON {schema}.ranking_entries (application_id);
