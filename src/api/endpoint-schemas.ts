import { z } from "@hono/zod-openapi";
import { resourceNames, resourceScopeKey } from "../catalog";
import { EVENT_TYPE_FILTER_PATTERN, typesSelectedBy } from "../catalog/filters";
import { PAYLOAD_FILTER_LIMITS, payloadFilterErrors } from "../catalog/payload-filter";
import { type Config, QUEUE_MAX_DELAY_SECONDS } from "../config";
import { MAX_RETRY_STEPS } from "../delivery/retry-policy";
import { checkEndpointUrl } from "../delivery/url-policy";
import {
  ENDPOINT_STATUSES,
  type Endpoint,
  ORDERINGS,
  PAYLOAD_FORMATS,
  SIGNATURE_ALGORITHMS,
  SIGNATURE_SCHEMES,
} from "../domain/endpoint";
import { type FieldError, ServiceError } from "../lib/errors";
import { defaultsTo } from "./app";
import {
  HEADERS_DESCRIPTION,
  HeadersIn,
  type HeadersPatch,
  HeadersPatchIn,
  headerProblems,
} from "./endpoint-headers";

const ORDERING_DESCRIPTION =
  "How this endpoint's deliveries are ordered. `none` (default): in parallel, fastest. `endpoint`: one at a time in the order the events were accepted; the next is sent once the one before is delivered or has finally failed. `key`: the same, per ordering key (the event's `orderingKey`, else its first resource id); different keys in parallel. See docs/architecture.md#ordered-lanes";

/**
 * The API shapes of an endpoint (docs/api.md#endpoints-and-subscriptions): what a create and a PATCH
 * take, what every read shows, and the rules the schemas cannot state alone. The enums come from
 * domain/endpoint.ts, so the API and storage share one list of each.
 */
const settingFields = {
  url: z.string().max(2048).openapi({ example: "https://example.com/webhooks" }),
  eventTypeFilters: z
    .array(z.string().regex(EVENT_TYPE_FILTER_PATTERN, "must be a type, a `prefix.*` wildcard or `*`"))
    .min(1)
    .max(100)
    .openapi({ example: ["vault.ingest.*"] }),
  description: z.string().max(1000),
  resourceScopes: z
    .strictObject(
      Object.fromEntries(
        resourceNames.map((name) => [
          resourceScopeKey(name),
          z.array(z.string().min(1).max(200)).min(1).max(1000),
        ]),
      ),
    )
    .partial()
    .openapi({
      description: "Only events about the listed resources are delivered",
      example: { vaultIds: ["vault_123"] },
    }),
  payloadFilter: z
    .record(z.string(), z.unknown())
    .nullable()
    .openapi({
      description: `A condition on the event's data (docs/api.md#payload-filters): \`{"path": "$.x", <op>: …}\` with op one of eq, ne, in, gt, gte, lt, lte, exists, or \`{"and": […]}\`, \`{"or": […]}\`, \`{"not": …}\`; at most ${PAYLOAD_FILTER_LIMITS.maxDepth} levels, ${PAYLOAD_FILTER_LIMITS.maxNodes} conditions and ${PAYLOAD_FILTER_LIMITS.maxBytes} bytes`,
      example: {
        and: [
          { path: "$.status", in: ["open", "pending"] },
          { path: "$.amount", gte: 100 },
        ],
      },
    }),
  signatureScheme: z.enum(SIGNATURE_SCHEMES),
  payloadFormat: z.enum(PAYLOAD_FORMATS),
  headers: HeadersIn,
  rateLimitPerSecond: z.number().int().min(1).max(10_000).nullable(),
  timeoutMs: z.number().int().min(100).max(30_000).nullable(),
  retrySchedule: z
    .array(z.number().int().min(1).max(QUEUE_MAX_DELAY_SECONDS))
    .min(1)
    .max(MAX_RETRY_STEPS)
    .nullable()
    .openapi({ example: [10, 60, 600, 3600] }),
  ordering: z.enum(ORDERINGS).openapi({ description: ORDERING_DESCRIPTION }),
};

