import type { DeliveryId, EndpointId, EventId, OrganizationId } from "../lib/ids";
import type { EventResources } from "./events";
import { chunked, type Page, type PageQuery, placeholders, toPage, where } from "./page";

export type DeliveryStatus = "pending" | "delivered" | "failed";

export type Delivery = {
  id: DeliveryId;
  organizationId: OrganizationId;
  eventId: EventId;
  endpointId: EndpointId;
  eventType: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  replayOf: DeliveryId | null;
  createdAt: string;
  deliveredAt: string | null;
};

/** A new delivery; a replay may carry data to send instead of the event's. */
export type NewDelivery = Delivery & { payloadOverride?: unknown };

/**
 * What the delivery consumer needs to send one delivery: the row, its event's content, and how many
 * steps of the retry schedule it has spent (kept on the row, not read from the queue message, so a
 * rate-limit deferral or a sweeper re-enqueue does not restart the schedule).
 */
export type DeliveryJob = Delivery & {
  content: { data: unknown; resources: EventResources; occurredAt: string } | null;
  queueRetries: number;
};

/** The outcome of one consumer run, written back in one statement. */
export type DeliveryProgress = {
  status: DeliveryStatus;
  attemptCount: number;
  queueRetries: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
};

export type DeliveryFilters = {
  endpointId?: string;
  eventId?: string;
  eventType?: string;
  status?: DeliveryStatus;
  since?: string;
  until?: string;
};

type DeliveryRow = {
  id: string;
  organization_id: string;
  event_id: string;
  endpoint_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  replay_of: string | null;
  created_at: string;
  delivered_at: string | null;
};

const toDelivery = (row: DeliveryRow): Delivery => ({
  id: row.id as DeliveryId,
  organizationId: row.organization_id as OrganizationId,
  eventId: row.event_id as EventId,
  endpointId: row.endpoint_id as EndpointId,
  eventType: row.event_type,
  status: row.status,
  attemptCount: row.attempt_count,
  nextAttemptAt: row.next_attempt_at,
  lastStatusCode: row.last_status_code,
  lastError: row.last_error,
  replayOf: row.replay_of as DeliveryId | null,
  createdAt: row.created_at,
  deliveredAt: row.delivered_at,
});

/** New pending deliveries; an id that exists already (a redelivered fan-out) is left alone. */
export function insertDelivery(db: D1Database, d: NewDelivery): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO deliveries (id, organization_id, event_id, endpoint_id, event_type, status,
         next_attempt_at, replay_of, created_at, payload_override)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      d.id,
      d.organizationId,
      d.eventId,
      d.endpointId,
      d.eventType,
      d.status,
      d.nextAttemptAt,
      d.replayOf,
      d.createdAt,
      d.payloadOverride === undefined ? null : JSON.stringify(d.payloadOverride),
    );
}

export async function getDelivery(
  db: D1Database,
  organizationId: string,
  id: string,
): Promise<Delivery | null> {
  const row = await db
    .prepare("SELECT * FROM deliveries WHERE id = ? AND organization_id = ?")
    .bind(id, organizationId)
    .first<DeliveryRow>();
  return row ? toDelivery(row) : null;
}

export async function listDeliveries(
  db: D1Database,
  organizationId: string,
  query: PageQuery & DeliveryFilters,
): Promise<Page<Delivery>> {
  const filter = where([
    ["organization_id = ?", organizationId],
    ["id < ?", query.cursor],
    ["endpoint_id = ?", query.endpointId],
    ["event_id = ?", query.eventId],
    ["event_type = ?", query.eventType],
    ["status = ?", query.status],
    ["created_at >= ?", query.since],
    ["created_at < ?", query.until],
  ]);
  const { results } = await db
    .prepare(`SELECT * FROM deliveries WHERE ${filter.sql} ORDER BY id DESC LIMIT ?`)
    .bind(...filter.params, query.limit + 1)
    .all<DeliveryRow>();
  return toPage(results.map(toDelivery), query.limit);
}

/**
 * Deliveries with their events' content (or a replay's own data), one query for a whole consumer
 * batch. `content` is null when retention already removed the event.
 */
