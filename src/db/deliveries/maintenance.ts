import type { Delivery } from "../../domain/delivery";
import {
  DELIVERY_RANGE_PREFIX_LENGTH,
  type DeliveryId,
  type EndpointId,
  type EventId,
  type OrganizationId,
  RANGE_END,
} from "../../lib/ids";
import type { Queryable } from "../queryable";
import { type DeliveryRow, LIST_COLUMNS, toDelivery } from "./rows";

/** What the sweeper, retention, replay and recover read and write of deliveries. */

/** A replay: a pending row, which the sweeper re-sends if its queue message never comes. */
export function insertReplay(
  db: Queryable,
  d: Delivery,
  options: { payloadOverride?: unknown; sweepAfter: string },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO deliveries (organization_id, id, event_id, endpoint_id, event_type, status, next_attempt_at,
         sweep_after, replay_of, payload_override, created_at)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)`,
    )
    .bind(
      d.organizationId,
      d.id,
      d.eventId,
      d.endpointId,
      d.eventType,
      d.nextAttemptAt,
      options.sweepAfter,
      d.replayOf,
      options.payloadOverride === undefined ? null : JSON.stringify(options.payloadOverride),
      d.createdAt,
    );
}

export type DeliveryToSweep = {
  organizationId: OrganizationId;
  id: DeliveryId;
  endpointId: EndpointId;
  eventId: EventId;
};

/** Pending deliveries whose `sweep_after` has passed: no queue message picked them up in time. */
export async function listDeliveriesToSweep(
  db: Queryable,
  now: string,
  limit: number,
): Promise<DeliveryToSweep[]> {
  const { results } = await db
    .prepare(
      `SELECT organization_id, id, endpoint_id, event_id FROM deliveries
       WHERE sweep_after IS NOT NULL AND sweep_after <= ? ORDER BY sweep_after LIMIT ?`,
    )
    .bind(now, limit)
    .all<{ organization_id: string; id: string; endpoint_id: string; event_id: string }>();
  return results.map((r) => ({
    organizationId: r.organization_id as OrganizationId,
    id: r.id as DeliveryId,
    endpointId: r.endpoint_id as EndpointId,
    eventId: r.event_id as EventId,
  }));
}

/** The sweeper re-sent it: look again only if this message is lost too. */
export function postponeDeliverySweep(
  db: Queryable,
  d: DeliveryToSweep,
  sweepAfter: string,
): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE deliveries SET sweep_after = ? WHERE organization_id = ? AND id = ? AND status = 'pending'",
    )
    .bind(sweepAfter, d.organizationId, d.id);
}

/** A failed original delivery that recover scanned: `recoverable` when no replay of it is pending or delivered. */
export type ScannedFailure = Delivery & { recoverable: boolean };

/**
 * Recover's scan: up to `limit` of the endpoint's failed original deliveries (never a replay) created
 * in [since, until), oldest first, after the delivery `after` when given, each marked recoverable unless
 * a replay of it is pending or delivered. The partial index deliveries_failed_originals holds just
 * these rows (migrations/control/0003_list_indexes.sql); a replay is looked for in its original's id range
 * (deliveryIdRange, lib/ids.ts: a replay's id starts with its event's time too), with no index of its own.
 */
export async function listRecoverableDeliveries(
  db: Queryable,
  organizationId: OrganizationId,
  endpointId: EndpointId,
  window: { since: string; until: string; after?: string; limit: number },
): Promise<ScannedFailure[]> {
  const { results } = await db
    .prepare(
      `SELECT ${LIST_COLUMNS}, NOT EXISTS (
           SELECT 1 FROM deliveries r
           WHERE r.organization_id = d.organization_id
             AND r.id >= substr(d.id, 1, ?7) AND r.id < substr(d.id, 1, ?7) || '${RANGE_END}'
             AND r.replay_of = d.id AND r.status IN ('pending', 'delivered')
         ) AS recoverable
       FROM deliveries d
       WHERE d.organization_id = ?1 AND d.endpoint_id = ?2 AND d.status = 'failed' AND d.replay_of IS NULL
         AND d.created_at >= ?3 AND d.created_at < ?4
         AND (d.created_at, d.id) > (
           COALESCE((SELECT created_at FROM deliveries WHERE organization_id = ?1 AND id = ?5), ''), ?5)
       ORDER BY d.created_at, d.id LIMIT ?6`,
    )
    .bind(
      organizationId,
      endpointId,
      window.since,
      window.until,
      window.after ?? "",
      window.limit,
      DELIVERY_RANGE_PREFIX_LENGTH,
    )
    .all<DeliveryRow & { recoverable: number }>();
  return results.map((row) => ({ ...toDelivery(row), recoverable: row.recoverable === 1 }));
}
