-- An endpoint whose receiver answered slowly (or not at all) is delivered through the slow lane, the
-- queue webhook-deliveries-slow with consumers of its own, until `slow_until` (src/delivery/lanes.ts):
-- its deliveries never share a run with other endpoints' while it is slow. Set and cleared by the
-- delivery runs, from what the attempts measured; NULL for an endpoint never found slow.
ALTER TABLE endpoints ADD COLUMN slow_until TEXT;
