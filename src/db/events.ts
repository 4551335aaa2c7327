import { type EventId, ID_PREFIX, idAt, type OrganizationId } from "../lib/ids";
import { IN_ID_LIST, idList, type Page, type PageQuery, scanPage } from "./page";

/** `{ vault: "vault_123", matter: "matter_9" }`: the resources an event is about, by catalog name. */
export type EventResources = Record<string, string>;

export type EventRecord = {
  id: EventId;
  organizationId: OrganizationId;
  type: string;
  data: unknown;
  resources: EventResources;
  occurredAt: string;
  createdAt: string;
};

type EventRow = {
  id: string;
  organization_id: string;
  type: string;
  data: string;
  resources: string;
  occurred_at: string;
  created_at: string;
};

const toEvent = (row: EventRow): EventRecord => ({
  id: row.id as EventId,
  organizationId: row.organization_id as OrganizationId,
  type: row.type,
  data: JSON.parse(row.data),
  resources: JSON.parse(row.resources),
  occurredAt: row.occurred_at,
  createdAt: row.created_at,
});

/** The publisher's Idempotency-Key and the hash of what it published under it. */
export type IdempotencyRecord = { key: string; requestHash: string };

/**
 * Stores an event: one row, nothing else on the hot path. `sweepAfter` is set when no queue message
 * is known to carry it (its send failed, or has not happened yet). Returns false when nothing was
 * written: the event is there already (fan-out stored it from its message first), or its
 * Idempotency-Key was already used in the organization (the unique index decides, so two concurrent
 * publishes with one key cannot both store an event).
 */
export async function insertEvent(
  db: D1Database,
  e: EventRecord,
  options: { idempotency?: IdempotencyRecord; sweepAfter?: string } = {},
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `INSERT INTO events (organization_id, id, type, data, resources, occurred_at, created_at, sweep_after,
         idempotency_key, request_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    )
    .bind(
      e.organizationId,
      e.id,
      e.type,
      JSON.stringify(e.data),
      JSON.stringify(e.resources),
      e.occurredAt,
      e.createdAt,
      options.sweepAfter ?? null,
      options.idempotency?.key ?? null,
      options.idempotency?.requestHash ?? null,
    )
    .run();
  return meta.changes > 0;
}

/** The event first published under an Idempotency-Key, with the hash of that request. */
export async function findEventByIdempotencyKey(
  db: D1Database,
  organizationId: string,
  key: string,
): Promise<{ event: EventRecord; requestHash: string } | null> {
  const row = await db
    .prepare("SELECT * FROM events WHERE organization_id = ? AND idempotency_key = ?")
    .bind(organizationId, key)
    .first<EventRow & { request_hash: string }>();
  return row ? { event: toEvent(row), requestHash: row.request_hash } : null;
}

export async function getEvent(
  db: D1Database,
  organizationId: string,
  id: string,
): Promise<EventRecord | null> {
  const row = await db
    .prepare("SELECT * FROM events WHERE organization_id = ? AND id = ?")
    .bind(organizationId, id)
    .first<EventRow>();
  return row ? toEvent(row) : null;
}

/**
 * A page of the organization's events, newest first. An event's id is made at its created_at
 * (delivery/publish.ts), so `since` and `until` are primary-key bounds; the type filters are read
 * from at most MAX_SCANNED_ROWS rows a page (page.ts: scanPage).
 */
export async function listEvents(
  db: D1Database,
  organizationId: string,
  /** `types`: only events of these types (those an API key's scopes cover); all when undefined. */
  query: PageQuery & { type?: string; since?: string; until?: string; types?: readonly string[] },
): Promise<Page<EventRecord>> {
  const idAtTime = (iso: string | undefined) => iso && idAt(ID_PREFIX.event, Date.parse(iso));
  const page = await scanPage<EventRow>(db, {
    table: "events",
    columns: "*",
    range: [
      ["organization_id = ?", organizationId],
      ["id < ?", query.cursor],
      ["id >= ?", idAtTime(query.since)],
      ["id < ?", idAtTime(query.until)],
    ],
    filters: [
      ["type = ?", query.type],
      [`type ${IN_ID_LIST}`, query.types && idList(query.types)],
    ],
    limit: query.limit,
  });
  return { data: page.data.map(toEvent), nextCursor: page.nextCursor };
}

/** Which of an organization's `ids` are stored. */
export async function storedEventIds(
  db: D1Database,
  organizationId: string,
  ids: readonly string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { results } = await db
    .prepare(`SELECT id FROM events WHERE organization_id = ? AND id ${IN_ID_LIST}`)
    .bind(organizationId, idList(ids))
    .all<{ id: string }>();
  return new Set(results.map((r) => r.id));
}

/** A queue message now carries the event: the sweeper has nothing to do for it. */
export function clearEventSweep(db: D1Database, organizationId: string, id: string): D1PreparedStatement {
  return db
    .prepare("UPDATE events SET sweep_after = NULL WHERE organization_id = ? AND id = ?")
    .bind(organizationId, id);
}

/** Hands an event to the sweeper: from `at` on it is sent again, unless already marked. */
export function markEventForSweep(
  db: D1Database,
  organizationId: string,
  id: string,
  at: string,
): D1PreparedStatement {
  return db
    .prepare("UPDATE events SET sweep_after = ? WHERE organization_id = ? AND id = ? AND sweep_after IS NULL")
    .bind(at, organizationId, id);
}

/** Events whose `sweep_after` has passed: stored, but no queue message is known to carry them. */
export async function listEventsToSweep(
  db: D1Database,
  now: string,
  limit: number,
): Promise<{ organizationId: OrganizationId; id: EventId }[]> {
  const { results } = await db
    .prepare(
      "SELECT organization_id, id FROM events WHERE sweep_after IS NOT NULL AND sweep_after <= ? ORDER BY sweep_after LIMIT ?",
    )
    .bind(now, limit)
    .all<{ organization_id: string; id: string }>();
  return results.map((r) => ({ organizationId: r.organization_id as OrganizationId, id: r.id as EventId }));
}

/** Retention: up to `limit` of an organization's events made before `beforeId`; returns how many went. */
export async function deleteEventsBefore(
  db: D1Database,
  organizationId: string,
  beforeId: string,
  limit: number,
): Promise<number> {
  const { meta } = await db
    .prepare(
      `DELETE FROM events WHERE organization_id = ?1 AND id IN
         (SELECT id FROM events WHERE organization_id = ?1 AND id < ?2 LIMIT ?3)`,
    )
    .bind(organizationId, beforeId, limit)
    .run();
  return meta.changes;
}
