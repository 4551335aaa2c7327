-- Indexes for filters the primary keys cannot serve (issue 13). Each costs rows written only for the
-- rare rows it holds: no index here is written by a delivered first attempt, the hot path.

-- recover (src/db/deliveries.ts, listRecoverableDeliveries): an endpoint's failed original deliveries,
-- by creation time. A row enters when a delivery fails; replays never do.
CREATE INDEX deliveries_failed_originals ON deliveries (organization_id, endpoint_id, created_at)
  WHERE status = 'failed' AND replay_of IS NULL;

-- The endpoint caps (src/db/endpoints.ts): live endpoints of an organization with one URL, counted by
-- every create and URL change. Endpoints are written rarely; deliveries never touch this index.
CREATE INDEX endpoints_by_url ON endpoints (organization_id, url) WHERE deleted_at IS NULL;
