-- The data plane: the schema of every shard (docs/architecture.md#storage, docs/scale.md). Events and
-- deliveries of an organization live in the shard its row in the control plane names
-- (organizations.shard); the control plane (migrations/control/) keeps organizations, API keys,
-- endpoints and their secrets.
--
-- Shard 0 is the primary database itself (wrangler.toml: DB_SHARD_0 names the same database as DB),
-- where migrations/control/ created these tables before shards existed, so every statement here is
-- IF NOT EXISTS: a no-op there, the whole schema in a new shard. What each table and column is for
-- is said where they were first created, migrations/control/0001_init.sql to 0004.

CREATE TABLE IF NOT EXISTS events (
  organization_id TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  resources TEXT NOT NULL,
  occurred_at TEXT NOT NULL,
  created_at TEXT NOT NULL,
  sweep_after TEXT,
  idempotency_key TEXT,
  request_hash TEXT,
  fan_out_status TEXT NOT NULL DEFAULT 'done' CHECK (fan_out_status IN ('pending', 'done', 'failed')),
  fan_out_error TEXT,
  sweeps INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (organization_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_by_idempotency_key ON events (organization_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_to_sweep ON events (sweep_after) WHERE sweep_after IS NOT NULL;

CREATE TABLE IF NOT EXISTS deliveries (
  organization_id TEXT NOT NULL,
  id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempt_count INTEGER NOT NULL DEFAULT 0,
  queue_retries INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  lease_until TEXT,
  sweep_after TEXT,
  last_status_code INTEGER,
  last_error TEXT,
  replay_of TEXT,
  payload_override TEXT,
  created_at TEXT NOT NULL,
  delivered_at TEXT,
  attempts TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (organization_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_to_sweep ON deliveries (sweep_after) WHERE sweep_after IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_failed_originals ON deliveries (organization_id, endpoint_id, created_at)
  WHERE status = 'failed' AND replay_of IS NULL;
