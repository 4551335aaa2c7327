import type { EventId, OrganizationId } from "../lib/ids";
import { type Page, type PageQuery, toPage, where } from "./page";

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
 * Stores an event; false when its Idempotency-Key was already used in the organization (the unique
 * index decides, so two concurrent publishes with one key cannot both store an event).
 */
export async function insertEvent(
  db: D1Database,
  e: EventRecord,
  idempotency?: IdempotencyRecord,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `INSERT INTO events (id, organization_id, type, data, resources, occurred_at, created_at, idempotency_key,
         request_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    )
    .bind(
      e.id,
      e.organizationId,
      e.type,
      JSON.stringify(e.data),
      JSON.stringify(e.resources),
      e.occurredAt,
      e.createdAt,
      idempotency?.key ?? null,
      idempotency?.requestHash ?? null,
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
    .prepare("SELECT * FROM events WHERE id = ? AND organization_id = ?")
    .bind(id, organizationId)
    .first<EventRow>();
  return row ? toEvent(row) : null;
}

export async function listEvents(
  db: D1Database,
  organizationId: string,
  query: PageQuery & { type?: string; since?: string; until?: string },
): Promise<Page<EventRecord>> {
  const filter = where([
    ["organization_id = ?", organizationId],
    ["id < ?", query.cursor],
    ["type = ?", query.type],
    ["created_at >= ?", query.since],
    ["created_at < ?", query.until],
  ]);
  const { results } = await db
    .prepare(`SELECT * FROM events WHERE ${filter.sql} ORDER BY id DESC LIMIT ?`)
    .bind(...filter.params, query.limit + 1)
    .all<EventRow>();
  return toPage(results.map(toEvent), query.limit);
}

/** For fan-out, which is not scoped by organization: the event names its own. */
export async function getEventById(db: D1Database, id: string): Promise<EventRecord | null> {
  const row = await db.prepare("SELECT * FROM events WHERE id = ?").bind(id).first<EventRow>();
  return row ? toEvent(row) : null;
}

/** Written in the same batch as the event's deliveries, so the sweeper never re-sends a done fan-out. */
export function markEventFannedOut(db: D1Database, id: EventId, at: string): D1PreparedStatement {
  return db.prepare("UPDATE events SET fanned_out_at = ? WHERE id = ?").bind(at, id);
}

/** Events created before `beforeId` that were never fanned out (their queue message was lost). */
export async function listEventsAwaitingFanOut(
  db: D1Database,
  beforeId: string,
  limit: number,
): Promise<EventId[]> {
  const { results } = await db
    .prepare("SELECT id FROM events WHERE fanned_out_at IS NULL AND id < ? ORDER BY id LIMIT ?")
    .bind(beforeId, limit)
    .all<{ id: string }>();
  return results.map((r) => r.id as EventId);
}

/** Retention: up to `limit` events made before `beforeId`; returns how many went. */
export async function deleteEventsBefore(db: D1Database, beforeId: string, limit: number): Promise<number> {
  const { meta } = await db
    .prepare("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id < ? LIMIT ?)")
    .bind(beforeId, limit)
    .run();
  return meta.changes;
}
