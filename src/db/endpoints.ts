import type { EndpointId, OrganizationId } from "../lib/ids";
import { IN_ID_LIST, idList, type Page, type PageQuery, toPage, where } from "./page";

export type EndpointStatus = "active" | "disabled" | "auto_disabled";
export type SignatureScheme = "standard" | "convoy";
export type PayloadFormat = "full" | "slim";
/** `{ vaultIds: [...], matterIds: [...] }`: one list per catalog resource, absent means "any". */
export type ResourceScopes = Record<string, string[]>;
export type DisabledReason = { at: string; failures: number; lastError: string | null };
/**
 * Where an endpoint's custom header values are (docs/security.md): none; one JSON object sealed like
 * signing secrets (delivery/endpoint-credentials.ts); or, on a row stored before migration 0002 that
 * re-encryption has not reached yet, in clear. Nothing writes the clear state any more.
 */
export type HeaderValues =
  | { state: "none" }
  | { state: "sealed"; ciphertext: string }
  | { state: "clear"; values: Record<string, string> };

/** An endpoint's settings as stored. Its signing secrets live in endpoint-secrets.ts. */
export type Endpoint = {
  id: EndpointId;
  organizationId: OrganizationId;
  url: string;
  description: string;
  eventTypeFilters: string[];
  /** The API-key scopes the filters were set under: `*` means every type these scopes allow. */
  allowedScopes: string[];
  resourceScopes: ResourceScopes;
  status: EndpointStatus;
  disabledReason: DisabledReason | null;
  signatureScheme: SignatureScheme;
  payloadFormat: PayloadFormat;
  /** Custom header names, each with its value masked: all the API ever shows of them. */
  maskedHeaders: Record<string, string>;
  headerValues: HeaderValues;
  rateLimitPerSecond: number | null;
  timeoutMs: number | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
};

/** What fan-out matches an event against: an active endpoint's subscription, and nothing else of it. */
export type Subscription = Pick<Endpoint, "id" | "eventTypeFilters" | "allowedScopes" | "resourceScopes">;

/** What the delivery run needs of an endpoint: where and how to send, whether it still may, and as whom. */
export type DeliveryEndpoint = Pick<
  Endpoint,
  | "id"
  | "organizationId"
  | "url"
  | "status"
  | "deletedAt"
  | "signatureScheme"
  | "payloadFormat"
  | "headerValues"
  | "rateLimitPerSecond"
  | "timeoutMs"
>;

/** An endpoint as a create or an update writes it: header values are never written in clear. */
export type EndpointToWrite = Omit<Endpoint, "headerValues"> & {
  headerValues: Exclude<HeaderValues, { state: "clear" }>;
};

type EndpointRow = {
  id: string;
  organization_id: string;
  url: string;
  description: string;
  event_type_filters: string;
  allowed_scopes: string;
  resource_scopes: string;
  status: EndpointStatus;
  disabled_reason: string | null;
  signature_scheme: SignatureScheme;
  payload_format: PayloadFormat;
  headers: string;
  header_values: string | null;
  legacy_header_values: string | null;
  rate_limit_per_second: number | null;
  timeout_ms: number | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
};

const DELIVERY_COLUMNS = `id, organization_id, url, status, deleted_at, signature_scheme, payload_format,
  header_values, legacy_header_values, rate_limit_per_second, timeout_ms`;

type DeliveryEndpointRow = Pick<
  EndpointRow,
  | "id"
  | "organization_id"
  | "url"
  | "status"
  | "deleted_at"
  | "signature_scheme"
  | "payload_format"
  | "header_values"
  | "legacy_header_values"
  | "rate_limit_per_second"
  | "timeout_ms"
>;

const toDeliveryEndpoint = (row: DeliveryEndpointRow): DeliveryEndpoint => ({
  id: row.id as EndpointId,
  organizationId: row.organization_id as OrganizationId,
  url: row.url,
  status: row.status,
  deletedAt: row.deleted_at,
  signatureScheme: row.signature_scheme,
  payloadFormat: row.payload_format,
  headerValues: headerValuesOf(row),
  rateLimitPerSecond: row.rate_limit_per_second,
  timeoutMs: row.timeout_ms,
});

const toSubscription = (
  row: Pick<EndpointRow, "id" | "event_type_filters" | "allowed_scopes" | "resource_scopes">,
): Subscription => ({
  id: row.id as EndpointId,
  eventTypeFilters: JSON.parse(row.event_type_filters),
  allowedScopes: JSON.parse(row.allowed_scopes),
  resourceScopes: JSON.parse(row.resource_scopes),
});

