-- Ordered delivery (docs/architecture.md#ordered-lanes): the acceptance order of an organization's
-- events. A publish of an organization that has an ordered endpoint takes the next number here in the
-- same D1 batch that stores its event (src/db/events.ts), so an event whose publish was answered
-- before another was sent has the lower number, and events published at once get one order. Each week's
-- `events_w<n>` keeps the number and the event's ordering key (src/db/buckets.ts).
CREATE TABLE event_sequences (
  organization_id TEXT PRIMARY KEY,
  last INTEGER NOT NULL
) WITHOUT ROWID;
