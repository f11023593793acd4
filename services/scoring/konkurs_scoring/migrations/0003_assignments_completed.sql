-- Whether the expert submitted their evaluation (AssignmentCompleted): a completed
-- assignment is never overdue and shows as done on the worklist.
ALTER TABLE {schema}.assignments ADD COLUMN completed boolean NOT NULL DEFAULT false;
