import type { EventRecord, FanOutStatus, IdempotencyRecord, StoredEvent } from "../domain/event";
import { type EventId, ID_PREFIX, idAt, type OrganizationId } from "../lib/ids";
import {
  ensureBuckets,
  groupByBucket,
  type History,
  liveBuckets,
  orEmpty,
  overdue,
  tableOf,
  tableOfId,
} from "./buckets";
import { IN_ID_LIST, idList, type Page, type PageQuery, scanBuckets } from "./page";
import { loadPayloads, storePayload } from "./payloads";

type EventRow = {
  id: string;
  organization_id: string;
  type: string;
  data: string;
  /** Where the data is when it is too large for the row (db/payloads.ts); absent in legacy tables. */
  data_key?: string | null;
  resources: string;
  occurred_at: string;
  created_at: string;
  fan_out_status: FanOutStatus;
  fan_out_error: string | null;
  /** Ordered events' (migrations/data/0002); absent in legacy tables. */
  sequence?: number | null;
  ordering_key?: string | null;
};

/** Rows as events, the data of those that keep it in R2 read from there. */
async function toEvents(h: History, rows: EventRow[]): Promise<StoredEvent[]> {
  const texts = await loadPayloads(
    h.payloads,
    rows.flatMap((row) => (row.data_key ? [row.data_key] : [])),
  );
  return rows.map((row) => {
    if (!row.data_key) return toEvent(row);
    const data = texts.get(row.data_key);
    if (data === undefined) throw new Error(`the data of event ${row.id} is missing from R2`);
    return toEvent({ ...row, data });
  });
}

const toEvent = (row: EventRow): StoredEvent => ({
  id: row.id as EventId,
  organizationId: row.organization_id as OrganizationId,
  type: row.type,
  data: JSON.parse(row.data),
  resources: JSON.parse(row.resources),
  occurredAt: row.occurred_at,
  createdAt: row.created_at,
  fanOut: { status: row.fan_out_status, error: row.fan_out_error },
  ...(typeof row.sequence === "number" && {
    order: { sequence: row.sequence, key: row.ordering_key ?? null },
  }),
});

/**
 * Stores an event, its fan-out pending: one row, nothing else on the hot path. It is due for the
 * sweeper from `sweepAfter` on, until fan-out marks it done (markEventsFannedOut), whatever becomes
 * of its queue message. Returns false when nothing was written: the event is there already (fan-out
 * stored it from its message first), or its Idempotency-Key was already used in the organization's
 * week (the week's unique index decides, so two concurrent publishes with one key cannot both store an
 * event; across weeks, publish looks the key up first: findEventByIdempotencyKey).
 */
export async function insertEvent(
  h: History,
  e: EventRecord,
  options: { idempotency?: IdempotencyRecord; sweepAfter: string },
): Promise<boolean> {
  const { meta } = await (await eventInsert(h, e, options, null)).run();
  return meta.changes > 0;
}

/**
 * Stores an event as insertEvent does, numbered: the organization's next acceptance number is taken in
 * the same D1 batch, one transaction, so the numbers follow the order in which publishes were stored
 * (docs/architecture.md#ordered-lanes). Returns the event's number, or null when nothing was stored (a
 * number may then go unused: a gap, which orders nothing wrongly).
 */
export async function insertOrderedEvent(
  h: History,
  e: EventRecord,
  options: { idempotency?: IdempotencyRecord; sweepAfter: string; orderingKey: string | null },
): Promise<number | null> {
  const [taken, inserted] = await h.db.batch<{ last: number }>([
    takeSequences(h, e.organizationId, 1),
    await eventInsert(h, e, options, options.orderingKey),
  ]);
  const sequence = taken?.results[0]?.last;
  if (inserted?.meta.changes === 0) return null;
  if (sequence === undefined) throw new Error(`event ${e.id} was stored without its number`);
  return sequence;
}

/**
 * Takes the organization's next `count` acceptance numbers (migrations/data/0002), returning the last
 * of them (`last`): the numbers are last - count + 1 to last. For a batch that numbers what it writes.
 */
export function takeSequences(
  h: History,
  organizationId: OrganizationId,
  count: number,
): D1PreparedStatement {
  return h.db
    .prepare(
      `INSERT INTO event_sequences (organization_id, last) VALUES (?, ?)
       ON CONFLICT (organization_id) DO UPDATE SET last = last + excluded.last RETURNING last`,
    )
    .bind(organizationId, count);
}

/**
 * The statement that stores an event, pending fan-out; `orderingKey` not null (or null, numbered with
 * no key) only inside insertOrderedEvent's batch, whose first statement took the number it reads.
 */
