-- An endpoint's own retry schedule (seconds per queue retry, a JSON array), overriding
-- RETRY_SCHEDULE_SECONDS for its deliveries (src/delivery/retry-policy.ts); NULL follows the service's.
ALTER TABLE endpoints ADD COLUMN retry_schedule TEXT;
