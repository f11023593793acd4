-- When the expert submitted their evaluation and so completed the assignment (scoring's
-- AssignmentCompleted); null until then, and again after a fresh assignment.
ALTER TABLE {schema}.assignments ADD COLUMN completed_at timestamptz;
