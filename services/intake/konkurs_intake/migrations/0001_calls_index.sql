-- The calls intake knows, kept in the transaction of each call append: the list behind
-- GET /v1/calls and the agenda of the scheduler that closes calls at closes_at.
CREATE TABLE {schema}.calls_index (
    call_id   text PRIMARY KEY,
    version   bigint      NOT NULL,
    opens_at  timestamptz NOT NULL,
    closes_at timestamptz NOT NULL,
    closed    boolean     NOT NULL
);
CREATE INDEX calls_index_due ON {schema}.calls_index (closes_at) WHERE NOT closed;
