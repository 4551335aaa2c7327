import { createRoute, z } from "@hono/zod-openapi";
import { catalogScopes } from "../catalog";
import { ALL_SCOPES } from "../catalog/filters";
import { getConfig } from "../config";
import { type ApiKey, insertApiKey, revokeApiKey } from "../db/api-keys";
import {
  getOrganization,
  insertOrganization,
  listOrganizations,
  type Organization,
} from "../db/organizations";
import { shardForNewOrganization, shards } from "../db/shards";
import { notFound } from "../lib/errors";
import { newApiKeyId, newOrganizationId } from "../lib/ids";
import { REENCRYPT_BATCH, reencryptSecrets } from "../sweeper/reencrypt-secrets";
import {
  bodyResponses,
  createRouter,
  defaultsTo,
  idParam,
  inputResponses,
  jsonBody,
  jsonContent,
  notFoundResponse,
  optionalJsonBody,
  pageQuerySchema,
  pageSchema,
} from "./app";
import { adminAuth, newApiToken } from "./auth";
import { issuePortalSession, PortalSessionIn, PortalSessionOut } from "./portal-sessions";

/**
 * Operator API (docs/api.md), behind `ADMIN_TOKEN`: organizations, their API keys and portal links, and the
 * re-encryption step of a `SECRETS_KEY` rotation.
 */
const OrganizationIn = z.object({ name: z.string().trim().min(1).max(200) });
const OrganizationOut = z
  .object({
    id: z.string(),
    name: z.string(),
    shard: z
      .number()
      .int()
      .openapi({ description: "The shard its events and deliveries live in (DB_SHARD_<n>)" }),
    createdAt: z.string(),
  })
  .openapi("Organization");

/** A key created without `scopes` may subscribe to every type. */
const DEFAULT_SCOPES = [ALL_SCOPES];

const ApiKeyIn = z.object({
  name: z.string().trim().min(1).max(200),
  scopes: defaultsTo(
    z
      .array(z.enum([ALL_SCOPES, ...catalogScopes] as [string, ...string[]]))
      .min(1)
      .max(50),
    DEFAULT_SCOPES,
    "Catalog scopes the key may subscribe to; `*` for all",
  ),
});
const ApiKeyOut = z
  .object({
    id: z.string(),
    organizationId: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    createdAt: z.string(),
  })
  .openapi("ApiKey");

const toOrganizationOut = (org: Organization): z.infer<typeof OrganizationOut> => ({
  id: org.id,
  name: org.name,
  shard: org.shard,
  createdAt: org.createdAt,
});
const toApiKeyOut = (key: ApiKey): z.infer<typeof ApiKeyOut> => ({
  id: key.id,
  organizationId: key.organizationId,
  name: key.name,
  scopes: key.scopes,
  createdAt: key.createdAt,
});

export const admin = createRouter();
admin.use("*", adminAuth());

admin.openapi(
  createRoute({
    method: "post",
    path: "/organizations",
    operationId: "createOrganization",
    tags: ["Admin"],
    summary: "Create an organization",
    security: [{ adminToken: [] }],
    request: { body: jsonBody(OrganizationIn) },
    responses: {
      201: jsonContent(z.object({ organization: OrganizationOut }), "Created"),
      ...bodyResponses,
    },
  }),
  async (c) => {
    const { name } = c.req.valid("json");
    const org: Organization = {
      id: newOrganizationId(),
      name,
      shard: shardForNewOrganization(getConfig(c.env).shardWeights, shards(c.env).length),
      createdAt: new Date().toISOString(),
    };
    await insertOrganization(c.env.DB, org);
    return c.json({ organization: toOrganizationOut(org) }, 201);
  },
);

admin.openapi(
  createRoute({
    method: "get",
    path: "/organizations",
    operationId: "listOrganizations",
    tags: ["Admin"],
    summary: "List organizations, newest first",
    security: [{ adminToken: [] }],
    request: { query: pageQuerySchema("organization") },
    responses: {
      200: jsonContent(pageSchema(OrganizationOut, "OrganizationPage"), "A page"),
      ...inputResponses,
    },
  }),
  async (c) => {
    const page = await listOrganizations(c.env.DB, c.req.valid("query"));
    return c.json({ data: page.data.map(toOrganizationOut), nextCursor: page.nextCursor }, 200);
  },
);

admin.openapi(
  createRoute({
    method: "post",
    path: "/organizations/{id}/api_keys",
    operationId: "createApiKey",
    tags: ["Admin"],
    summary: "Create an API key for an organization; the token is shown once",
    security: [{ adminToken: [] }],
    request: { params: idParam("organization"), body: jsonBody(ApiKeyIn) },
    responses: {
      201: jsonContent(z.object({ apiKey: ApiKeyOut, token: z.string() }), "Created"),
      ...bodyResponses,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const org = await getOrganization(c.env.DB, id);
    if (!org) throw notFound("Organization");
    const { token, hash } = await newApiToken();
    const key: ApiKey = {
      id: newApiKeyId(),
      organizationId: org.id,
      name: body.name,
      scopes: [...new Set(body.scopes ?? DEFAULT_SCOPES)],
      createdAt: new Date().toISOString(),
      revokedAt: null,
    };
    await insertApiKey(c.env.DB, key, hash);
    return c.json({ apiKey: toApiKeyOut(key), token }, 201);
  },
);

admin.openapi(
  createRoute({
    method: "post",
    path: "/organizations/{id}/portal_sessions",
    operationId: "createOrganizationPortalSession",
    tags: ["Admin"],
    summary: "A link that opens the customer portal for an organization",
    security: [{ adminToken: [] }],
    request: { params: idParam("organization"), body: optionalJsonBody(PortalSessionIn) },
    responses: {
      201: jsonContent(PortalSessionOut, "Created"),
      ...bodyResponses,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const org = await getOrganization(c.env.DB, c.req.valid("param").id);
    if (!org) throw notFound("Organization");
    return c.json(await issuePortalSession(c, org.id, c.req.valid("json")), 201);
  },
);

admin.openapi(
  createRoute({
    method: "delete",
    path: "/api_keys/{id}",
    operationId: "revokeApiKey",
    tags: ["Admin"],
    summary: "Revoke an API key, at once",
    security: [{ adminToken: [] }],
    request: { params: idParam("apiKey") },
    responses: { 204: { description: "Revoked" }, ...inputResponses, ...notFoundResponse },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (!(await revokeApiKey(c.env.DB, id, new Date().toISOString()))) throw notFound("API key");
    return c.body(null, 204);
  },
);

admin.openapi(
  createRoute({
    method: "post",
    path: "/secrets/reencrypt",
    operationId: "reencryptSecrets",
    tags: ["Admin"],
    summary: "Seal up to `limit` secrets not under the current SECRETS_KEY again under it (docs/security.md)",
    security: [{ adminToken: [] }],
    request: {
      body: optionalJsonBody(
        z.strictObject({ limit: defaultsTo(z.number().int().min(1).max(500), REENCRYPT_BATCH) }),
      ),
    },
    responses: {
      200: jsonContent(
        z.object({
          reencrypted: z.number().int(),
          remaining: z.number().int().openapi({ description: "Call again until 0" }),
          unreadable: z
            .array(z.string())
            .openapi({ description: "Endpoints with a secret no configured key decrypts" }),
        }),
        "What this call did and what is left",
      ),
      ...bodyResponses,
    },
  }),
  async (c) => {
    const { limit } = c.req.valid("json") ?? {};
    return c.json(await reencryptSecrets(c.env, limit), 200);
  },
);
