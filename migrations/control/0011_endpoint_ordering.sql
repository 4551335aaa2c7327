-- Whether an endpoint's deliveries keep the order their events were accepted in (src/ordering/):
-- `none` delivers in parallel, `endpoint` one at a time, `key` one at a time per event's ordering key.
-- Existing endpoints stay as they were, in parallel.
ALTER TABLE endpoints ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none' CHECK (ordering IN ('none', 'endpoint', 'key'));
