-- Read models of the commission (issue 9): its composition and the members' names, the
-- meetings with their agenda, attendance and quorum, the candidates with their tallies and
-- the decision, recusals, votes, dissenting opinions and appeals. Every row remembers the version of the stream it
-- reflects, so an event the relay published twice changes nothing the second time.

-- The members of each call's commission as the latest composition lists them.
CREATE TABLE {schema}.commission_members (
    call_id             text    NOT NULL,
    member_id           text    NOT NULL,
    role                text    NOT NULL,
    position            text    NOT NULL,
    affiliation_bins    text[]  NOT NULL,
    -- Place in the composition's list, from 1; null once a later composition dropped them.
    ordinal             integer,
    composition_version integer NOT NULL,
    stream_version      bigint  NOT NULL,
    last_event_id       uuid    NOT NULL,
    PRIMARY KEY (call_id, member_id)
);

-- Each member's name, from the member's own stream (MemberNamed), whose key seals it.
CREATE TABLE {schema}.commission_member_names (
    call_id        text   NOT NULL,
    member_id      text   NOT NULL,
    stream_id      text   NOT NULL,
    -- PII: opened with the key store's keys; `[erased]` once the subject is erased.
    name           text   NOT NULL,
    stream_version bigint NOT NULL,
    last_event_id  uuid   NOT NULL,
    PRIMARY KEY (call_id, member_id)
);
CREATE INDEX ON {schema}.commission_member_names (stream_id);

-- One row per meeting, from its scheduling to the end of its appeal window.
CREATE TABLE {schema}.commission_meetings (
    meeting_id            text        PRIMARY KEY,
    call_id               text        NOT NULL,
    -- scheduled, opened, without_quorum, decided, published
    status                text        NOT NULL,
    scheduled_for         timestamptz NOT NULL,
    venue                 text        NOT NULL,
    ranking_event_id      text        NOT NULL,
    ranking_version       integer     NOT NULL,
    ranking_content_hash  text        NOT NULL,
    quota                 integer     NOT NULL,
    composition_version   integer     NOT NULL,
    time_zone             text        NOT NULL,
    reconsidered          text[]      NOT NULL,
    opened_at             timestamptz,
    quorum_required       integer,
    quorum_met            boolean,
    present_member_ids    text[]      NOT NULL,
    decided_at            timestamptz,
    reserve               text[]      NOT NULL,
    -- [{member_id, role, minutes_sha256, approved_at}] in the order given.
    approvals             jsonb       NOT NULL,
    minutes_sha256        text,
    published_at          timestamptz,
    appeals_close_at      timestamptz,
    appeal_window_closed_at timestamptz,
    last_changed_at       timestamptz NOT NULL,
    stream_version        bigint      NOT NULL,
    last_event_id         uuid        NOT NULL
);
CREATE INDEX ON {schema}.commission_meetings (call_id, scheduled_for);

-- The members as they stood in a meeting (its copy of the composition), with attendance.
CREATE TABLE {schema}.commission_meeting_members (
    meeting_id       text    NOT NULL,
    member_id        text    NOT NULL,
    role             text    NOT NULL,
    position         text    NOT NULL,
    affiliation_bins text[]  NOT NULL,
    ordinal          integer NOT NULL,
    present          boolean NOT NULL,
    stream_version   bigint  NOT NULL,
    last_event_id    uuid    NOT NULL,
    PRIMARY KEY (meeting_id, member_id)
);

-- Each candidate on a meeting's agenda: as ranked, its vote, and the decision on it.
CREATE TABLE {schema}.commission_candidates (
    meeting_id          text        NOT NULL,
    application_id      text        NOT NULL,
    call_id             text        NOT NULL,
    registration_number text        NOT NULL,
    rank                integer     NOT NULL,
    fundable            boolean     NOT NULL,
    failed_thresholds   text[]      NOT NULL,
    overall             text        NOT NULL,
    cluster_name        text        NOT NULL,
    region_code         text        NOT NULL,
    participant_bins    text[]      NOT NULL,
    reconsidered        boolean     NOT NULL,
    -- none, open or closed
    vote                text        NOT NULL,
    -- {votes_for, votes_against, abstentions, recused, not_voted, casting_vote_used}
    tally               jsonb,
    carried             boolean,
    -- null until the decision; then selected or declined
    outcome             text,
    rationale           text        NOT NULL,
    reason              text        NOT NULL,
    -- Place on the reserve list, from 1; null if not on it.
    reserve_position    integer,
    published           boolean     NOT NULL,
    from_reserve        boolean     NOT NULL,
    -- withdrawn or disqualified after the decision (WinnerReplaced)
    replaced_cause      text,
    replaced_reason     text,
    stream_version      bigint      NOT NULL,
    last_event_id       uuid        NOT NULL,
    PRIMARY KEY (meeting_id, application_id)
);
CREATE INDEX ON {schema}.commission_candidates (application_id);

-- Every recusal, automatic or declared.
CREATE TABLE {schema}.commission_recusals (
    meeting_id     text        NOT NULL,
    member_id      text        NOT NULL,
    application_id text        NOT NULL,
    automatic      boolean     NOT NULL,
    matching_bins  text[]      NOT NULL,
    reason         text        NOT NULL,
    recorded_at    timestamptz NOT NULL,
    stream_version bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    PRIMARY KEY (meeting_id, member_id, application_id)
);

-- Each member's vote on each candidate: the one that counts and the ones it replaced.
CREATE TABLE {schema}.commission_votes (
    meeting_id     text        NOT NULL,
    application_id text        NOT NULL,
    member_id      text        NOT NULL,
    -- for, against or abstain
    choice         text        NOT NULL,
    -- The choices it replaced, first first.
    replaced       text[]      NOT NULL,
    cast_at        timestamptz NOT NULL,
    stream_version bigint      NOT NULL,
    last_event_id  uuid        NOT NULL,
    PRIMARY KEY (meeting_id, application_id, member_id)
);

-- Dissenting opinions, in the order attached.
CREATE TABLE {schema}.commission_dissents (
    meeting_id     text        NOT NULL,
    stream_version bigint      NOT NULL,
    member_id      text        NOT NULL,
    -- empty for the decision as a whole
    application_id text        NOT NULL,
    text           text        NOT NULL,
    attached_at    timestamptz NOT NULL,
    event_id       uuid        NOT NULL,
    PRIMARY KEY (meeting_id, stream_version)
);

-- Every appeal and its outcome.
CREATE TABLE {schema}.commission_appeals (
    appeal_id          text        PRIMARY KEY,
    call_id            text        NOT NULL,
    application_id     text        NOT NULL,
    meeting_id         text        NOT NULL,
    applicant_bin      text        NOT NULL,
    ground             text        NOT NULL,
    explanation        text        NOT NULL,
    lodged_at          timestamptz NOT NULL,
    panel              text[]      NOT NULL,
    -- lodged, rejected or upheld
    status             text        NOT NULL,
    reasons            text,
    decided_by         text,
    decided_at         timestamptz,
    reevaluation_requested boolean NOT NULL,
    last_changed_at    timestamptz NOT NULL,
    stream_version     bigint      NOT NULL,
    last_event_id      uuid        NOT NULL
);
CREATE INDEX ON {schema}.commission_appeals (call_id, lodged_at);
CREATE INDEX ON {schema}.commission_appeals (applicant_bin);
