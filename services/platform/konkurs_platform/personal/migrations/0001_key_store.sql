-- The key store of personal data (konkurs_platform.personal): one random data key per data
-- subject, and the tombstone of every key destroyed. Its own schema, so that a role is
-- granted the keys (and with them the clear personal data) or not at all.

CREATE TABLE {schema}.subject_keys (
    subject_id  text        PRIMARY KEY,
    -- The kind of personal data the subject's values are (the field option's kind).
    kind        text        NOT NULL,
    -- 256 bits for AES-GCM. Deleting the row is the erasure: no copy exists elsewhere.
    data_key    bytea       NOT NULL CHECK (length(data_key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Who erased whom, when and why: kept after the key is gone, never with the key.
CREATE TABLE {schema}.erasures (
    subject_id     text        NOT NULL,
    kind           text        NOT NULL,
    erased_at      timestamptz NOT NULL,
    erased_by      text        NOT NULL,
    reason         text        NOT NULL,
    retention_rule text        NOT NULL DEFAULT '',
    PRIMARY KEY (subject_id, erased_at)
);
