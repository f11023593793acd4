-- Read model of the awards (issue 11, open data): the clusters the commission selected, the
-- decision that selected them, the support measures of their approved plan versions and
-- the disbursements of accepted reports. Public by law once the decision is published; what
-- the 360Giving package (`konkurs_readside.opendata`) is built from.

-- One row per selected cluster, from the commission's ClusterSelected; `replaced_cause` once
-- a WinnerReplaced took the place back (withdrawn or disqualified), null again if the
-- application is selected anew.
CREATE TABLE {schema}.awards (
    application_id      text        PRIMARY KEY,
    call_id             text        NOT NULL,
    registration_number text        NOT NULL,
    cluster_name        text        NOT NULL,
    region_code         text        NOT NULL,
    coordinator_bin     text        NOT NULL,
    rank                integer     NOT NULL,
    meeting_id          text        NOT NULL,
    selected_at         timestamptz NOT NULL,
    from_reserve        boolean     NOT NULL,
    replaced_cause      text,
    -- The stream of the ClusterSelected that holds: a redelivered older event of the same
    -- stream is told from a new one by its version.
    stream_id           text        NOT NULL,
    stream_version      bigint      NOT NULL,
    last_event_id       uuid        NOT NULL
);
CREATE INDEX ON {schema}.awards (call_id, rank);

-- Each selected candidate of a published decision: its tally and the rationale. A published
-- decision never changes, so rows are only inserted.
CREATE TABLE {schema}.award_decisions (
    meeting_id          text        NOT NULL,
    application_id      text        NOT NULL,
    call_id             text        NOT NULL,
    rank                integer     NOT NULL,
    votes_for           integer     NOT NULL,
    votes_against       integer     NOT NULL,
    abstentions         integer     NOT NULL,
    recused             integer     NOT NULL,
    casting_vote_used   boolean     NOT NULL,
    rationale           text        NOT NULL,
    minutes_sha256      text        NOT NULL,
    published_at        timestamptz NOT NULL,
    event_id            uuid        NOT NULL,
    PRIMARY KEY (meeting_id, application_id)
);

-- The support measures of each drafted plan version (the last draft of a version holds)
-- and when the version was approved; the latest approved version is what the plan says.
CREATE TABLE {schema}.award_plan_versions (
    plan_id             text        NOT NULL,
    version             integer     NOT NULL,
    -- [{measure_id, kind, amount, budget_source}], amounts as exact decimal strings (KZT).
    support_measures    jsonb       NOT NULL,
    approved_at         timestamptz,
    stream_version      bigint      NOT NULL,
    last_event_id       uuid        NOT NULL,
    PRIMARY KEY (plan_id, version)
);

-- The disbursements of each period's report as last submitted; they count once accepted.
CREATE TABLE {schema}.award_reports (
    plan_id             text        NOT NULL,
    period_id           text        NOT NULL,
    -- [{measure_id, on, amount}], amounts as exact decimal strings (KZT).
    disbursements       jsonb       NOT NULL,
    accepted            boolean     NOT NULL,
    stream_version      bigint      NOT NULL,
    last_event_id       uuid        NOT NULL,
    PRIMARY KEY (plan_id, period_id)
);
