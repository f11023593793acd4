-- Durable timers (konkurs_platform.timers): a due time per (stream, purpose), written in the
-- transaction of the events that set it, fired once by the schema's timer leader.

CREATE TABLE {schema}.timers (
    stream_id      text        NOT NULL,
    purpose        text        NOT NULL,
    -- A new id at every (re)scheduling: a firing marks only the id it read as done, so a
    -- firing that raced with a new due time or a cancel changes nothing.
    timer_id       uuid        NOT NULL UNIQUE,
    due_at         timestamptz NOT NULL,
    -- The conversation of the command that scheduled it; the fired command continues it.
    correlation_id text        NOT NULL,
    -- Null while pending. Done timers stay as the record of what happened to them until the
    -- same (stream, purpose) is scheduled again.
    done_at        timestamptz,
    outcome        text        CHECK (outcome IN ('fired', 'refused')),
    reason         text,
    PRIMARY KEY (stream_id, purpose),
    CHECK ((done_at IS NULL) = (outcome IS NULL))
);

-- The leader's agenda: pending timers by due time.
CREATE INDEX timers_pending ON {schema}.timers (due_at) WHERE done_at IS NULL;
