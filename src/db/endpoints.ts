import type { EndpointId, OrganizationId } from "../lib/ids";
import { type Page, type PageQuery, toPage, where } from "./page";

export type EndpointStatus = "active" | "disabled" | "auto_disabled";
export type SignatureScheme = "standard" | "convoy";
export type PayloadFormat = "full" | "slim";
/** `{ vaultIds: [...], matterIds: [...] }`: one list per catalog resource, absent means "any". */
export type ResourceScopes = Record<string, string[]>;
export type DisabledReason = { at: string; failures: number; lastError: string | null };

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
  headers: Record<string, string>;
  rateLimitPerSecond: number | null;
  timeoutMs: number | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
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
  rate_limit_per_second: number | null;
  timeout_ms: number | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
};

const toEndpoint = (row: EndpointRow): Endpoint => ({
  id: row.id as EndpointId,
  organizationId: row.organization_id as OrganizationId,
  url: row.url,
  description: row.description,
  eventTypeFilters: JSON.parse(row.event_type_filters),
  allowedScopes: JSON.parse(row.allowed_scopes),
  resourceScopes: JSON.parse(row.resource_scopes),
  status: row.status,
  disabledReason: row.disabled_reason ? JSON.parse(row.disabled_reason) : null,
  signatureScheme: row.signature_scheme,
  payloadFormat: row.payload_format,
  headers: JSON.parse(row.headers),
  rateLimitPerSecond: row.rate_limit_per_second,
  timeoutMs: row.timeout_ms,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  deletedAt: row.deleted_at,
});

/** The columns a create or an update writes, in one order, so both statements stay in step. */
const settingsValues = (e: Endpoint) => [
  e.url,
  e.description,
  JSON.stringify(e.eventTypeFilters),
  JSON.stringify(e.allowedScopes),
  JSON.stringify(e.resourceScopes),
  e.status,
  e.disabledReason ? JSON.stringify(e.disabledReason) : null,
  e.signatureScheme,
  e.payloadFormat,
  JSON.stringify(e.headers),
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
export function insertEndpoint(db: D1Database, e: Endpoint, caps: EndpointCaps): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO endpoints (url, description, event_type_filters, allowed_scopes, resource_scopes, status,
         disabled_reason, signature_scheme, payload_format, headers, rate_limit_per_second, timeout_ms, updated_at,
         id, organization_id, created_at)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
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
 * Writes every setting of a live endpoint of the organization; false when there is none, or when it
 * would move to a URL that has `maxPerUrl` live endpoints already (counted in the update itself).
 */
export async function updateEndpoint(db: D1Database, e: Endpoint, maxPerUrl: number): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE endpoints SET url = ?, description = ?, event_type_filters = ?, allowed_scopes = ?, resource_scopes = ?,
         status = ?, disabled_reason = ?, signature_scheme = ?, payload_format = ?, headers = ?, rate_limit_per_second = ?,
         timeout_ms = ?, updated_at = ?
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

/** Every endpoint of the organization that may receive new events, for fan-out. */
export async function listActiveEndpoints(db: D1Database, organizationId: string): Promise<Endpoint[]> {
  const { results } = await db
    .prepare("SELECT * FROM endpoints WHERE organization_id = ? AND deleted_at IS NULL AND status = 'active'")
    .bind(organizationId)
    .all<EndpointRow>();
  return results.map(toEndpoint);
}

/** For the delivery consumer: the endpoint even when deleted, so its pending deliveries can be closed. */
export async function getEndpointById(db: D1Database, id: string): Promise<Endpoint | null> {
  const row = await db.prepare("SELECT * FROM endpoints WHERE id = ?").bind(id).first<EndpointRow>();
  return row ? toEndpoint(row) : null;
}

export async function softDeleteEndpoint(
  db: D1Database,
  organizationId: string,
  id: string,
  at: string,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      "UPDATE endpoints SET deleted_at = ?, updated_at = ? WHERE id = ? AND organization_id = ? AND deleted_at IS NULL",
    )
    .bind(at, at, id, organizationId)
    .run();
  return meta.changes > 0;
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
