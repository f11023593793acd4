-- What the commission knows of other services, learned from their events alone (reactions
-- through the inbox), and the upheld appeals waiting for a new ranking.

-- Intake's calls: the quota the decision may not exceed and the time zone of the appeal window.
CREATE TABLE {schema}.calls (
    call_id        text PRIMARY KEY,
    stream_version bigint  NOT NULL,
    quota          integer NOT NULL,
    time_zone      text    NOT NULL
);

-- Intake's applications, latest revision: what the agenda and the recusals need.
CREATE TABLE {schema}.applications (
    application_id      text PRIMARY KEY,
    call_id             text    NOT NULL,
    stream_version      bigint  NOT NULL,
    registration_number text    NOT NULL,
    cluster_name        text    NOT NULL,
    region_code         text    NOT NULL,
    coordinator_bin     text    NOT NULL,
    participant_bins    text[]  NOT NULL,
    withdrawn           boolean NOT NULL DEFAULT false
);
CREATE INDEX applications_call ON {schema}.applications (call_id);

-- Scoring's published rankings, every version: a meeting decides on one by its event id and
-- content hash.
CREATE TABLE {schema}.rankings (
    call_id         text        NOT NULL,
    ranking_version integer     NOT NULL,
    event_id        uuid        NOT NULL,
    content_hash    text        NOT NULL,
    published_at    timestamptz NOT NULL,
    -- [{rank, application_id, registration_number, fundable, failed_thresholds, overall}]
    entries         jsonb       NOT NULL,
    PRIMARY KEY (call_id, ranking_version)
);

-- Upheld appeals: the application goes on the agenda of a new meeting once a ranking newer
-- than the one its meeting decided on arrives (meeting_id set then).
CREATE TABLE {schema}.reconsiderations (
    appeal_id       text PRIMARY KEY,
    call_id         text    NOT NULL,
    application_id  text    NOT NULL,
    ranking_version integer NOT NULL,
    meeting_id      text
);
