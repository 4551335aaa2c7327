import type { Delivery } from "../../domain/delivery";
import {
  DELIVERY_RANGE_PREFIX_LENGTH,
  type DeliveryId,
  type EndpointId,
  type EventId,
  type OrganizationId,
  RANGE_END,
} from "../../lib/ids";
import { bucketsBetween, type History, orEmpty, overdue, tableOf, tableOfId } from "../buckets";
import { type DeliveryRow, LIST_COLUMNS, toDelivery } from "./rows";

/** What the sweeper, retention, replay and recover read and write of deliveries. */

/**
 * A replay: a pending row, which the sweeper re-sends if its queue message never comes. In its event's
 * week, whose tables must exist (ensureBuckets).
 */
export function insertReplay(
  h: History,
  d: Delivery,
  /** `sweepAfter` null: an ordered lane sends it (src/ordering/), never the sweeper. */
  options: { payloadOverride?: unknown; sweepAfter: string | null },
): D1PreparedStatement {
  return h.db
    .prepare(
      `INSERT INTO ${tableOfId(h, "deliveries", d.id)} (organization_id, id, event_id, endpoint_id, event_type, status, next_attempt_at,
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
  h: History,
  now: string,
  limit: number,
): Promise<DeliveryToSweep[]> {
  const results = await overdue<{
    organization_id: string;
    id: string;
    endpoint_id: string;
    event_id: string;
  }>(h, "deliveries", "organization_id, id, endpoint_id, event_id", now, limit);
  return results.map((r) => ({
    organizationId: r.organization_id as OrganizationId,
    id: r.id as DeliveryId,
    endpointId: r.endpoint_id as EndpointId,
    eventId: r.event_id as EventId,
  }));
}

/** The sweeper re-sent it: look again only if this message is lost too. */
export function postponeDeliverySweep(
  h: History,
  d: DeliveryToSweep,
  sweepAfter: string,
): D1PreparedStatement {
  return h.db
    .prepare(
      `UPDATE ${tableOfId(h, "deliveries", d.id)} SET sweep_after = ?
       WHERE organization_id = ? AND id = ? AND status = 'pending'`,
    )
    .bind(sweepAfter, d.organizationId, d.id);
}

/** A failed original delivery that recover scanned: `recoverable` when no replay of it is pending or delivered. */
export type ScannedFailure = Delivery & { recoverable: boolean };

/**
 * How long after its event a delivery can first be recorded: fan-out, re-sent by the sweeper, gives up
 * after about 17 hours (sweeper/sweep.ts). Recover's window is on created_at; a delivery's week is its
 * event's, so the weeks read start this much before the window.
 */
const LATEST_FIRST_RECORD_MS = 2 * 86_400_000;

/**
 * Recover's scan: up to `limit` of the endpoint's failed original deliveries (never a replay) created
 * in [since, until), oldest first, after the delivery `after` when given, each marked recoverable unless
 * a replay of it is pending or delivered. The partial index of failed originals holds just these rows
 * (migrations/control/0003_list_indexes.sql, and each week's: db/buckets.ts); a replay is looked for in
 * its original's id range (deliveryIdRange, lib/ids.ts: a replay's id starts with its event's time
 * too, so it is in the same week), with no index of its own. Each week that can hold the window is
 * read, and the oldest `limit` of all kept.
 */
export async function listRecoverableDeliveries(
  h: History,
  organizationId: OrganizationId,
  endpointId: EndpointId,
  window: { since: string; until: string; after?: string; limit: number },
): Promise<ScannedFailure[]> {
  const after = window.after
    ? await orEmpty(
        h.db
          .prepare(
            `SELECT created_at FROM ${tableOfId(h, "deliveries", window.after)} WHERE organization_id = ? AND id = ?`,
          )
          .bind(organizationId, window.after)
          .first<string>("created_at"),
        null,
      )
    : null;
  const buckets = await bucketsBetween(
    h,
    Date.parse(window.since) - LATEST_FIRST_RECORD_MS,
    Date.parse(window.until),
  );
  const pages = await Promise.all(
    buckets.map((bucket) =>
      orEmpty(
        h.db
          .prepare(
            `SELECT ${LIST_COLUMNS}, NOT EXISTS (
                 SELECT 1 FROM ${tableOf("deliveries", bucket)} r
                 WHERE r.organization_id = d.organization_id
                   AND r.id >= substr(d.id, 1, ?7) AND r.id < substr(d.id, 1, ?7) || '${RANGE_END}'
                   AND r.replay_of = d.id AND r.status IN ('pending', 'delivered')
               ) AS recoverable
             FROM ${tableOf("deliveries", bucket)} d
             WHERE d.organization_id = ?1 AND d.endpoint_id = ?2 AND d.status = 'failed' AND d.replay_of IS NULL
               AND d.created_at >= ?3 AND d.created_at < ?4 AND (d.created_at, d.id) > (?5, ?6)
             ORDER BY d.created_at, d.id LIMIT ?8`,
          )
          .bind(
            organizationId,
            endpointId,
            window.since,
            window.until,
            after ?? "",
            window.after ?? "",
            DELIVERY_RANGE_PREFIX_LENGTH,
            window.limit,
          )
          .all<DeliveryRow & { recoverable: number }>()
          .then(({ results }) => results),
        [],
      ),
    ),
  );
  return pages
    .flat()
    .sort((a, b) =>
      a.created_at === b.created_at ? (a.id < b.id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1,
    )
    .slice(0, window.limit)
    .map((row) => ({ ...toDelivery(row), recoverable: row.recoverable === 1 }));
}
