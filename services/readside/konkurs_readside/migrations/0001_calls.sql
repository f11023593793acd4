-- Read model: calls as announced, amended and closed.
CREATE TABLE {schema}.calls (
    call_id        text PRIMARY KEY,
    stream_version bigint      NOT NULL,
    title_ru       text        NOT NULL,
    title_kk       text        NOT NULL,
    title_en       text        NOT NULL,
    programme      text        NOT NULL,
    opens_at       timestamptz NOT NULL,
    closes_at      timestamptz NOT NULL,
    time_zone      text        NOT NULL,
    quota          integer     NOT NULL,
    region_set     text        NOT NULL,
    regions        text[]      NOT NULL,
    status         text        NOT NULL,
    announced_at   timestamptz NOT NULL,
    closed_at      timestamptz,
    last_event_id  uuid        NOT NULL
);
