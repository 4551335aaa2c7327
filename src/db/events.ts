import type { EventRecord, FanOutStatus, IdempotencyRecord, StoredEvent } from "../domain/event";
import { type EventId, ID_PREFIX, idAt, type OrganizationId } from "../lib/ids";
import { IN_ID_LIST, idList, type Page, type PageQuery, scanPage } from "./page";
import type { Queryable } from "./queryable";

type EventRow = {
  id: string;
  organization_id: string;
  type: string;
  data: string;
  resources: string;
  occurred_at: string;
  created_at: string;
  fan_out_status: FanOutStatus;
  fan_out_error: string | null;
};

const toEvent = (row: EventRow): StoredEvent => ({
  id: row.id as EventId,
  organizationId: row.organization_id as OrganizationId,
  type: row.type,
  data: JSON.parse(row.data),
  resources: JSON.parse(row.resources),
  occurredAt: row.occurred_at,
  createdAt: row.created_at,
  fanOut: { status: row.fan_out_status, error: row.fan_out_error },
});

/**
 * Stores an event, its fan-out pending: one row, nothing else on the hot path. It is due for the
 * sweeper from `sweepAfter` on, until fan-out marks it done (markEventsFannedOut), whatever becomes
 * of its queue message. Returns false when nothing was written: the event is there already (fan-out
 * stored it from its message first), or its Idempotency-Key was already used in the organization (the
 * unique index decides, so two concurrent publishes with one key cannot both store an event).
 */
export async function insertEvent(
  db: Queryable,
  e: EventRecord,
  options: { idempotency?: IdempotencyRecord; sweepAfter: string },
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `INSERT INTO events (organization_id, id, type, data, resources, occurred_at, created_at, sweep_after,
         idempotency_key, request_hash, fan_out_status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')
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
      options.sweepAfter,
      options.idempotency?.key ?? null,
      options.idempotency?.requestHash ?? null,
    )
    .run();
  return meta.changes > 0;
}

/** The event first published under an Idempotency-Key, with the hash of that request. */
export async function findEventByIdempotencyKey(
  db: Queryable,
  organizationId: OrganizationId,
  key: string,
): Promise<{ event: StoredEvent; requestHash: string } | null> {
  const row = await db
    .prepare("SELECT * FROM events WHERE organization_id = ? AND idempotency_key = ?")
    .bind(organizationId, key)
    .first<EventRow & { request_hash: string }>();
  return row ? { event: toEvent(row), requestHash: row.request_hash } : null;
}

export async function getEvent(
  db: Queryable,
  organizationId: OrganizationId,
  id: EventId,
): Promise<StoredEvent | null> {
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
  db: Queryable,
  organizationId: OrganizationId,
  /** `types`: only events of these types (those an API key's scopes cover); all when undefined. */
  query: PageQuery & { type?: string; since?: string; until?: string; types?: readonly string[] },
): Promise<Page<StoredEvent>> {
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

/**
 * Fan-out recorded or handed on a first attempt to every matching endpoint of these events: nothing
 * is left for the sweeper. One statement for all of an organization's events of a run. An event the
 * sweeper had given up (a late copy of its message went through after all) is done too.
 */
export function markEventsFannedOut(
  db: Queryable,
  organizationId: OrganizationId,
  ids: readonly EventId[],
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE events SET fan_out_status = 'done', fan_out_error = NULL, sweep_after = NULL
       WHERE organization_id = ? AND id ${IN_ID_LIST} AND fan_out_status <> 'done'`,
    )
    .bind(organizationId, idList(ids));
}

/**
 * Fan-out of these events failed (`error` says how): the owner sees why, and each stays due for the
 * sweeper, from `dueAt` at the latest.
 */
export function noteFanOutError(
  db: Queryable,
  organizationId: OrganizationId,
  ids: readonly EventId[],
  error: string,
  dueAt: string,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE events SET fan_out_error = ?1, sweep_after = MIN(COALESCE(sweep_after, ?4), ?4)
       WHERE organization_id = ?2 AND id IN (SELECT value FROM json_each(?3)) AND fan_out_status = 'pending'`,
    )
    .bind(error, organizationId, idList(ids), dueAt);
}

/**
 * The event's message was dead-lettered (its fan-out kept failing): the error fan-out noted last
 * stays (it says why), and the event is due for the sweeper from `dueAt` at the latest.
 */
export function noteEventDeadLettered(
  db: Queryable,
  organizationId: OrganizationId,
  id: EventId,
  dueAt: string,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE events SET fan_out_error = COALESCE(fan_out_error, 'dead_lettered: fan-out kept failing'),
         sweep_after = MIN(COALESCE(sweep_after, ?3), ?3)
       WHERE organization_id = ?1 AND id = ?2 AND fan_out_status = 'pending'`,
    )
    .bind(organizationId, id, dueAt);
}

export type EventToSweep = { organizationId: OrganizationId; id: EventId; sweeps: number };

/** Events whose `sweep_after` has passed: stored, but not fanned out in time. */
export async function listEventsToSweep(db: Queryable, now: string, limit: number): Promise<EventToSweep[]> {
  const { results } = await db
    .prepare(
      `SELECT organization_id, id, sweeps FROM events
       WHERE sweep_after IS NOT NULL AND sweep_after <= ? ORDER BY sweep_after LIMIT ?`,
    )
    .bind(now, limit)
    .all<{ organization_id: string; id: string; sweeps: number }>();
  return results.map((r) => ({
    organizationId: r.organization_id as OrganizationId,
    id: r.id as EventId,
    sweeps: r.sweeps,
  }));
}

/** The sweeper sent the event again: one more re-send counted, and due again from `sweepAfter`. */
export function postponeEventSweep(db: Queryable, e: EventToSweep, sweepAfter: string): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE events SET sweeps = sweeps + 1, sweep_after = ?
       WHERE organization_id = ? AND id = ? AND fan_out_status = 'pending'`,
    )
    .bind(sweepAfter, e.organizationId, e.id);
}

/** The sweeper gives the event up: its fan-out is failed, with the reason and the last error. */
export function failEventFanOut(db: Queryable, e: EventToSweep, reason: string): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE events SET fan_out_status = 'failed', sweep_after = NULL,
         fan_out_error = ? || COALESCE(': ' || fan_out_error, '')
       WHERE organization_id = ? AND id = ? AND fan_out_status = 'pending'`,
    )
    .bind(reason, e.organizationId, e.id);
}
