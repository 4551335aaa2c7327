import { createRoute, z } from "@hono/zod-openapi";
import { resourceNames, resourceScopeKey } from "../catalog";
import { EVENT_TYPE_FILTER_PATTERN, typesSelectedBy } from "../catalog/filters";
import type { Config } from "../config";
import { getConfig } from "../config";
import { insertEndpointSecret, purgeDeletedEndpointSecrets } from "../db/endpoint-secrets";
import { getEndpoint, listEndpoints } from "../db/endpoints/reads";
import { insertEndpoint, softDeleteEndpoint, updateEndpoint } from "../db/endpoints/writes";
import { sealSigningSecret } from "../delivery/endpoint-credentials";
import { checkEndpointUrl } from "../delivery/url-policy";
import type { Endpoint, EndpointToWrite } from "../domain/endpoint";
import { endpointHealth } from "../health/endpoint-health";
import { type FieldError, notFound, ServiceError } from "../lib/errors";
import { newEndpointId } from "../lib/ids";
import { generateSigningSecret } from "../signing/secrets";
import { endpointToChange } from "./access";
import {
  bodyResponses,
  capOrUnreadableResponse,
  capResponse,
  createRouter,
  defaultsTo,
  forbiddenResponse,
  IdParam,
  inputResponses,
  jsonBody,
  jsonContent,
  notFoundResponse,
  pageQuerySchema,
  pageSchema,
} from "./app";
import { apiKeyAuth } from "./auth";
import { endpointActions } from "./endpoint-actions";
import { capReached, endpointCaps, updateRefused } from "./endpoint-caps";
import {
  HEADERS_DESCRIPTION,
  HeadersIn,
  type HeadersPatch,
  HeadersPatchIn,
  headerProblems,
  mergeHeaders,
} from "./endpoint-headers";

/** Customer endpoints (docs/api.md#endpoints-and-subscriptions), scoped to the API key's organization. */
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
  signatureScheme: z.enum(["standard", "convoy"]),
  payloadFormat: z.enum(["full", "slim"]),
  headers: HeadersIn,
  rateLimitPerSecond: z.number().int().min(1).max(10_000).nullable(),
  timeoutMs: z.number().int().min(100).max(30_000).nullable(),
};

/** What an endpoint created without these settings gets. */
const ENDPOINT_DEFAULTS = {
  description: "",
  resourceScopes: {},
  signatureScheme: "standard",
  payloadFormat: "full",
  headers: {},
  rateLimitPerSecond: null,
  timeoutMs: null,
} as const;

const EndpointCreateIn = z
  .strictObject({
    ...settingFields,
    description: defaultsTo(settingFields.description, ENDPOINT_DEFAULTS.description),
    resourceScopes: defaultsTo(
      settingFields.resourceScopes,
      ENDPOINT_DEFAULTS.resourceScopes,
      "Only events about the listed resources are delivered; without it, events about any resource",
    ),
    signatureScheme: defaultsTo(settingFields.signatureScheme, ENDPOINT_DEFAULTS.signatureScheme),
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
  })
  .openapi("EndpointCreate");

const EndpointPatchIn = z
  .strictObject({
    ...settingFields,
    headers: HeadersPatchIn,
    status: z
      .enum(["active", "disabled"])
      .openapi({ description: "`active` re-enables an auto-disabled endpoint" }),
  })
  .partial()
  .openapi("EndpointPatch");

const EndpointOut = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string(),
    eventTypeFilters: z.array(z.string()),
    resourceScopes: z.record(z.string(), z.array(z.string())),
    status: z.enum(["active", "disabled", "auto_disabled"]),
    disabledReason: z
      .object({ at: z.string(), failures: z.number(), lastError: z.string().nullable() })
      .nullable(),
    signatureScheme: z.enum(["standard", "convoy"]),
    payloadFormat: z.enum(["full", "slim"]),
    headers: z.record(z.string(), z.string()).openapi({
      description:
        "Names with masked values: `••••••••` and, for values of 16 characters or more, their last 4",
      example: { Authorization: "••••••••abcd" },
    }),
    rateLimitPerSecond: z.number().nullable(),
    timeoutMs: z.number().nullable(),
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
    status: e.status,
    disabledReason: e.disabledReason,
    signatureScheme: e.signatureScheme,
    payloadFormat: e.payloadFormat,
    headers: e.maskedHeaders,
    rateLimitPerSecond: e.rateLimitPerSecond,
    timeoutMs: e.timeoutMs,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

/** The rules zod cannot state alone: they depend on configuration and on the API key's scopes. */
function checkSettings(
  settings: Pick<Endpoint, "url" | "eventTypeFilters" | "maskedHeaders">,
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
  if (errors.length > 0) throw new ServiceError("validation", "The endpoint settings are not valid", errors);
}

export const endpoints = createRouter();
endpoints.use("*", apiKeyAuth());

