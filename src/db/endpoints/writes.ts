import type { DisabledReason, EndpointToWrite, SignatureAlgorithm } from "../../domain/endpoint";
import type { EndpointId, OrganizationId } from "../../lib/ids";
import { settingsValues } from "./rows";

/** What changes an endpoint: create, update, delete, auto-disable. */

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
      `INSERT INTO endpoints (url, description, event_type_filters, allowed_scopes, resource_scopes,
         payload_filter, status, disabled_reason, signature_scheme, payload_format, headers, header_values, rate_limit_per_second,
         timeout_ms, retry_schedule, ordering, updated_at, id, organization_id, created_at, signature_algorithm,
         verification_key)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
       WHERE (SELECT COUNT(*) FROM endpoints WHERE organization_id = ? AND deleted_at IS NULL) < ?
         AND ${UNDER_URL_CAP}`,
    )
    .bind(
      ...settingsValues(e),
      e.id,
      e.organizationId,
      e.createdAt,
      e.signatureAlgorithm,
      e.verificationKey,
      e.organizationId,
      caps.perOrganization,
      e.organizationId,
      e.url,
      caps.perUrl,
    );
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
         payload_filter = ?, status = ?, disabled_reason = ?, signature_scheme = ?, payload_format = ?, headers = ?, header_values = ?,
         rate_limit_per_second = ?, timeout_ms = ?, retry_schedule = ?, ordering = ?, updated_at = ?, legacy_header_values = NULL
       WHERE id = ? AND organization_id = ? AND deleted_at IS NULL AND (url = ? OR ${UNDER_URL_CAP})`,
    )
    .bind(...settingsValues(e), e.id, e.organizationId, e.url, e.organizationId, e.url, maxPerUrl)
    .run();
  return meta.changes > 0;
}

/**
 * Soft delete: the row stays for the history, its header values go. A statement, so the endpoint's
 * signing secrets are purged in the same D1 batch (endpoint-secrets.ts).
 */
export function softDeleteEndpoint(
  db: D1Database,
  organizationId: OrganizationId,
  id: EndpointId,
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

/**
 * A rotation's change of key: the algorithm new deliveries sign with and the current public key. Not
 * an update's (which writes what it read, and could put back a key a concurrent rotation replaced).
 */
export function setEndpointSigningKey(
  db: D1Database,
  id: EndpointId,
  algorithm: SignatureAlgorithm,
  verificationKey: string | null,
  at: string,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE endpoints SET signature_algorithm = ?, verification_key = ?, updated_at = ?
       WHERE id = ? AND deleted_at IS NULL`,
    )
    .bind(algorithm, verificationKey, at, id);
}

/** Puts the endpoint in the slow lane until `until`, or takes it out (null): delivery/lanes.ts. */
export function setEndpointSlowUntil(
  db: D1Database,
  id: EndpointId,
  until: string | null,
): D1PreparedStatement {
  return db.prepare("UPDATE endpoints SET slow_until = ? WHERE id = ?").bind(until, id);
}

/** Auto-disables an endpoint that is still active; false when it was not (already off, or deleted). */
export async function autoDisableEndpoint(
  db: D1Database,
  id: EndpointId,
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
