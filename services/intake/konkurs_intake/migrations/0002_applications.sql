-- Registration numbers: one gapless series per call and region. The row is taken with
-- the submission's append (INSERT .. ON CONFLICT DO UPDATE locks it until commit), so a
-- refused or rolled-back submission gives its number back, and two submissions of one
-- region queue here rather than both drawing the same number.
CREATE TABLE {schema}.registration_counters (
    call_id     text    NOT NULL,
    region_code text    NOT NULL,
    last_number integer NOT NULL,
    PRIMARY KEY (call_id, region_code)
);

-- The applications intake knows, kept in the transaction of each application append: for
-- scope checks without folding a stream, and as the database's own guarantee that a
-- registration number is unique within its call.
CREATE TABLE {schema}.applications_index (
    application_id      uuid PRIMARY KEY,
    call_id             text        NOT NULL,
    region_code         text        NOT NULL,
    coordinator_bin     text        NOT NULL,
    registration_number text        NOT NULL,
    status              text        NOT NULL,
    version             bigint      NOT NULL,
    submitted_at        timestamptz NOT NULL,
    UNIQUE (call_id, registration_number)
);
CREATE INDEX applications_index_call ON {schema}.applications_index (call_id, region_code);

-- Document content, outside the event stream: the events record the SHA-256 that
-- addresses it here. The same bytes filed twice are stored once.
CREATE TABLE {schema}.documents (
    sha256     text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    media_type text        NOT NULL,
    size_bytes bigint      NOT NULL,
    content    bytea       NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now()
);
