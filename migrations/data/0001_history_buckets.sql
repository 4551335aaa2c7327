-- The data plane: what every shard needs besides its history tables (docs/scale.md). Events and
-- deliveries live in weekly tables, `events_w<n>` and `deliveries_w<n>`, that the Worker creates when
-- it first writes into a week and retention drops whole (src/db/buckets.ts holds their schema).
--
-- A shard that has the tables `events` and `deliveries` from before weeks existed (shard 0: the
-- primary database, where migrations/control/0001 to 0004 created them) keeps them as its legacy
-- bucket: every id whose time is before `until_ms` (the millisecond after this migration ran) is looked for there,
-- and every later one in its week. Retention removes legacy rows one by one, then drops the tables once
-- the last of them has expired. A shard without them has no row here, and no legacy bucket.
CREATE TABLE history_legacy (until_ms INTEGER NOT NULL);
INSERT INTO history_legacy (until_ms)
  SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + 1
  WHERE EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events');
