-- The meetings of each call: a new meeting may select only the places earlier published
-- decisions of its call left (the call's quota holds across meetings).
CREATE TABLE {schema}.meetings (
    meeting_id text PRIMARY KEY,
    call_id    text NOT NULL
);
CREATE INDEX meetings_call ON {schema}.meetings (call_id);
