import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getConfig } from "../config";
import { purgeDeletedEndpointSecrets } from "../db/endpoint-secrets";
import { getEndpoint, listEndpoints } from "../db/endpoints/reads";
import { insertEndpoint, softDeleteEndpoint, updateEndpoint } from "../db/endpoints/writes";
import { newSigningSecret } from "../delivery/endpoint-credentials";
import type { Endpoint, EndpointToWrite } from "../domain/endpoint";
import { notifyOperator } from "../events/operator";
import { endpointHealth } from "../health/endpoint-health";
import { notFound } from "../lib/errors";
import { newEndpointId } from "../lib/ids";
import { forgetOrdering } from "../ordering/organizations";
import { endpointToChange } from "./access";
import {
  bodyResponses,
  capOrUnreadableResponse,
  capResponse,
  createRouter,
  forbiddenResponse,
  idParam,
  inputResponses,
  jsonBody,
  jsonContent,
  notFoundResponse,
  pageQuerySchema,
  pageSchema,
} from "./app";
import { type AppEnv, apiKeyAuth } from "./auth";
import { endpointActions } from "./endpoint-actions";
import { capReached, endpointCaps, updateRefused } from "./endpoint-caps";
import { mergeHeaders } from "./endpoint-headers";
import { endpointLanes } from "./endpoint-lanes";
import {
  checkSettings,
  ENDPOINT_DEFAULTS,
  EndpointCreateIn,
  EndpointOut,
  EndpointPatchIn,
  EndpointStatusOut,
  NewKeyOut,
  toEndpointOut,
} from "./endpoint-schemas";

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
      201: jsonContent(z.object({ endpoint: EndpointOut, ...NewKeyOut }), "Created"),
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
      // checkSettings found it a valid filter.
      payloadFilter: body.payloadFilter as Endpoint["payloadFilter"],
      allowedScopes: c.get("apiKeyScopes"),
      id,
      organizationId: c.get("organizationId"),
      status: "active",
      disabledReason: null,
      verificationKey: null,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    };
    const key = await newSigningSecret(c.env, id, endpoint.signatureAlgorithm, now);
    endpoint.verificationKey = key.verificationKey;
    const [inserted] = await c.env.DB.batch([
      insertEndpoint(c.env.DB, endpoint, endpointCaps(c.env)),
      key.store,
    ]);
    if (!inserted?.meta.changes) throw await capReached(c.env, endpoint.organizationId, endpoint.url);
    if (endpoint.ordering !== "none") forgetOrdering(endpoint.organizationId);
    tellOperator(c, "operator.endpoint.created", endpoint);
    return c.json({ endpoint: toEndpointOut(endpoint), ...key.shown }, 201);
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
        status: EndpointStatusOut.optional(),
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
    request: { params: idParam("endpoint") },
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
    request: { params: idParam("endpoint"), body: jsonBody(EndpointPatchIn) },
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
      // checkSettings finds it a valid filter before anything is written.
      payloadFilter: (patch.payloadFilter === undefined
        ? current.payloadFilter
        : patch.payloadFilter) as Endpoint["payloadFilter"],
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
    if (written.ordering !== current.ordering) forgetOrdering(current.organizationId);
    // A re-enabled endpoint starts a fresh failure streak, and its ordered lanes go on; a disabled
    // one's lanes hold, keeping their order.
    if (status === "active" && current.status !== "active") {
      await endpointHealth(c.env, current.id).reset();
      tellOperator(c, "operator.endpoint.enabled", written);
    } else if (status && status !== "active" && current.status === "active") {
      await endpointHealth(c.env, current.id).holdOrdered();
    }
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
    request: { params: idParam("endpoint") },
    responses: {
      204: { description: "Deleted" },
      ...inputResponses,
      ...forbiddenResponse,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const endpoint = await endpointToChange(c, c.req.valid("param").id);
    const { id } = endpoint;
    const at = new Date().toISOString();
    const [deleted] = await c.env.DB.batch([
      softDeleteEndpoint(c.env.DB, c.get("organizationId"), id, at),
      purgeDeletedEndpointSecrets(c.env.DB, id, at),
    ]);
    if (!deleted?.meta.changes) throw notFound("Endpoint");
    if (endpoint.ordering !== "none") forgetOrdering(endpoint.organizationId);
    tellOperator(c, "operator.endpoint.deleted", endpoint);
    return c.body(null, 204);
  },
);

endpoints.route("/", endpointActions);
endpoints.route("/", endpointLanes);

/** After the answer: the operator's endpoints hear of the change (events/operator.ts). */
function tellOperator(
  c: Context<AppEnv>,
  type: "operator.endpoint.created" | "operator.endpoint.deleted" | "operator.endpoint.enabled",
  endpoint: Pick<Endpoint, "id" | "organizationId" | "url">,
) {
  const data = { organizationId: endpoint.organizationId, endpointId: endpoint.id, url: endpoint.url };
  c.executionCtx.waitUntil(notifyOperator(c.env, { type, data }));
}
