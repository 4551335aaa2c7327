import type { EndpointId, OrganizationId } from "../lib/ids";
import type { PayloadFilter } from "./payload-filter";

/**
 * What an endpoint is, for every module that handles one (the API, fan-out, the delivery run,
 * health, storage). Types and the value lists of its enums only; it imports none of those modules.
 */

export const ENDPOINT_STATUSES = ["active", "disabled", "auto_disabled"] as const;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];
export const SIGNATURE_SCHEMES = ["standard", "convoy"] as const;
export type SignatureScheme = (typeof SIGNATURE_SCHEMES)[number];
/** How new signing keys sign, for the `standard` scheme: HMAC (`v1`) or Ed25519 (`v1a`). */
export const SIGNATURE_ALGORITHMS = ["hmac-sha256", "ed25519"] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];
export const PAYLOAD_FORMATS = ["full", "slim"] as const;
/**
 * Whether an endpoint's deliveries keep the order their events were accepted in (src/ordering/):
 * `none`, in parallel; `endpoint`, one ordered lane for the endpoint; `key`, a lane per event's
 * ordering key (its `orderingKey`, else its first resource id, else the endpoint's one lane).
 */
export const ORDERINGS = ["none", "endpoint", "key"] as const;
export type Ordering = (typeof ORDERINGS)[number];
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];
/** `{ vaultIds: [...], matterIds: [...] }`: one list per catalog resource, absent means "any". */
export type ResourceScopes = Record<string, string[]>;
/**
 * Why the health object disabled an endpoint: its failures lasted too long (`failing`), or its receiver
 * answered 410 Gone (`gone`, the Standard Webhooks signal for "send no more").
 */
export type DisabledReason = { at: string; failures: number; lastError: string | null; cause: DisableCause };
export type DisableCause = "failing" | "gone";
/**
 * Where an endpoint's custom header values are (docs/security.md): none; one JSON object sealed like
 * signing secrets (delivery/endpoint-credentials.ts); or, on a row stored before migration 0002 that
 * re-encryption has not reached yet, in clear. Nothing writes the clear state any more.
 */
export type HeaderValues =
  | { state: "none" }
  | { state: "sealed"; ciphertext: string }
  | { state: "clear"; values: Record<string, string> };

/** An endpoint's settings as stored. Its signing secrets live apart (db/endpoint-secrets.ts). */
export type Endpoint = {
  id: EndpointId;
  organizationId: OrganizationId;
  url: string;
  description: string;
  eventTypeFilters: string[];
  /** The API-key scopes the filters were set under: `*` means every type these scopes allow. */
  allowedScopes: string[];
  resourceScopes: ResourceScopes;
  /** A condition on the event's data (catalog/payload-filter.ts); null, every event the filters select. */
  payloadFilter: PayloadFilter | null;
  status: EndpointStatus;
  disabledReason: DisabledReason | null;
  signatureScheme: SignatureScheme;
  /** What its current key is; a rotation may change it (api/endpoint-actions.ts), never an update. */
  signatureAlgorithm: SignatureAlgorithm;
  /** The public key (`whpk_…`) of its current Ed25519 key, null with HMAC: public, shown on every read. */
  verificationKey: string | null;
  payloadFormat: PayloadFormat;
  /** Custom header names, each with its value masked: all the API ever shows of them. */
  maskedHeaders: Record<string, string>;
  headerValues: HeaderValues;
  rateLimitPerSecond: number | null;
  timeoutMs: number | null;
  /** Seconds before each queue retry, overriding RETRY_SCHEDULE_SECONDS; null follows the service's. */
  retrySchedule: number[] | null;
  ordering: Ordering;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
};

/** What fan-out matches an event against: an active endpoint's subscription, and nothing else of it. */
export type Subscription = Pick<
  Endpoint,
  "id" | "eventTypeFilters" | "allowedScopes" | "resourceScopes" | "payloadFilter"
>;

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
  | "retrySchedule"
  | "ordering"
> & {
  /** Delivered through the slow lane until then (delivery/lanes.ts); null when not slow. */
  slowUntil: string | null;
};

/** An endpoint as a create or an update writes it: header values are never written in clear. */
export type EndpointToWrite = Omit<Endpoint, "headerValues"> & {
  headerValues: Exclude<HeaderValues, { state: "clear" }>;
};
