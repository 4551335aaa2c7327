import type { DeliveryEndpoint, Endpoint, EndpointStatus, Subscription } from "../../domain/endpoint";
import type { EndpointId, OrganizationId } from "../../lib/ids";
import { IN_ID_LIST, idList, type Page, type PageQuery, toPage, where } from "../page";
import {
  DELIVERY_COLUMNS,
  type DeliveryEndpointRow,
  type EndpointRow,
  SUBSCRIPTION_COLUMNS,
  type SubscriptionRow,
  toDeliveryEndpoint,
  toEndpoint,
  toSubscription,
} from "./rows";

/** What reads endpoints: the API, fan-out (subscriptions a page at a time), the delivery run. */

/** How many live endpoints the organization has, in all and with `url`: which cap refused a write. */
export async function countLiveEndpoints(
  db: D1Database,
  organizationId: OrganizationId,
  url: string,
): Promise<{ inOrganization: number; withUrl: number }> {
  const row = await db
    .prepare(
      `SELECT COUNT(*) AS in_organization, COUNT(CASE WHEN url = ?2 THEN 1 END) AS with_url
       FROM endpoints WHERE organization_id = ?1 AND deleted_at IS NULL`,
    )
    .bind(organizationId, url)
    .first<{ in_organization: number; with_url: number }>();
  return { inOrganization: row?.in_organization ?? 0, withUrl: row?.with_url ?? 0 };
}

/** A live (not deleted) endpoint of the organization; another organization's id reads as missing. */
export async function getEndpoint(
  db: D1Database,
  organizationId: OrganizationId,
  id: EndpointId,
): Promise<Endpoint | null> {
  const row = await db
    .prepare("SELECT * FROM endpoints WHERE id = ? AND organization_id = ? AND deleted_at IS NULL")
    .bind(id, organizationId)
    .first<EndpointRow>();
  return row ? toEndpoint(row) : null;
}

export async function listEndpoints(
  db: D1Database,
  organizationId: OrganizationId,
  query: PageQuery & { status?: EndpointStatus },
): Promise<Page<Endpoint>> {
  const filter = where([
    ["organization_id = ?", organizationId],
    ["id < ?", query.cursor],
    ["status = ?", query.status],
  ]);
  const { results } = await db
    .prepare(`SELECT * FROM endpoints WHERE ${filter.sql} AND deleted_at IS NULL ORDER BY id DESC LIMIT ?`)
    .bind(...filter.params, query.limit + 1)
    .all<EndpointRow>();
  return toPage(results.map(toEndpoint), query.limit);
}

/**
 * Up to `limit` subscriptions of the organization's active endpoints, in id order after `after`.
 * Fan-out reads them a page at a time, and only the columns matching needs: the others (headers,
 * description, …) are read for the endpoints an event matched (listDeliveryEndpoints).
 */
export async function listSubscriptions(
  db: D1Database,
  organizationId: OrganizationId,
  after: string,
  limit: number,
): Promise<Subscription[]> {
  const { results } = await db
    .prepare(
      `SELECT ${SUBSCRIPTION_COLUMNS} FROM endpoints
       WHERE organization_id = ? AND deleted_at IS NULL AND id > ? AND status = 'active' ORDER BY id LIMIT ?`,
    )
    .bind(organizationId, after, limit)
    .all<SubscriptionRow>();
  return results.map(toSubscription);
}

/** Whether the organization has an active endpoint at all (the operator's: events/operator.ts). */
export async function hasActiveEndpoint(db: D1Database, organizationId: OrganizationId): Promise<boolean> {
  const row = await db
    .prepare(
      "SELECT 1 FROM endpoints WHERE organization_id = ? AND status = 'active' AND deleted_at IS NULL LIMIT 1",
    )
    .bind(organizationId)
    .first();
  return row !== null;
}

/**
 * Whether the organization has a live endpoint with an ordering (ordering/organizations.ts), whatever
 * its status: the isolates' remembered answers would otherwise leave events unnumbered for a while
 * after a disabled one is re-enabled.
 */
export async function hasOrderedEndpoint(db: D1Database, organizationId: OrganizationId): Promise<boolean> {
  const row = await db
    .prepare(
      "SELECT 1 FROM endpoints WHERE organization_id = ? AND ordering != 'none' AND deleted_at IS NULL LIMIT 1",
    )
    .bind(organizationId)
    .first();
  return row !== null;
}

/** What the delivery run needs of the organization's endpoints with these ids. */
export async function listDeliveryEndpoints(
  db: D1Database,
  organizationId: OrganizationId,
  ids: readonly EndpointId[],
): Promise<DeliveryEndpoint[]> {
  if (ids.length === 0) return [];
  const { results } = await db
    .prepare(`SELECT ${DELIVERY_COLUMNS} FROM endpoints WHERE organization_id = ? AND id ${IN_ID_LIST}`)
    .bind(organizationId, idList(ids))
    .all<DeliveryEndpointRow>();
  return results.map(toDeliveryEndpoint);
}

/** For the delivery consumer: what it needs of the endpoint, even when deleted, so its pending deliveries can be closed. */
export async function getDeliveryEndpoint(db: D1Database, id: EndpointId): Promise<DeliveryEndpoint | null> {
  const row = await db
    .prepare(`SELECT ${DELIVERY_COLUMNS} FROM endpoints WHERE id = ?`)
    .bind(id)
    .first<DeliveryEndpointRow>();
  return row ? toDeliveryEndpoint(row) : null;
}

/** The whole endpoint, even when deleted. */
export async function getEndpointById(db: D1Database, id: EndpointId): Promise<Endpoint | null> {
  const row = await db.prepare("SELECT * FROM endpoints WHERE id = ?").bind(id).first<EndpointRow>();
  return row ? toEndpoint(row) : null;
}
