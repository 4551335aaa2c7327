-- An endpoint's condition on an event's data (JSON, src/catalog/payload-filter.ts): fan-out delivers an
-- event to it only when the condition holds. NULL delivers every event its subscription selects.
ALTER TABLE endpoints ADD COLUMN payload_filter TEXT;
