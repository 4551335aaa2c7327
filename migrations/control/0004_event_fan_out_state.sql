-- An event's fan-out is explicit state (src/db/events.ts): `pending` from the publish until a fan-out run
-- has recorded or handed on a first attempt to every matching endpoint, then `done`; `failed` once the
-- sweeper gave up re-sending it. Until then the event stays due for the sweeper (`sweep_after` is set
-- at publish and cleared only by fan-out), so a lost, dead-lettered or unreadable message never loses it.
ALTER TABLE events ADD COLUMN fan_out_status TEXT NOT NULL DEFAULT 'done'
  CHECK (fan_out_status IN ('pending', 'done', 'failed'));
-- Why fan-out has not completed yet, or why it was given up: shown by GET /webhooks/v1/events/{id}.
ALTER TABLE events ADD COLUMN fan_out_error TEXT;
-- How many times the sweeper has re-sent the event; past a cap its fan-out is `failed`.
ALTER TABLE events ADD COLUMN sweeps INTEGER NOT NULL DEFAULT 0;
-- Events stored before this migration and still marked for the sweeper had not been fanned out.
UPDATE events SET fan_out_status = 'pending' WHERE sweep_after IS NOT NULL;