endpoints.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createEndpoint",
    tags: ["Endpoints"],
    summary: "Create an endpoint; its signing secret is returned once",
    security: [{ apiKey: [] }],
    request: { body: jsonBody(EndpointCreateIn) },
    responses: {
      201: jsonContent(z.object({ endpoint: EndpointOut, signingSecret: z.string() }), "Created"),
      ...bodyResponses,
      ...capResponse,
    },
  }),
  async (c) => {
    const { headers, ...body } = { ...ENDPOINT_DEFAULTS, ...c.req.valid("json") };
    checkSettings({ ...body, maskedHeaders: {} }, headers, getConfig(c.env), c.get("apiKeyScopes"));
    const now = new Date().toISOString();
    const id = newEndpointId();
    const endpoint: EndpointToWrite = {
      ...body,
      ...(await mergeHeaders(c.env, { id, maskedHeaders: {}, headerValues: { state: "none" } }, headers)),
      resourceScopes: body.resourceScopes as Endpoint["resourceScopes"],
      allowedScopes: c.get("apiKeyScopes"),
      id,
      organizationId: c.get("organizationId"),
      status: "active",
      disabledReason: null,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    };
    const signingSecret = generateSigningSecret();
    const [inserted] = await c.env.DB.batch([
      insertEndpoint(c.env.DB, endpoint, endpointCaps(c.env)),
      insertEndpointSecret(c.env.DB, id, await sealSigningSecret(c.env, id, signingSecret), now),
    ]);
    if (!inserted?.meta.changes) throw await capReached(c.env, endpoint.organizationId, endpoint.url);
    return c.json({ endpoint: toEndpointOut(endpoint), signingSecret }, 201);
  },
);

endpoints.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listEndpoints",
    tags: ["Endpoints"],
    summary: "List endpoints, newest first",
    security: [{ apiKey: [] }],
    request: {
      query: pageQuerySchema("endpoint").extend({
        status: z.enum(["active", "disabled", "auto_disabled"]).optional(),
      }),
    },
    responses: { 200: jsonContent(pageSchema(EndpointOut, "EndpointPage"), "A page"), ...inputResponses },
  }),
  async (c) => {
    const page = await listEndpoints(c.env.DB, c.get("organizationId"), c.req.valid("query"));
    return c.json({ data: page.data.map(toEndpointOut), nextCursor: page.nextCursor }, 200);
  },
);

endpoints.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getEndpoint",
    tags: ["Endpoints"],
    summary: "Get an endpoint",
    security: [{ apiKey: [] }],
    request: { params: IdParam },
    responses: {
      200: jsonContent(z.object({ endpoint: EndpointOut }), "The endpoint"),
      ...inputResponses,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const endpoint = await getEndpoint(c.env.DB, c.get("organizationId"), c.req.valid("param").id);
    if (!endpoint) throw notFound("Endpoint");
    return c.json({ endpoint: toEndpointOut(endpoint) }, 200);
  },
);

endpoints.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    operationId: "updateEndpoint",
    tags: ["Endpoints"],
    summary:
      "Change an endpoint; `status: active` re-enables an auto-disabled one; `headers` merges (null removes one)",
    security: [{ apiKey: [] }],
    request: { params: IdParam, body: jsonBody(EndpointPatchIn) },
    responses: {
      200: jsonContent(z.object({ endpoint: EndpointOut }), "Updated"),
      ...bodyResponses,
      ...capOrUnreadableResponse,
      ...forbiddenResponse,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const current = await endpointToChange(c, c.req.valid("param").id);
    const { status, headers, ...patch } = c.req.valid("json");
    const next = {
      ...current,
      ...patch,
      resourceScopes: (patch.resourceScopes ?? current.resourceScopes) as Endpoint["resourceScopes"],
      // New filters are read under the scopes of the key that sets them.
      allowedScopes: patch.eventTypeFilters ? c.get("apiKeyScopes") : current.allowedScopes,
      updatedAt: new Date().toISOString(),
    };
    if (status) {
      next.status = status;
      next.disabledReason = status === "active" ? null : current.disabledReason;
    }
    checkSettings(next, headers, getConfig(c.env), next.allowedScopes);
    const written: EndpointToWrite = { ...next, ...(await mergeHeaders(c.env, current, headers)) };
    if (!(await updateEndpoint(c.env.DB, written, endpointCaps(c.env).perUrl))) {
      throw await updateRefused(c.env, current, next);
    }
    // A re-enabled endpoint starts a fresh failure streak.
    if (status === "active" && current.status !== "active") await endpointHealth(c.env, current.id).reset();
    return c.json({ endpoint: toEndpointOut(written) }, 200);
  },
);

endpoints.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    operationId: "deleteEndpoint",
    tags: ["Endpoints"],
    summary: "Delete an endpoint: deliveries stop, its secrets and header values are purged, history stays",
    security: [{ apiKey: [] }],
    request: { params: IdParam },
    responses: {
      204: { description: "Deleted" },
      ...inputResponses,
      ...forbiddenResponse,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const { id } = await endpointToChange(c, c.req.valid("param").id);
    const at = new Date().toISOString();
    const [deleted] = await c.env.DB.batch([
      softDeleteEndpoint(c.env.DB, c.get("organizationId"), id, at),
      purgeDeletedEndpointSecrets(c.env.DB, id, at),
    ]);
    if (!deleted?.meta.changes) throw notFound("Endpoint");
    return c.body(null, 204);
  },
);

endpoints.route("/", endpointActions);