const toEndpoint = (row: EndpointRow): Endpoint => ({
  ...toDeliveryEndpoint(row),
  ...toSubscription(row),
  description: row.description,
  disabledReason: row.disabled_reason ? JSON.parse(row.disabled_reason) : null,
  maskedHeaders: JSON.parse(row.headers),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Values left in clear before migration 0002 are the row's state until they are sealed. */
function headerValuesOf(row: Pick<EndpointRow, "header_values" | "legacy_header_values">): HeaderValues {
  if (row.legacy_header_values !== null)
    return { state: "clear", values: JSON.parse(row.legacy_header_values) };
  if (row.header_values !== null) return { state: "sealed", ciphertext: row.header_values };
  return { state: "none" };
}

const sealedColumn = (values: EndpointToWrite["headerValues"]) =>
  values.state === "sealed" ? values.ciphertext : null;

/** The columns a create or an update writes, in one order, so both statements stay in step. */
const settingsValues = (e: EndpointToWrite) => [
  e.url,
  e.description,
  JSON.stringify(e.eventTypeFilters),
  JSON.stringify(e.allowedScopes),
  JSON.stringify(e.resourceScopes),
  e.status,
  e.disabledReason ? JSON.stringify(e.disabledReason) : null,
  e.signatureScheme,
  e.payloadFormat,
  JSON.stringify(e.maskedHeaders),
  sealedColumn(e.headerValues),
  e.rateLimitPerSecond,
  e.timeoutMs,
  e.updatedAt,
];

/** Live endpoints an organization may have, in all and with one URL (MAX_ENDPOINTS_PER_*). */
export type EndpointCaps = { perOrganization: number; perUrl: number };

// Live endpoints of organization `?` with URL `?`, and the per-URL cap `?`.
const UNDER_URL_CAP = `(SELECT COUNT(*) FROM endpoints WHERE organization_id = ? AND url = ? AND deleted_at IS NULL) < ?`;

/**
 * A statement, so the endpoint and its first secret are written in one D1 batch. It writes nothing
 * (`meta.changes` 0) when the organization is at either cap: the counts are taken in the insert itself,
 * so concurrent creates cannot pass a cap together.
 */
export function insertEndpoint(db: D1Database, e: EndpointToWrite, caps: EndpointCaps): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO endpoints (url, description, event_type_filters, allowed_scopes, resource_scopes, status,
         disabled_reason, signature_scheme, payload_format, headers, header_values, rate_limit_per_second,
         timeout_ms, updated_at, id, organization_id, created_at)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
       WHERE (SELECT COUNT(*) FROM endpoints WHERE organization_id = ? AND deleted_at IS NULL) < ?
         AND ${UNDER_URL_CAP}`,
    )
    .bind(
      ...settingsValues(e),
      e.id,
      e.organizationId,
      e.createdAt,
      e.organizationId,
      caps.perOrganization,
      e.organizationId,
      e.url,
      caps.perUrl,
    );
}

/** How many live endpoints the organization has, in all and with `url`: which cap refused a write. */
export async function countLiveEndpoints(
  db: D1Database,
  organizationId: string,
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

/**
 * Writes every setting of a live endpoint of the organization (header values sealed, so any left in
 * clear from before migration 0002 go); false when there is none, or when it would move to a URL that
 * has `maxPerUrl` live endpoints already (counted in the update itself).
 */
export async function updateEndpoint(
  db: D1Database,
  e: EndpointToWrite,
  maxPerUrl: number,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE endpoints SET url = ?, description = ?, event_type_filters = ?, allowed_scopes = ?, resource_scopes = ?,
         status = ?, disabled_reason = ?, signature_scheme = ?, payload_format = ?, headers = ?, header_values = ?,
         rate_limit_per_second = ?, timeout_ms = ?, updated_at = ?, legacy_header_values = NULL
       WHERE id = ? AND organization_id = ? AND deleted_at IS NULL AND (url = ? OR ${UNDER_URL_CAP})`,
    )
    .bind(...settingsValues(e), e.id, e.organizationId, e.url, e.organizationId, e.url, maxPerUrl)
    .run();
  return meta.changes > 0;
}

/** A live (not deleted) endpoint of the organization; another organization's id reads as missing. */
export async function getEndpoint(
  db: D1Database,
  organizationId: string,
  id: string,
): Promise<Endpoint | null> {
  const row = await db
    .prepare("SELECT * FROM endpoints WHERE id = ? AND organization_id = ? AND deleted_at IS NULL")
    .bind(id, organizationId)
    .first<EndpointRow>();
  return row ? toEndpoint(row) : null;
}

export async function listEndpoints(
  db: D1Database,
  organizationId: string,
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
  organizationId: string,
  after: string,
  limit: number,
): Promise<Subscription[]> {
  const { results } = await db
    .prepare(
      `SELECT id, event_type_filters, allowed_scopes, resource_scopes FROM endpoints
       WHERE organization_id = ? AND deleted_at IS NULL AND id > ? AND status = 'active' ORDER BY id LIMIT ?`,
    )
    .bind(organizationId, after, limit)
    .all<Pick<EndpointRow, "id" | "event_type_filters" | "allowed_scopes" | "resource_scopes">>();
  return results.map(toSubscription);
}

