-- What the privacy service learns from the other services' events, and its retention.

-- The programme of each call (from intake's CallAnnounced/CallAmended): retention periods
-- are set per programme.
CREATE TABLE {schema}.calls (
    call_id    text PRIMARY KEY,
    programme  text NOT NULL
);

-- Every data subject seen in an event, where, and its values as the latest event holds
-- them: sealed (pd1:...), never clear, opened only for an access request.
CREATE TABLE {schema}.subjects (
    subject_id     text        PRIMARY KEY,
    kind           text        NOT NULL,
    stream_id      text        NOT NULL,
    call_id        text        NOT NULL,
    sealed_values  jsonb       NOT NULL,
    stream_version bigint      NOT NULL,
    first_seen_at  timestamptz NOT NULL
);
CREATE INDEX ON {schema}.subjects (call_id, kind);

-- Retention per programme ('*': every programme without a row of its own) and kind of
-- personal data: erase `years` after `trigger`. Only 'call_closed' has a trigger today; the
-- commission's decision ('decided') is the hook for "unsuccessful applicants N years after
-- the decision" once the commission publishes its decisions.
CREATE TABLE {schema}.retention_policies (
    programme  text    NOT NULL,
    kind       text    NOT NULL,
    years      integer NOT NULL CHECK (years > 0),
    trigger    text    NOT NULL CHECK (trigger IN ('call_closed', 'decided')),
    PRIMARY KEY (programme, kind)
);
INSERT INTO {schema}.retention_policies VALUES ('*', 'contact', 5, 'call_closed');

-- The report of each retention run: what was erased, when and by which rule.
CREATE TABLE {schema}.retention_runs (
    call_id     text        NOT NULL,
    kind        text        NOT NULL,
    rule        text        NOT NULL,
    due_at      timestamptz NOT NULL,
    ran_at      timestamptz NOT NULL,
    erased      text[]      NOT NULL,
    PRIMARY KEY (call_id, kind, ran_at)
);