async function eventInsert(
  h: History,
  e: EventRecord,
  options: { idempotency?: IdempotencyRecord; sweepAfter: string },
  orderingKey: string | null | undefined,
): Promise<D1PreparedStatement> {
  await ensureBuckets(h, [e.id]);
  const table = tableOfId(h, "events", e.id);
  const data = JSON.stringify(e.data);
  // Large data goes to R2 first, the row keeping its key; the legacy tables have no key column.
  const dataKey =
    h.payloads && table !== "events" ? await storePayload(h.payloads, e.organizationId, e.id, data) : null;
  const ordered = orderingKey !== undefined;
  return h.db
    .prepare(
      `INSERT INTO ${table} (organization_id, id, type, data, resources, occurred_at, created_at, sweep_after,
         idempotency_key, request_hash, fan_out_status${dataKey ? ", data_key" : ""}${ordered ? ", sequence, ordering_key" : ""})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending'${dataKey ? ", ?" : ""}${
         ordered ? ", (SELECT last FROM event_sequences WHERE organization_id = ?), ?" : ""
       })
       ON CONFLICT DO NOTHING`,
    )
    .bind(
      e.organizationId,
      e.id,
      e.type,
      dataKey ? "null" : data,
      JSON.stringify(e.resources),
      e.occurredAt,
      e.createdAt,
      options.sweepAfter,
      options.idempotency?.key ?? null,
      options.idempotency?.requestHash ?? null,
      ...(dataKey ? [dataKey] : []),
      ...(ordered ? [e.organizationId, orderingKey] : []),
    );
}

/**
 * The event first published under an Idempotency-Key, with the hash of that request: looked for in
 * every week still kept, one statement each in one batch, so a key is remembered as long as its event.
 */
export async function findEventByIdempotencyKey(
  h: History,
  organizationId: OrganizationId,
  key: string,
): Promise<{ event: StoredEvent; requestHash: string } | null> {
  const buckets = await liveBuckets(h);
  if (buckets.length === 0) return null;
  const found = await orEmpty(
    h.db.batch<EventRow & { request_hash: string }>(
      buckets.map((bucket) =>
        h.db
          .prepare(
            `SELECT * FROM ${tableOf("events", bucket)} WHERE organization_id = ? AND idempotency_key = ?`,
          )
          .bind(organizationId, key),
      ),
    ),
    [],
  );
  const row = found.flatMap((result) => result.results).sort((a, b) => (a.id < b.id ? -1 : 1))[0];
  if (!row) return null;
  const [event] = await toEvents(h, [row]);
  return event ? { event, requestHash: row.request_hash } : null;
}

export async function getEvent(
  h: History,
  organizationId: OrganizationId,
  id: EventId,
): Promise<StoredEvent | null> {
  const row = await orEmpty(
    h.db
      .prepare(`SELECT * FROM ${tableOfId(h, "events", id)} WHERE organization_id = ? AND id = ?`)
      .bind(organizationId, id)
      .first<EventRow>(),
    null,
  );
  return row ? ((await toEvents(h, [row]))[0] ?? null) : null;
}

/**
 * A page of the organization's events, newest first. An event's id is made at its created_at
 * (delivery/publish.ts), so `since` and `until` are primary-key bounds; the type filters are read
 * from at most MAX_SCANNED_ROWS rows a page (page.ts: scanPage).
 */