export async function getDeliveryJobs(db: D1Database, ids: string[]): Promise<Map<string, DeliveryJob>> {
  if (ids.length === 0) return new Map();
  const pages = await db.batch<
    DeliveryRow & {
      queue_retries: number;
      event_data: string;
      event_resources: string | null;
      event_occurred_at: string | null;
    }
  >(
    chunked(ids).map((slice) =>
      db
        .prepare(
          `SELECT d.*, COALESCE(d.payload_override, e.data) AS event_data, e.resources AS event_resources,
             e.occurred_at AS event_occurred_at
           FROM deliveries d LEFT JOIN events e ON e.id = d.event_id
           WHERE d.id IN (${placeholders(slice)})`,
        )
        .bind(...slice),
    ),
  );
  return new Map(
    pages
      .flatMap((page) => page.results)
      .map((row) => [
        row.id,
        {
          ...toDelivery(row),
          queueRetries: row.queue_retries,
          content:
            row.event_resources === null || row.event_occurred_at === null
              ? null
              : {
                  data: JSON.parse(row.event_data),
                  resources: JSON.parse(row.event_resources),
                  occurredAt: row.event_occurred_at,
                },
        },
      ]),
  );
}

/**
 * Leases pending deliveries to this consumer run until `leaseUntil`; returns the ids it got. A delivery
 * another run holds (or that is no longer pending) is not returned, so no delivery is attempted twice
 * at the same time even when the sweeper re-enqueued one whose message was only slow.
 */
export async function claimDeliveries(
  db: D1Database,
  ids: readonly string[],
  now: string,
  leaseUntil: string,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const pages = await db.batch<{ id: string }>(
    chunked(ids).map((slice) =>
      db
        .prepare(
          `UPDATE deliveries SET lease_until = ?
           WHERE id IN (${placeholders(slice)}) AND status = 'pending'
             AND (lease_until IS NULL OR lease_until <= ?)
           RETURNING id`,
        )
        .bind(leaseUntil, ...slice, now),
    ),
  );
  return new Set(pages.flatMap((page) => page.results.map((r) => r.id)));
}

/** Gives a lease back early (the run could not finish), so the next message for it can proceed. */
export function releaseDelivery(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("UPDATE deliveries SET lease_until = NULL WHERE id = ? AND status = 'pending'").bind(id);
}

/** Pending deliveries due before `before` that no run holds: their queue message was lost. */
export async function listOverdueDeliveries(
  db: D1Database,
  before: string,
  limit: number,
): Promise<{ id: DeliveryId; endpointId: EndpointId }[]> {
  const { results } = await db
    .prepare(
      `SELECT id, endpoint_id FROM deliveries
       WHERE status = 'pending' AND next_attempt_at < ?1 AND (lease_until IS NULL OR lease_until < ?1)
       ORDER BY next_attempt_at LIMIT ?2`,
    )
    .bind(before, limit)
    .all<{ id: string; endpoint_id: string }>();
  return results.map((r) => ({ id: r.id as DeliveryId, endpointId: r.endpoint_id as EndpointId }));
}

/** The endpoint's failed deliveries created in [since, until), oldest first, for bulk recovery. */
export async function listFailedDeliveries(
  db: D1Database,
  organizationId: string,
  endpointId: string,
  window: { since: string; until: string; limit: number },
): Promise<Delivery[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM deliveries
       WHERE organization_id = ? AND endpoint_id = ? AND status = 'failed' AND created_at >= ? AND created_at < ?
       ORDER BY id LIMIT ?`,
    )
    .bind(organizationId, endpointId, window.since, window.until, window.limit)
    .all<DeliveryRow>();
  return results.map(toDelivery);
}

/** Records a consumer run's outcome; only a still-pending delivery moves, so a late duplicate cannot undo it. */
export function updateDeliveryProgress(
  db: D1Database,
  id: DeliveryId,
  p: DeliveryProgress,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE deliveries SET status = ?, attempt_count = ?, queue_retries = ?, next_attempt_at = ?,
         last_status_code = ?, last_error = ?, delivered_at = ?, lease_until = NULL
       WHERE id = ? AND status = 'pending'`,
    )
    .bind(
      p.status,
      p.attemptCount,
      p.queueRetries,
      p.nextAttemptAt,
      p.lastStatusCode,
      p.lastError,
      p.deliveredAt,
      id,
    );
}

/** Ends a still-pending delivery without (another) attempt: endpoint gone or disabled, or dead-lettered. */
export function failPendingDelivery(db: D1Database, id: string, reason: string): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_until = NULL, last_error = ? WHERE id = ? AND status = 'pending'",
    )
    .bind(reason, id);
}

/** Retention: up to `limit` deliveries made before `beforeId`; returns how many went. */
export async function deleteDeliveriesBefore(
  db: D1Database,
  beforeId: string,
  limit: number,
): Promise<number> {
  const { meta } = await db
    .prepare("DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE id < ? LIMIT ?)")
    .bind(beforeId, limit)
    .run();
  return meta.changes;
}