export const SignatureAlgorithmIn = z.enum(SIGNATURE_ALGORITHMS);

/** What an endpoint created without these settings gets. */
export const ENDPOINT_DEFAULTS = {
  description: "",
  resourceScopes: {},
  payloadFilter: null,
  signatureScheme: "standard",
  signatureAlgorithm: "hmac-sha256",
  payloadFormat: "full",
  headers: {},
  rateLimitPerSecond: null,
  timeoutMs: null,
  retrySchedule: null,
  ordering: "none",
} as const;

export const EndpointCreateIn = z
  .strictObject({
    ...settingFields,
    description: defaultsTo(settingFields.description, ENDPOINT_DEFAULTS.description),
    resourceScopes: defaultsTo(
      settingFields.resourceScopes,
      ENDPOINT_DEFAULTS.resourceScopes,
      "Only events about the listed resources are delivered; without it, events about any resource",
    ),
    payloadFilter: defaultsTo(
      settingFields.payloadFilter,
      ENDPOINT_DEFAULTS.payloadFilter,
      "Only events whose data meets the condition are delivered; without it, every event the filters select",
    ),
    signatureScheme: defaultsTo(settingFields.signatureScheme, ENDPOINT_DEFAULTS.signatureScheme),
    signatureAlgorithm: defaultsTo(
      SignatureAlgorithmIn,
      ENDPOINT_DEFAULTS.signatureAlgorithm,
      "How the endpoint's keys sign (`standard` scheme only): HMAC-SHA256 (`v1`, a secret shared with the receiver) or Ed25519 (`v1a`, verified with a public key); changed by rotate_secret",
    ),
    payloadFormat: defaultsTo(settingFields.payloadFormat, ENDPOINT_DEFAULTS.payloadFormat),
    headers: defaultsTo(settingFields.headers, ENDPOINT_DEFAULTS.headers, HEADERS_DESCRIPTION),
    rateLimitPerSecond: defaultsTo(
      settingFields.rateLimitPerSecond,
      ENDPOINT_DEFAULTS.rateLimitPerSecond,
      "Deliveries per second at most; null, no limit",
    ),
    timeoutMs: defaultsTo(
      settingFields.timeoutMs,
      ENDPOINT_DEFAULTS.timeoutMs,
      "How long a delivery waits for the receiver, at most DELIVERY_TIMEOUT_MS; null, DELIVERY_TIMEOUT_MS",
    ),
    retrySchedule: defaultsTo(
      settingFields.retrySchedule,
      ENDPOINT_DEFAULTS.retrySchedule,
      `Seconds before each retry from the queue (1 to ${QUEUE_MAX_DELAY_SECONDS} each, at most ${MAX_RETRY_STEPS} steps, ±10% jitter added); null, RETRY_SCHEDULE_SECONDS`,
    ),
    ordering: defaultsTo(settingFields.ordering, ENDPOINT_DEFAULTS.ordering, ORDERING_DESCRIPTION),
  })
  .openapi("EndpointCreate");

/**
 * What creating a key shows, as create and rotate answer: an HMAC secret, once, or an Ed25519 key's
 * public half (its private key never leaves the service).
 */
export const NewKeyOut = {
  signingSecret: z.string().optional().openapi({ description: "The HMAC secret (`whsec_…`), shown once" }),
  verificationKey: z.string().optional().openapi({
    description: "With Ed25519: the public key (`whpk_…`) receivers verify `v1a` signatures with",
  }),
};

export const EndpointPatchIn = z
  .strictObject({
    ...settingFields,
    headers: HeadersPatchIn,
    status: z
      .enum(["active", "disabled"])
      .openapi({ description: "`active` re-enables an auto-disabled endpoint" }),
  })
  .partial()
  .openapi("EndpointPatch");

/** An endpoint's status, as every read shows it. */
export const EndpointStatusOut = z.enum(ENDPOINT_STATUSES);