export async function listEvents(
  h: History,
  organizationId: OrganizationId,
  /** `types`: only events of these types (those an API key's scopes cover); all when undefined. */
  query: PageQuery & { type?: string; since?: string; until?: string; types?: readonly string[] },
): Promise<Page<StoredEvent>> {
  const idAtTime = (iso: string | undefined) => iso && idAt(ID_PREFIX.event, Date.parse(iso));
  const page = await scanBuckets<EventRow>(h, {
    kind: "events",
    cursor: query.cursor,
    within: {
      from: query.since === undefined ? undefined : Date.parse(query.since),
      to: query.until === undefined ? undefined : Date.parse(query.until),
    },
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
  return { data: await toEvents(h, page.data), nextCursor: page.nextCursor };
}

/**
 * Fan-out recorded or handed on a first attempt to every matching endpoint of these events: nothing
 * is left for the sweeper. One statement per week for all of an organization's events of a run. An
 * event the sweeper had given up (a late copy of its message went through after all) is done too.
 */
export function markEventsFannedOut(
  h: History,
  organizationId: OrganizationId,
  ids: readonly EventId[],
): D1PreparedStatement[] {
  return [...groupByBucket(h, ids)].map(([bucket, inBucket]) =>
    h.db
      .prepare(
        `UPDATE ${tableOf("events", bucket)} SET fan_out_status = 'done', fan_out_error = NULL, sweep_after = NULL
         WHERE organization_id = ? AND id ${IN_ID_LIST} AND fan_out_status <> 'done'`,
      )
      .bind(organizationId, idList(inBucket)),
  );
}

/**
 * Fan-out of these events failed (`error` says how): the owner sees why, and each stays due for the
 * sweeper, from `dueAt` at the latest.
 */
export function noteFanOutError(
  h: History,
  organizationId: OrganizationId,
  ids: readonly EventId[],
  error: string,
  dueAt: string,
): D1PreparedStatement[] {
  return [...groupByBucket(h, ids)].map(([bucket, inBucket]) =>
    h.db
      .prepare(
        `UPDATE ${tableOf("events", bucket)} SET fan_out_error = ?1, sweep_after = MIN(COALESCE(sweep_after, ?4), ?4)
         WHERE organization_id = ?2 AND id IN (SELECT value FROM json_each(?3)) AND fan_out_status = 'pending'`,
      )
      .bind(error, organizationId, idList(inBucket), dueAt),
  );
}

/**
 * The event's message was dead-lettered (its fan-out kept failing): the error fan-out noted last
 * stays (it says why), and the event is due for the sweeper from `dueAt` at the latest.
 */
export function noteEventDeadLettered(
  h: History,
  organizationId: OrganizationId,
  id: EventId,
  dueAt: string,
): D1PreparedStatement {
  return h.db
    .prepare(
      `UPDATE ${tableOfId(h, "events", id)} SET fan_out_error = COALESCE(fan_out_error, 'dead_lettered: fan-out kept failing'),
         sweep_after = MIN(COALESCE(sweep_after, ?3), ?3)
       WHERE organization_id = ?1 AND id = ?2 AND fan_out_status = 'pending'`,
    )
    .bind(organizationId, id, dueAt);
}

export type EventToSweep = { organizationId: OrganizationId; id: EventId; sweeps: number };

/** Events whose `sweep_after` has passed: stored, but not fanned out in time; the most overdue first. */
export async function listEventsToSweep(h: History, now: string, limit: number): Promise<EventToSweep[]> {
  const results = await overdue<{ organization_id: string; id: string; sweeps: number }>(
    h,
    "events",
    "organization_id, id, sweeps",
    now,
    limit,
  );
  return results.map((r) => ({
    organizationId: r.organization_id as OrganizationId,
    id: r.id as EventId,
    sweeps: r.sweeps,
  }));
}

/** The sweeper sent the event again: one more re-send counted, and due again from `sweepAfter`. */
export function postponeEventSweep(h: History, e: EventToSweep, sweepAfter: string): D1PreparedStatement {
  return h.db
    .prepare(
      `UPDATE ${tableOfId(h, "events", e.id)} SET sweeps = sweeps + 1, sweep_after = ?
       WHERE organization_id = ? AND id = ? AND fan_out_status = 'pending'`,
    )
    .bind(sweepAfter, e.organizationId, e.id);
}

/** The sweeper gives the event up: its fan-out is failed, with the reason and the last error. */
export function failEventFanOut(h: History, e: EventToSweep, reason: string): D1PreparedStatement {
  return h.db
    .prepare(
      `UPDATE ${tableOfId(h, "events", e.id)} SET fan_out_status = 'failed', sweep_after = NULL,
         fan_out_error = ? || COALESCE(': ' || fan_out_error, '')
       WHERE organization_id = ? AND id = ? AND fan_out_status = 'pending'`,
    )
    .bind(reason, e.organizationId, e.id);
}

/**
 * The number below which every one of the organization's ordered events has been fanned out (or
 * given up by the sweeper), so a lane may send a delivery numbered up to it without a lower-numbered
 * event still on its way (docs/architecture.md#ordered-lanes). The counter is read before the weeks, so
 * an event numbered at most `last` and still pending is seen; a week whose table predates ordering
 * holds no numbered event. Through the sweeper's index: an event pending fan-out is due for the
 * sweeper, and the shard's pending events are few (an index of their own would cost two rows written
 * per ordered event: in when stored, out when fanned out).
 */
export async function fannedOutBelow(h: History, organizationId: OrganizationId): Promise<number> {
  const last =
    (await h.db
      .prepare("SELECT last FROM event_sequences WHERE organization_id = ?")
      .bind(organizationId)
      .first<number>("last")) ?? 0;
  const weeks = (await liveBuckets(h)).filter((bucket) => bucket !== "legacy");
  const pending = await Promise.all(
    weeks.map((week) =>
      orMissing(
        h.db
          .prepare(
            `SELECT MIN(sequence) AS pending FROM ${tableOf("events", week)}
             WHERE sweep_after IS NOT NULL AND organization_id = ? AND fan_out_status = 'pending'
               AND sequence IS NOT NULL`,
          )
          .bind(organizationId)
          .first<number | null>("pending"),
      ),
    ),
  );
  return Math.min(last + 1, ...pending.filter((p): p is number => typeof p === "number"));
}

/** A read of a week's table, or null if the table or its ordering columns are not there. */
async function orMissing<T>(read: Promise<T | null>): Promise<T | null> {
  try {
    return await read;
  } catch (error) {
    if (/no such (table|column)/.test(String(error))) return null;
    throw error;
  }
}
