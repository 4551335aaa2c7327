-- The operator's own organization (src/events/operator.ts): its endpoints are the operational
-- endpoints, managed under /admin/v1/operational_endpoints, and receive the service-wide
-- `operator.endpoint.*` events about every other organization's endpoints. Shard 0; a fixed id that
-- sorts before every other organization's.
INSERT OR IGNORE INTO organizations (id, name, shard, created_at)
  VALUES ('org_00000000000000000000000000', 'Operator', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
