-- The audit trail: every event of every service, in one hash chain.
--
-- hash(n) = SHA-256(hash(n-1) || the envelope's exact bytes as read from Kafka), with
-- hash(0) = 32 zero bytes. `seq` is gapless and assigned in the order the projector appends,
-- under the row lock of `audit_chain_head`, so that several projector processes still make
-- one chain. The head records the last link: deleting the newest rows shows as a mismatch.

CREATE TABLE {schema}.audit_log (
    seq                bigint      PRIMARY KEY,
    event_id           uuid        NOT NULL UNIQUE,
    stream_id          text        NOT NULL,
    stream_version     bigint      NOT NULL,
    event_type         text        NOT NULL,
    occurred_at        timestamptz NOT NULL,
    recorded_at        timestamptz NOT NULL,
    actor_subject      text        NOT NULL,
    actor_role         text        NOT NULL,
    actor_organisation text,
    actor_region       text,
    correlation_id     text        NOT NULL,
    causation_id       text,
    imported           boolean     NOT NULL,
    topic              text        NOT NULL,
    kafka_partition    integer     NOT NULL,
    kafka_offset       bigint      NOT NULL,
    envelope           bytea       NOT NULL,
    prev_hash          bytea       NOT NULL,
    hash               bytea       NOT NULL,
    appended_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON {schema}.audit_log (stream_id, stream_version, seq);

CREATE TABLE {schema}.audit_chain_head (
    only_row boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    seq      bigint      NOT NULL,
    hash     bytea       NOT NULL
);
INSERT INTO {schema}.audit_chain_head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only in the database itself: whatever the code does, and whoever connects short of
-- a superuser disabling the trigger, an audit row cannot be changed or removed.
CREATE FUNCTION {schema}.audit_log_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON {schema}.audit_log
    FOR EACH ROW EXECUTE FUNCTION {schema}.audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON {schema}.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.audit_log_is_append_only();
