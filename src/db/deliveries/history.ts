import type { Attempt, Delivery, DeliveryStatus } from "../../domain/delivery";
import {
  type DeliveryId,
  deliveryIdRange,
  type EventId,
  ID_PREFIX,
  idAt,
  type OrganizationId,
  timeOfId,
} from "../../lib/ids";
import { type History, orEmpty, tableOfId } from "../buckets";
import { IN_ID_LIST, idList, type Page, type PageQuery, scanBuckets } from "../page";
import { decodeAttempts } from "./attempts";
import { type DeliveryRow, LIST_COLUMNS, toDelivery } from "./rows";

/** Delivery history as the API reads it. */
export type DeliveryFilters = {
  endpointId?: string;
  eventId?: string;
  eventType?: string;
  status?: DeliveryStatus;
  since?: string;
  until?: string;
  /** Only deliveries of these event types (those an API key's scopes cover); all when undefined. */
  types?: readonly string[];
};

export async function getDelivery(
  h: History,
  organizationId: OrganizationId,
  id: DeliveryId,
): Promise<(Delivery & { attempts: Attempt[] }) | null> {
  const row = await orEmpty(
    h.db
      .prepare(`SELECT * FROM ${tableOfId(h, "deliveries", id)} WHERE organization_id = ? AND id = ?`)
      .bind(organizationId, id)
      .first<DeliveryRow>(),
    null,
  );
  return row ? { ...toDelivery(row), attempts: decodeAttempts(row.attempts) } : null;
}

/**
 * A page of the organization's deliveries, newest event first. The event filter and `until` narrow
 * the primary-key range (a delivery's id carries its event's time, never after its own created_at);
 * the other filters are read from at most MAX_SCANNED_ROWS rows a page (page.ts: scanPage).
 */
export async function listDeliveries(
  h: History,
  organizationId: OrganizationId,
  query: PageQuery & DeliveryFilters,
): Promise<Page<Delivery>> {
  // An event's deliveries share an id range (lib/ids.ts): the filter becomes a primary-key range, and
  // its week the only one read.
  const event = query.eventId?.startsWith("evt_") ? deliveryIdRange(query.eventId as EventId) : undefined;
  const eventTime = event && timeOfId(event.from);
  const until = query.until === undefined ? Number.POSITIVE_INFINITY : Date.parse(query.until);
  const page = await scanBuckets<DeliveryRow>(h, {
    kind: "deliveries",
    cursor: query.cursor,
    // A delivery's id names its event's time, at or before its own created_at: `since` bounds nothing.
    within: { from: eventTime, to: eventTime === undefined ? until : Math.min(until, eventTime + 1) },
    columns: LIST_COLUMNS,
    range: [
      ["organization_id = ?", organizationId],
      ["id < ?", query.cursor],
      ["id >= ?", event?.from],
      ["id < ?", event?.to],
      ["id < ?", query.until && idAt(ID_PREFIX.delivery, Date.parse(query.until))],
    ],
    filters: [
      ["endpoint_id = ?", query.endpointId],
      ["event_id = ?", query.eventId],
      ["event_type = ?", query.eventType],
      [`event_type ${IN_ID_LIST}`, query.types && idList(query.types)],
      ["status = ?", query.status],
      ["created_at >= ?", query.since],
      ["created_at < ?", query.until],
    ],
    limit: query.limit,
  });
  return { data: page.data.map(toDelivery), nextCursor: page.nextCursor };
}
