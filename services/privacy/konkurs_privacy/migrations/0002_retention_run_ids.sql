-- A call's retention may run more than once (again for subjects learned after a run), and
-- two runs may share a clock reading: each run gets an id of its own.
ALTER TABLE {schema}.retention_runs DROP CONSTRAINT retention_runs_pkey;
ALTER TABLE {schema}.retention_runs ADD COLUMN run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX ON {schema}.retention_runs (call_id, kind);
