import type {
  DeliveryEndpoint,
  Endpoint,
  EndpointStatus,
  EndpointToWrite,
  HeaderValues,
  Ordering,
  PayloadFormat,
  SignatureAlgorithm,
  SignatureScheme,
  Subscription,
} from "../../domain/endpoint";
import type { EndpointId, OrganizationId } from "../../lib/ids";

/** The endpoints table's rows, their mappings to the domain's shapes, and the columns writes set. */

export type EndpointRow = {
  id: string;
  organization_id: string;
  url: string;
  description: string;
  event_type_filters: string;
  allowed_scopes: string;
  resource_scopes: string;
  payload_filter: string | null;
  status: EndpointStatus;
  disabled_reason: string | null;
  signature_scheme: SignatureScheme;
  signature_algorithm: SignatureAlgorithm;
  verification_key: string | null;
  payload_format: PayloadFormat;
  headers: string;
  header_values: string | null;
  legacy_header_values: string | null;
  rate_limit_per_second: number | null;
  timeout_ms: number | null;
  retry_schedule: string | null;
  ordering: Ordering;
  slow_until: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
};

export const DELIVERY_COLUMNS = `id, organization_id, url, status, deleted_at, signature_scheme, payload_format,
  header_values, legacy_header_values, rate_limit_per_second, timeout_ms, retry_schedule, ordering, slow_until`;

export type DeliveryEndpointRow = Pick<
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
  | "retry_schedule"
  | "ordering"
  | "slow_until"
>;

export const toDeliveryEndpoint = (row: DeliveryEndpointRow): DeliveryEndpoint => ({
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
  retrySchedule: row.retry_schedule === null ? null : JSON.parse(row.retry_schedule),
  ordering: row.ordering,
  slowUntil: row.slow_until,
});

/** The columns fan-out reads of every active endpoint to match events. */
export const SUBSCRIPTION_COLUMNS = "id, event_type_filters, allowed_scopes, resource_scopes, payload_filter";

export type SubscriptionRow = Pick<
  EndpointRow,
  "id" | "event_type_filters" | "allowed_scopes" | "resource_scopes" | "payload_filter"
>;

export const toSubscription = (row: SubscriptionRow): Subscription => ({
  id: row.id as EndpointId,
  eventTypeFilters: JSON.parse(row.event_type_filters),
  allowedScopes: JSON.parse(row.allowed_scopes),
  resourceScopes: JSON.parse(row.resource_scopes),
  payloadFilter: row.payload_filter === null ? null : JSON.parse(row.payload_filter),
});

export const toEndpoint = (row: EndpointRow): Endpoint => ({
  ...toDeliveryEndpoint(row),
  ...toSubscription(row),
  description: row.description,
  signatureAlgorithm: row.signature_algorithm,
  verificationKey: row.verification_key,
  // Reasons stored before 410 Gone disabled endpoints carry no cause: they were all failing streaks.
  disabledReason: row.disabled_reason ? { cause: "failing", ...JSON.parse(row.disabled_reason) } : null,
  maskedHeaders: JSON.parse(row.headers),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Values left in clear before migration 0002 are the row's state until they are sealed. */
export function headerValuesOf(
  row: Pick<EndpointRow, "header_values" | "legacy_header_values">,
): HeaderValues {
  if (row.legacy_header_values !== null)
    return { state: "clear", values: JSON.parse(row.legacy_header_values) };
  if (row.header_values !== null) return { state: "sealed", ciphertext: row.header_values };
  return { state: "none" };
}

export const sealedColumn = (values: EndpointToWrite["headerValues"]) =>
  values.state === "sealed" ? values.ciphertext : null;

/** The columns a create or an update writes, in one order, so both statements stay in step. */
export const settingsValues = (e: EndpointToWrite) => [
  e.url,
  e.description,
  JSON.stringify(e.eventTypeFilters),
  JSON.stringify(e.allowedScopes),
  JSON.stringify(e.resourceScopes),
  e.payloadFilter === null ? null : JSON.stringify(e.payloadFilter),
  e.status,
  e.disabledReason ? JSON.stringify(e.disabledReason) : null,
  e.signatureScheme,
  e.payloadFormat,
  JSON.stringify(e.maskedHeaders),
  sealedColumn(e.headerValues),
  e.rateLimitPerSecond,
  e.timeoutMs,
  e.retrySchedule === null ? null : JSON.stringify(e.retrySchedule),
  e.ordering,
  e.updatedAt,
];
