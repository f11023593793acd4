-- Read models of plan tracking (issue 10): each selected cluster's development plan, every
-- version of it, the reports, the overdue marks of the plans service's timers, the attainment
-- of each indicator per period and the budget of each support measure. A plan's status
-- (on-track, at-risk, late) and what is overdue depend on the date asked for: the routes
-- compute them from these rows (konkurs_readside.projections.plan_figures).
--
-- The first four tables are folded from the plan's events; every row remembers the version
-- of the plan's stream it reflects, so an event the relay published twice changes nothing.
-- plan_attainment and plan_budget are derived from them whenever a plan's events are applied.

-- One row per plan: who it is for, where its workflow stands, its milestones.
CREATE TABLE {schema}.plans (
    plan_id             text        PRIMARY KEY,
    call_id             text        NOT NULL,
    registration_number text        NOT NULL,
    cluster_name        text        NOT NULL,
    region_code         text        NOT NULL,
    coordinator_bin     text        NOT NULL,
    time_zone           text        NOT NULL,
    -- [{phase_id, name_ru, name_kk, name_en, starts_on, ends_on}]
    phases              jsonb       NOT NULL,
    -- [{period_id, starts_on, ends_on, report_due_on}] in order.
    periods             jsonb       NOT NULL,
    -- The version in effect (the latest approved); null before the first approval.
    current_version     integer,
    -- A version drafted after it (version 1, or an amendment): its number and its state
    -- (drafted, submitted, returned); null when none is pending.
    pending_version     integer,
    pending_state       text,
    -- Every milestone ever approved, with the status approved versions and accepted reports
    -- left it in: {milestone_id: {status, met_on}}.
    tracked             jsonb       NOT NULL,
    -- The current version's milestones with those statuses:
    -- [{milestone_id, title, phase_id, owner, due_on, status, met_on}].
    milestones          jsonb       NOT NULL,
    -- The latest period (in the plan's order) whose report was accepted.
    latest_accepted_period text,
    opened_at           timestamptz NOT NULL,
    last_changed_at     timestamptz NOT NULL,
    stream_version      bigint      NOT NULL,
    last_event_id       uuid        NOT NULL
);
CREATE INDEX ON {schema}.plans (coordinator_bin);
CREATE INDEX ON {schema}.plans (call_id, registration_number);

-- Every version of every plan, as drafted (a later draft of the same version replaces it)
-- and as decided; an approved version is in effect from effective_from until the next one's.
CREATE TABLE {schema}.plan_versions (
    plan_id         text        NOT NULL,
    version         integer     NOT NULL,
    -- drafted, submitted, returned, approved or superseded
    state           text        NOT NULL,
    -- {milestones, indicators, support_measures, summary}; amounts and values as strings.
    content         jsonb       NOT NULL,
    reason          text        NOT NULL,
    comments        text,
    drafted_at      timestamptz NOT NULL,
    drafted_by      text        NOT NULL,
    drafted_by_role text        NOT NULL,
    submitted_at    timestamptz,
    returned_at     timestamptz,
    decided_by      text,
    decided_by_role text,
    effective_from  timestamptz,
    effective_to    timestamptz,
    stream_version  bigint      NOT NULL,
    last_event_id   uuid        NOT NULL,
    PRIMARY KEY (plan_id, version)
);

-- The report on each period: its last submission and the operator's decision on it.
CREATE TABLE {schema}.plan_reports (
    plan_id         text        NOT NULL,
    period_id       text        NOT NULL,
    plan_version    integer     NOT NULL,
    -- submitted, returned or accepted
    state           text        NOT NULL,
    -- [{code, value, evidence_sha256}]
    actuals         jsonb       NOT NULL,
    -- [{milestone_id, status, met_on}]
    milestones      jsonb       NOT NULL,
    -- [{measure_id, on, amount}]
    disbursements   jsonb       NOT NULL,
    narrative       text        NOT NULL,
    comments        text,
    submissions     integer     NOT NULL,
    submitted_at    timestamptz NOT NULL,
    submitted_by    text        NOT NULL,
    decided_at      timestamptz,
    decided_by      text,
    decided_by_role text,
    stream_version  bigint      NOT NULL,
    last_event_id   uuid        NOT NULL,
    PRIMARY KEY (plan_id, period_id)
);

-- When the plans service's timers marked an item overdue (each item is marked once): the
-- escalation beside what the routes find overdue on a date.
CREATE TABLE {schema}.plan_overdue (
    plan_id         text        NOT NULL,
    -- milestone or report
    kind            text        NOT NULL,
    -- The milestone's id or the period's id.
    item_id         text        NOT NULL,
    due_on          date        NOT NULL,
    marked_at       timestamptz NOT NULL,
    stream_version  bigint      NOT NULL,
    last_event_id   uuid        NOT NULL,
    PRIMARY KEY (plan_id, kind, item_id)
);

-- Derived: each indicator of the version in effect per period, against that version's target
-- (as plan tracking measures every period); none before the first approval.
CREATE TABLE {schema}.plan_attainment (
    plan_id         text        NOT NULL,
    period_id       text        NOT NULL,
    code            text        NOT NULL,
    period_index    integer     NOT NULL,
    plan_version    integer     NOT NULL,
    name            text        NOT NULL,
    unit            text        NOT NULL,
    -- increasing or decreasing
    direction       text        NOT NULL,
    baseline_year   integer     NOT NULL,
    baseline_value  numeric     NOT NULL,
    -- Null when the version sets no target for the period.
    target          numeric,
    -- From the period's accepted report; null (unknown) otherwise.
    actual          numeric,
    attainment      numeric,
    -- The period's report: submitted, returned, accepted or null (none).
    report_state    text,
    PRIMARY KEY (plan_id, period_id, code)
);

-- Derived: each support measure of a plan, planned and disbursed (accepted reports only).
CREATE TABLE {schema}.plan_budget (
    plan_id         text        NOT NULL,
    measure_id      text        NOT NULL,
    -- The version the measure is described by: the current one, or the last that had it.
    plan_version    integer     NOT NULL,
    kind            text        NOT NULL,
    budget_source   text        NOT NULL,
    amount          numeric     NOT NULL,
    -- [{on, amount}] in date order; none for a measure the version in effect dropped.
    planned         jsonb       NOT NULL,
    -- [{on, amount, period_id}] in date order.
    disbursed       jsonb       NOT NULL,
    planned_total   numeric     NOT NULL,
    disbursed_total numeric     NOT NULL,
    PRIMARY KEY (plan_id, measure_id)
);