/** What the delivery run needs of the organization's endpoints with these ids. */
export async function listDeliveryEndpoints(
  db: D1Database,
  organizationId: string,
  ids: readonly string[],
): Promise<DeliveryEndpoint[]> {
  if (ids.length === 0) return [];
  const { results } = await db
    .prepare(`SELECT ${DELIVERY_COLUMNS} FROM endpoints WHERE organization_id = ? AND id ${IN_ID_LIST}`)
    .bind(organizationId, idList(ids))
    .all<DeliveryEndpointRow>();
  return results.map(toDeliveryEndpoint);
}

/** For the delivery consumer: what it needs of the endpoint, even when deleted, so its pending deliveries can be closed. */
export async function getDeliveryEndpoint(db: D1Database, id: string): Promise<DeliveryEndpoint | null> {
  const row = await db
    .prepare(`SELECT ${DELIVERY_COLUMNS} FROM endpoints WHERE id = ?`)
    .bind(id)
    .first<DeliveryEndpointRow>();
  return row ? toDeliveryEndpoint(row) : null;
}

/** The whole endpoint, even when deleted. */
export async function getEndpointById(db: D1Database, id: string): Promise<Endpoint | null> {
  const row = await db.prepare("SELECT * FROM endpoints WHERE id = ?").bind(id).first<EndpointRow>();
  return row ? toEndpoint(row) : null;
}

/**
 * Soft delete: the row stays for the history, its header values go. A statement, so the endpoint's
 * signing secrets are purged in the same D1 batch (endpoint-secrets.ts).
 */
export function softDeleteEndpoint(
  db: D1Database,
  organizationId: string,
  id: string,
  at: string,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE endpoints SET deleted_at = ?, updated_at = ?, headers = '{}', header_values = NULL,
         legacy_header_values = NULL
       WHERE id = ? AND organization_id = ? AND deleted_at IS NULL`,
    )
    .bind(at, at, id, organizationId);
}

/** Auto-disables an endpoint that is still active; false when it was not (already off, or deleted). */
export async function autoDisableEndpoint(
  db: D1Database,
  id: string,
  reason: DisabledReason,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE endpoints SET status = 'auto_disabled', disabled_reason = ?, updated_at = ?
       WHERE id = ? AND status = 'active' AND deleted_at IS NULL`,
    )
    .bind(JSON.stringify(reason), new Date().toISOString(), id)
    .run();
  return meta.changes > 0;
}

/**
 * An endpoint's header values as re-encryption found them: `stored` is the column's text, so the
 * update can tell whether anything changed them since.
 */
export type HeaderValuesToReseal = {
  id: EndpointId;
  headerValues: Exclude<HeaderValues, { state: "none" }>;
  stored: string;
};

/**
 * Up to `limit` endpoints whose header values the key `currentKeyId` did not seal, those in clear and
 * those under `readableKeyIds` first (no configured key opens the others). migrations/0002 indexes
 * `header_values_key_id`: '' for values in clear, NULL for none.
 */
export async function listHeaderValuesToReseal(
  db: D1Database,
  keys: { currentKeyId: string; readableKeyIds: readonly string[] },
  limit: number,
): Promise<HeaderValuesToReseal[]> {
  const { results } = await db
    .prepare(
      `SELECT id, header_values, legacy_header_values FROM endpoints
       WHERE header_values_key_id < ?1 OR header_values_key_id > ?1
       ORDER BY header_values_key_id = '' OR header_values_key_id IN (SELECT value FROM json_each(?2)) DESC
       LIMIT ?3`,
    )
    .bind(keys.currentKeyId, JSON.stringify(keys.readableKeyIds), limit)
    .all<Pick<EndpointRow, "id" | "header_values" | "legacy_header_values">>();
  return results.flatMap((row) => {
    const headerValues = headerValuesOf(row);
    const stored = row.legacy_header_values ?? row.header_values;
    return headerValues.state === "none" || stored === null
      ? []
      : [{ id: row.id as EndpointId, headerValues, stored }];
  });
}

/** How many endpoints have header values the key `currentKeyId` did not seal (each range by index). */
export async function countHeaderValuesToReseal(db: D1Database, currentKeyId: string): Promise<number> {
  const n = await db
    .prepare(
      `SELECT (SELECT COUNT(*) FROM endpoints WHERE header_values_key_id < ?1)
         + (SELECT COUNT(*) FROM endpoints WHERE header_values_key_id > ?1) AS n`,
    )
    .bind(currentKeyId)
    .first<number>("n");
  return n ?? 0;
}

/** Puts resealed header values (and their masks) in place of those found; a row changed since is left alone. */
export function resealHeaderValues(
  db: D1Database,
  found: HeaderValuesToReseal,
  sealed: Pick<EndpointToWrite, "maskedHeaders" | "headerValues">,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE endpoints SET header_values = ?, headers = ?, legacy_header_values = NULL
       WHERE id = ? AND COALESCE(legacy_header_values, header_values) = ?`,
    )
    .bind(sealedColumn(sealed.headerValues), JSON.stringify(sealed.maskedHeaders), found.id, found.stored);
}
