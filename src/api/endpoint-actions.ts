import { createRoute, z } from "@hono/zod-openapi";
import { findEventType } from "../catalog";
import { checkEventData } from "../catalog/validate";
import { getConfig } from "../config";
import { expireSigningSecrets } from "../db/endpoint-secrets";
import { setEndpointSigningKey } from "../db/endpoints/writes";
import { newSigningSecret } from "../delivery/endpoint-credentials";
import { MAX_RECOVER, recoverDeliveries } from "../delivery/replay";
import { sendTestMessage } from "../delivery/test-send";
import { checkEndpointUrl } from "../delivery/url-policy";
import { endpointHealth } from "../health/endpoint-health";
import { invalid, ServiceError } from "../lib/errors";
import { endpointOf, endpointToChange } from "./access";
import {
  bodyResponses,
  createRouter,
  defaultsTo,
  forbiddenResponse,
  IsoInstant,
  idOf,
  idParam,
  inputResponses,
  jsonBody,
  jsonContent,
  notFoundResponse,
  optionalJsonBody,
  quotaResponse,
  unreadableSecretResponse,
} from "./app";
import {
  algorithmProblems,
  DisabledReasonOut,
  EndpointStatusOut,
  NewKeyOut,
  SignatureAlgorithmIn,
} from "./endpoint-schemas";
import { takeReplayPermits } from "./replay-quota";

/**
 * What a customer does to an endpoint beyond editing it: rotate its secret, test it, recover it.
 * Mounted inside the endpoints router, whose API-key authentication covers these routes too.
 */
export const endpointActions = createRouter();

const MAX_GRACE_SECONDS = 30 * 86_400;
/** Without a body: the previous secret signs for a day more, and the test message is a `webhook.test`. */
const DEFAULT_GRACE_SECONDS = 86_400;
const DEFAULT_TEST_TYPE = "webhook.test";

/** A rotation's options, as this route and the operator's (api/operational-endpoints.ts) take them. */
export const RotateSecretIn = z.strictObject({
  previousSecretExpiresInSec: defaultsTo(
    z.number().int().min(0).max(MAX_GRACE_SECONDS),
    DEFAULT_GRACE_SECONDS,
    "How long the previous secret keeps signing, in seconds",
  ),
  signatureAlgorithm: SignatureAlgorithmIn.optional().openapi({
    description:
      "The new key's algorithm; without it, the endpoint's. A change signs with both kinds through the grace",
  }),
});

