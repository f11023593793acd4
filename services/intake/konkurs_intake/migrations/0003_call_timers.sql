-- Calls announced before the platform's timers existed get their close-call timer, so that
-- an open call of an existing installation still closes at `closes_at`.
INSERT INTO {schema}.timers (stream_id, purpose, timer_id, due_at, correlation_id)
SELECT 'call-' || call_id, 'close-call', gen_random_uuid(), closes_at,
       'migration:intake/0003_call_timers'
FROM {schema}.calls_index
WHERE NOT closed
ON CONFLICT (stream_id, purpose) DO NOTHING;
