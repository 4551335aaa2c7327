-- Schema of DESIGN.md §3. Ids are prefixed ULIDs, so ORDER BY id is creation order and the primary
-- keys double as the newest-first list indexes. Timestamps are ISO-8601 UTC strings (sortable).
-- No FOREIGN KEY clauses: they would cost a lookup per insert on the delivery hot path and block
-- retention from deleting old events that a newer replay still names; src/db/ keeps the links.
-- Every secondary index below serves a named query in src/db/; add none without one.

CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
);

-- Only SHA-256 hashes of API tokens are kept; the token is shown once at creation.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE, -- authentication looks keys up by hash
  scopes TEXT NOT NULL, -- JSON array of catalog scopes
  created_at TEXT NOT NULL,
  revoked_at TEXT
);

CREATE TABLE endpoints (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  url TEXT NOT NULL,
  description TEXT NOT NULL,
  event_type_filters TEXT NOT NULL, -- JSON array
  allowed_scopes TEXT NOT NULL, -- JSON array: the API key scopes `*` expands to (those of the key that set the filters)
  resource_scopes TEXT NOT NULL, -- JSON object: { vaultIds?: [...], ... }
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'auto_disabled')),
  disabled_reason TEXT, -- JSON object, set when auto-disabled
  signature_scheme TEXT NOT NULL CHECK (signature_scheme IN ('standard', 'convoy')),
  payload_format TEXT NOT NULL CHECK (payload_format IN ('full', 'slim')),
  headers TEXT NOT NULL, -- JSON object of custom headers
  rate_limit_per_second INTEGER,
  timeout_ms INTEGER,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT -- soft delete: no new deliveries, history kept
);
-- Listing an organization's endpoints newest first, and fan-out's scan of its live endpoints.
CREATE INDEX endpoints_by_organization ON endpoints (organization_id, id) WHERE deleted_at IS NULL;

-- Signing secrets, AES-GCM encrypted under SECRETS_KEY. A secret signs while expires_at is NULL
-- (current) or in the future (rotation grace window).
CREATE TABLE endpoint_secrets (
  endpoint_id TEXT NOT NULL,
  id TEXT NOT NULL, -- ULID: newest last
  ciphertext TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  PRIMARY KEY (endpoint_id, id)
) WITHOUT ROWID;

-- Events and deliveries are clustered by organization (WITHOUT ROWID, primary key first): an insert
-- writes one row and nothing else, and every read the API makes is one organization's range. The
-- cron work that crosses organizations (sweep, retention) uses the partial indexes below, which hold
-- only rows that need it, or walks the organizations.
CREATE TABLE events (
  organization_id TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL, -- JSON
  resources TEXT NOT NULL, -- JSON object: { vault?: id, ... }
  occurred_at TEXT NOT NULL,
  created_at TEXT NOT NULL,
  sweep_after TEXT, -- set while no queue message is known to carry the event: from then on the sweeper re-sends it
  idempotency_key TEXT, -- the publisher's Idempotency-Key header, unique per organization
  request_hash TEXT, -- SHA-256 of the published request, to tell a retry from a conflicting reuse of the key
  PRIMARY KEY (organization_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX events_by_idempotency_key ON events (organization_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_to_sweep ON events (sweep_after) WHERE sweep_after IS NOT NULL;

-- A delivery row is written once its first attempt is over (or it is replayed), with its attempts. Ids start with their event's time (see lib/ids.ts), so ORDER BY id is
-- newest event first and an event's deliveries are one id range. The first delivery of an event to
-- an endpoint has an id derived from both, so a fan-out run twice cannot make it twice.
CREATE TABLE deliveries (
  organization_id TEXT NOT NULL,
  id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempt_count INTEGER NOT NULL DEFAULT 0,
  queue_retries INTEGER NOT NULL DEFAULT 0, -- steps of RETRY_SCHEDULE_SECONDS spent
  next_attempt_at TEXT,
  lease_until TEXT, -- held by the consumer run attempting it: no delivery is attempted twice at once
  sweep_after TEXT, -- pending and waiting for a queue message: not picked up by then, the sweeper re-sends it
  last_status_code INTEGER,
  last_error TEXT,
  replay_of TEXT, -- the delivery this one replays
  payload_override TEXT, -- JSON data sent instead of the event's, for a replay that asked for it
  created_at TEXT NOT NULL,
  delivered_at TEXT,
  -- JSON array of attempts in order: {number, trigger, startedAt, durationMs, statusCode, error,
  -- responseBody (cut to 4 KiB)}. Kept in the row, so an attempt writes no row of its own.
  attempts TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (organization_id, id)
) WITHOUT ROWID;
CREATE INDEX deliveries_to_sweep ON deliveries (sweep_after) WHERE sweep_after IS NOT NULL;

-- Where the cron trigger's walks over organizations (retention) stopped, so the next run goes on.
CREATE TABLE cron_cursors (
  task TEXT PRIMARY KEY,
  cursor TEXT NOT NULL
) WITHOUT ROWID;

