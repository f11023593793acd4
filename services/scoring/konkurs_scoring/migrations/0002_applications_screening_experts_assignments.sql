-- The applications scoring learned from intake's events (the latest of each), written by
-- the intake-events agent through the inbox; the stream version keeps an older event from
-- replacing a newer one.
CREATE TABLE {schema}.applications (
    application_id      text PRIMARY KEY,
    call_id             text        NOT NULL,
    stream_version      bigint      NOT NULL,
    registration_number text        NOT NULL,
    region_code         text        NOT NULL,
    coordinator_bin     text        NOT NULL,
    participant_bins    text[]      NOT NULL,
    participant_kinds   text[]      NOT NULL,
    -- kinds of the documents of the latest revision and of those attached after it
    document_kinds      text[]      NOT NULL,
    primary_oked_code   text        NOT NULL,
    -- konkurs.intake.v1.ApplicationContent of the latest revision
    content             bytea       NOT NULL,
    withdrawn           boolean     NOT NULL DEFAULT false,
    submitted_at        timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applications_call_idx ON {schema}.applications (call_id);

-- Each application's screening result as it holds (after overrides), written with the
-- screening-<application id> events in their transaction.
CREATE TABLE {schema}.screening (
    application_id      text PRIMARY KEY,
    call_id             text    NOT NULL,
    stream_version      bigint  NOT NULL,
    application_version bigint  NOT NULL,
    eligible            boolean NOT NULL,
    overridden          boolean NOT NULL
);
CREATE INDEX screening_call_idx ON {schema}.screening (call_id);

-- The expert registry as it stands (no names: those stay sealed in the expert's events),
-- written with the expert-<expert id> events in their transaction.
CREATE TABLE {schema}.experts (
    expert_id        text PRIMARY KEY,
    stream_version   bigint  NOT NULL,
    affiliation_bins text[]  NOT NULL,
    region_codes     text[]  NOT NULL,
    oked_sections    text[]  NOT NULL,
    languages        text[]  NOT NULL,
    active           boolean NOT NULL
);

-- Every assignment, now or before, written with the assignment-<application id> events in
-- their transaction: the experts' worklists and the loads the automatic assignment reads.
CREATE TABLE {schema}.assignments (
    application_id text        NOT NULL,
    expert_id      text        NOT NULL,
    call_id        text        NOT NULL,
    assigned_at    timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    -- none | no_conflict | conflict
    declared       text        NOT NULL,
    active         boolean     NOT NULL,
    overdue        boolean     NOT NULL,
    PRIMARY KEY (application_id, expert_id)
);
CREATE INDEX assignments_expert_idx ON {schema}.assignments (expert_id);
CREATE INDEX assignments_call_idx ON {schema}.assignments (call_id);
