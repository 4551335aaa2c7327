import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { OPERATOR_ORGANIZATION_ID } from "../events/operator";
import { signPortalToken } from "../lib/portal-token";
import {
  bodyResponses,
  capResponse,
  createRouter,
  idParam,
  inputResponses,
  jsonBody,
  jsonContent,
  notFoundResponse,
  optionalJsonBody,
  pageQuerySchema,
  pageSchema,
} from "./app";
import { type AppEnv, adminAuth } from "./auth";
import { RotateSecretIn } from "./endpoint-actions";
import { EndpointCreateIn, EndpointOut, NewKeyOut } from "./endpoint-schemas";

/**
 * Operational webhooks (docs/api.md#operational-webhooks): the operator's endpoints, which receive
 * `operator.endpoint.*` about every organization's endpoints. They are endpoints of the operator's own
 * organization (events/operator.ts), so these routes, behind `ADMIN_TOKEN`, only hand each request
 * to the organization API, in the same invocation, as that organization: every rule of an endpoint
 * (validation, the URL policy, caps, secrets, rotation) is the one place's that has it.
 */
type Api = Pick<OpenAPIHono<AppEnv>, "request">;

/** How long the token of one forwarded request lives: it is minted for that request and dropped. */
const FORWARD_TOKEN_SECONDS = 60;

export function operationalEndpoints(api: Api) {
  const router = createRouter();
  router.use("*", adminAuth());

  /** The organization API's answer to `method path`, asked as the operator's organization. */
  async function forward(
    c: Context<AppEnv>,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Response> {
    const { token } = await signPortalToken(
      c.env,
      { organizationId: OPERATOR_ORGANIZATION_ID, readOnly: false, theme: {} },
      FORWARD_TOKEN_SECONDS,
      Date.now(),
    );
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    const address = c.req.header("cf-connecting-ip");
    if (address) headers["cf-connecting-ip"] = address;
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const ctx = c.executionCtx as unknown as ExecutionContext;
    return api.request(`https://operator.internal/webhooks/v1/endpoints${path}`, init, c.env, ctx);
  }

  router.openapi(
    createRoute({
      method: "post",
      path: "/",
      operationId: "createOperationalEndpoint",
      tags: ["Admin"],
      summary: "Register an operational endpoint: it receives operator.endpoint.* for every organization",
      security: [{ adminToken: [] }],
      request: { body: jsonBody(EndpointCreateIn) },
      responses: {
        201: jsonContent(z.object({ endpoint: EndpointOut, ...NewKeyOut }), "Created"),
        ...bodyResponses,
        ...capResponse,
      },
    }),
    async (c) => forward(c, "POST", "", c.req.valid("json")) as never,
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "listOperationalEndpoints",
      tags: ["Admin"],
      summary: "List the operational endpoints, newest first",
      security: [{ adminToken: [] }],
      request: { query: pageQuerySchema("endpoint") },
      responses: {
        200: jsonContent(pageSchema(EndpointOut, "OperationalEndpointPage"), "A page"),
        ...inputResponses,
      },
    }),
    async (c) => forward(c, "GET", `?${new URL(c.req.url).searchParams}`) as never,
  );

  router.openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      operationId: "deleteOperationalEndpoint",
      tags: ["Admin"],
      summary: "Delete an operational endpoint",
      security: [{ adminToken: [] }],
      request: { params: idParam("endpoint") },
      responses: { 204: { description: "Deleted" }, ...inputResponses, ...notFoundResponse },
    }),
    async (c) => forward(c, "DELETE", `/${c.req.valid("param").id}`) as never,
  );

  router.openapi(
    createRoute({
      method: "post",
      path: "/{id}/rotate_secret",
      operationId: "rotateOperationalEndpointSecret",
      tags: ["Admin"],
      summary: "Rotate an operational endpoint's signing secret, with a grace window",
      security: [{ adminToken: [] }],
      request: {
        params: idParam("endpoint"),
        body: optionalJsonBody(RotateSecretIn),
      },
      responses: {
        200: jsonContent(z.object({ ...NewKeyOut, previousSecretExpiresAt: z.string() }), "Rotated"),
        ...bodyResponses,
        ...notFoundResponse,
      },
    }),
    async (c) =>
      forward(c, "POST", `/${c.req.valid("param").id}/rotate_secret`, c.req.valid("json") ?? {}) as never,
  );

  return router;
}
