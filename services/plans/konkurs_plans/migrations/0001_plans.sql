-- The plans opened, for listing them (by coordinator, by call) without folding every stream.
-- Written with PlanOpened, in the reaction's transaction; the plan itself is its events.
CREATE TABLE {schema}.plans (
    plan_id             text PRIMARY KEY,
    call_id             text        NOT NULL,
    registration_number text        NOT NULL,
    cluster_name        text        NOT NULL,
    region_code         text        NOT NULL,
    coordinator_bin     text        NOT NULL,
    opened_at           timestamptz NOT NULL
);
CREATE INDEX plans_coordinator ON {schema}.plans (coordinator_bin);