endpointActions.openapi(
  createRoute({
    method: "post",
    path: "/{id}/rotate_secret",
    operationId: "rotateEndpointSecret",
    tags: ["Endpoints"],
    summary: "Rotate the signing secret; the previous one keeps signing through a grace window",
    security: [{ apiKey: [] }],
    request: {
      params: idParam("endpoint"),
      body: optionalJsonBody(RotateSecretIn),
    },
    responses: {
      200: jsonContent(
        z.object({ ...NewKeyOut, previousSecretExpiresAt: z.string() }),
        "The new secret, shown once, or the new key's public half",
      ),
      ...bodyResponses,
      ...forbiddenResponse,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const endpoint = await endpointToChange(c, c.req.valid("param").id);
    const { previousSecretExpiresInSec, signatureAlgorithm = endpoint.signatureAlgorithm } =
      c.req.valid("json") ?? {};
    const problems = algorithmProblems({ ...endpoint, signatureAlgorithm }, "signatureAlgorithm");
    if (problems.length > 0) throw new ServiceError("validation", "The rotation is not valid", problems);
    const now = new Date();
    const expiresAt = new Date(
      now.getTime() + (previousSecretExpiresInSec ?? DEFAULT_GRACE_SECONDS) * 1000,
    ).toISOString();
    const key = await newSigningSecret(c.env, endpoint.id, signatureAlgorithm, now.toISOString());
    // The new secret is inserted after the others are given their expiry (db/endpoint-secrets.ts).
    await c.env.DB.batch([
      expireSigningSecrets(c.env.DB, endpoint.id, expiresAt),
      key.store,
      setEndpointSigningKey(
        c.env.DB,
        endpoint.id,
        signatureAlgorithm,
        key.verificationKey,
        now.toISOString(),
      ),
    ]);
    return c.json({ ...key.shown, previousSecretExpiresAt: expiresAt }, 200);
  },
);

endpointActions.openapi(
  createRoute({
    method: "post",
    path: "/{id}/test",
    operationId: "testEndpoint",
    tags: ["Endpoints"],
    summary: "Send one signed test message now and report the receiver's answer (no retry, no history)",
    security: [{ apiKey: [] }],
    request: {
      params: idParam("endpoint"),
      body: optionalJsonBody(
        z.strictObject({
          eventType: defaultsTo(z.string().min(1).max(200), DEFAULT_TEST_TYPE),
          payload: z.record(z.string(), z.unknown()).optional(),
        }),
      ),
    },
    responses: {
      200: jsonContent(
        z.object({
          ok: z.boolean(),
          statusCode: z.number().int().nullable(),
          durationMs: z.number().int(),
          responseBody: z.string().nullable(),
          error: z.string().optional(),
        }),
        "What the receiver answered",
      ),
      ...bodyResponses,
      ...forbiddenResponse,
      ...notFoundResponse,
      ...unreadableSecretResponse,
    },
  }),
  async (c) => {
    const endpoint = await endpointToChange(c, c.req.valid("param").id);
    const body = c.req.valid("json") ?? {};
    const eventType = body.eventType ?? DEFAULT_TEST_TYPE;
    const payload = body.payload ?? findEventType(eventType)?.example;
    checkEventData(eventType, payload, { type: "eventType", data: "payload" });
    const url = checkEndpointUrl(endpoint.url, getConfig(c.env));
    if (!url.ok) throw invalid("url", url.reason);
    return c.json(await sendTestMessage(c.env, endpoint, eventType, payload), 200);
  },
);

endpointActions.openapi(
  createRoute({
    method: "post",
    path: "/{id}/recover",
    operationId: "recoverEndpoint",
    tags: ["Endpoints"],
    summary: `Replay once each failed delivery created in [since, until) that no pending or delivered replay covers, oldest first (scans at most ${MAX_RECOVER} per call)`,
    security: [{ apiKey: [] }],
    request: {
      params: idParam("endpoint"),
      body: jsonBody(
        z.strictObject({
          since: IsoInstant,
          until: IsoInstant.optional().openapi({
            description: "Defaults to now; a later instant counts as now",
          }),
          cursor: idOf("delivery")
            .optional()
            .openapi({ description: "`nextCursor` of the previous call with the same window" }),
        }),
      ),
    },
    responses: {
      202: jsonContent(
        z.object({
          replayed: z.number().int(),
          nextCursor: z.string().nullable(),
          limitedBy: z
            .enum(["call", "quota"])
            .nullable()
            .openapi({
              description: `Why the call stopped before the end of its window: \`call\`, ${MAX_RECOVER} failed deliveries scanned; \`quota\`, the replay quota had fewer permits than deliveries to replay (the oldest went). Call again with nextCursor.`,
            }),
          retryAfterSeconds: z
            .number()
            .int()
            .optional()
            .openapi({ description: "With `quota`: seconds until the next permit frees up" }),
        }),
        "Replays queued",
      ),
      ...bodyResponses,
      ...forbiddenResponse,
      ...notFoundResponse,
      ...quotaResponse,
    },
  }),
  async (c) => {
    const endpoint = await endpointToChange(c, c.req.valid("param").id);
    const body = c.req.valid("json");
    // The window ends now at the latest: a call replays what has failed so far, and a cursor walks
    // a window that no longer grows.
    const now = new Date().toISOString();
    const until = body.until && body.until < now ? body.until : now;
    if (body.since >= until) throw invalid("since", "must be before until, and before now");
    const window = { since: body.since, until, cursor: body.cursor };
    const recovered = await recoverDeliveries(c.env, endpoint, window, (requested) =>
      takeReplayPermits(c.env, endpoint.id, requested),
    );
    return c.json(recovered, 202);
  },
);

endpointActions.openapi(
  createRoute({
    method: "get",
    path: "/{id}/health",
    operationId: "getEndpointHealth",
    tags: ["Endpoints"],
    summary: "The endpoint's failure streak, last results and 24 h success rate",
    security: [{ apiKey: [] }],
    request: { params: idParam("endpoint") },
    responses: {
      200: jsonContent(
        z.object({
          health: z
            .object({
              status: EndpointStatusOut,
              disabledReason: DisabledReasonOut.nullable(),
              failingSince: z.string().nullable(),
              failuresInStreak: z.number().int(),
              lastSuccessAt: z.string().nullable(),
              lastFailureAt: z.string().nullable(),
              lastStatusCode: z.number().int().nullable(),
              lastError: z.string().nullable(),
              attemptsLast24h: z.number().int(),
              successRateLast24h: z.number().nullable(),
            })
            .openapi("EndpointHealth"),
        }),
        "Health",
      ),
      ...inputResponses,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const endpoint = await endpointOf(c, c.req.valid("param").id);
    const summary = await endpointHealth(c.env, endpoint.id).summary();
    return c.json(
      { health: { status: endpoint.status, disabledReason: endpoint.disabledReason, ...summary } },
      200,
    );
  },
);