/** Why the health object disabled an endpoint (health/policy.ts), as every read shows it. */
export const DisabledReasonOut = z.object({
  at: z.string(),
  failures: z.number(),
  lastError: z.string().nullable(),
  cause: z.enum(["failing", "gone"]).openapi({
    description: "`failing`: a failure streak lasted too long; `gone`: the receiver answered 410 Gone",
  }),
});

export const EndpointOut = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string(),
    eventTypeFilters: z.array(z.string()),
    resourceScopes: z.record(z.string(), z.array(z.string())),
    payloadFilter: z.record(z.string(), z.unknown()).nullable(),
    status: EndpointStatusOut,
    disabledReason: DisabledReasonOut.nullable(),
    signatureScheme: z.enum(SIGNATURE_SCHEMES),
    signatureAlgorithm: SignatureAlgorithmIn,
    verificationKey: z.string().nullable().openapi({
      description: "With Ed25519: the public key (`whpk_…`) of the current key; its JWKS has every live one",
    }),
    payloadFormat: z.enum(PAYLOAD_FORMATS),
    headers: z.record(z.string(), z.string()).openapi({
      description:
        "Names with masked values: `••••••••` and, for values of 16 characters or more, their last 4",
      example: { Authorization: "••••••••abcd" },
    }),
    rateLimitPerSecond: z.number().nullable(),
    timeoutMs: z.number().nullable(),
    retrySchedule: z.array(z.number()).nullable(),
    ordering: settingFields.ordering,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Endpoint");

type EndpointOut = z.infer<typeof EndpointOut>;

/** The one mapping from a stored endpoint to the API shape: secrets and header values never pass here. */
export function toEndpointOut(e: Endpoint): EndpointOut {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypeFilters: e.eventTypeFilters,
    resourceScopes: e.resourceScopes,
    payloadFilter: e.payloadFilter,
    status: e.status,
    disabledReason: e.disabledReason,
    signatureScheme: e.signatureScheme,
    signatureAlgorithm: e.signatureAlgorithm,
    verificationKey: e.verificationKey,
    payloadFormat: e.payloadFormat,
    headers: e.maskedHeaders,
    rateLimitPerSecond: e.rateLimitPerSecond,
    timeoutMs: e.timeoutMs,
    retrySchedule: e.retrySchedule,
    ordering: e.ordering,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

/** The rules zod cannot state alone: they depend on configuration and on the API key's scopes. */
export function checkSettings(
  settings: Pick<
    Endpoint,
    "url" | "eventTypeFilters" | "maskedHeaders" | "signatureScheme" | "signatureAlgorithm"
  > & {
    payloadFilter: unknown;
  },
  headers: HeadersPatch | undefined,
  config: Config,
  keyScopes: readonly string[],
): void {
  const errors: FieldError[] = [];
  const url = checkEndpointUrl(settings.url, config);
  if (!url.ok) errors.push({ path: "url", message: url.reason });
  settings.eventTypeFilters.forEach((filter, i) => {
    if (typesSelectedBy(filter, keyScopes).length === 0) {
      errors.push({
        path: `eventTypeFilters.${i}`,
        message: `"${filter}" matches no event type this key may receive`,
      });
    }
  });
  errors.push(...headerProblems(settings.maskedHeaders, headers, config.signatureHeaderPrefix));
  if (settings.payloadFilter !== null) errors.push(...payloadFilterErrors(settings.payloadFilter));
  errors.push(...algorithmProblems(settings));
  if (errors.length > 0) throw new ServiceError("validation", "The endpoint settings are not valid", errors);
}

/** Ed25519 is a Standard Webhooks signature (`v1a`): Convoy's header has no such entry. */
export function algorithmProblems(
  settings: Pick<Endpoint, "signatureScheme" | "signatureAlgorithm">,
  path = "signatureScheme",
): FieldError[] {
  return settings.signatureScheme === "convoy" && settings.signatureAlgorithm === "ed25519"
    ? [{ path, message: "convoy signs with HMAC only: ed25519 needs the standard scheme" }]
    : [];
}
