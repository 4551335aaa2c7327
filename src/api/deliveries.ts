import { createRoute, z } from "@hono/zod-openapi";
import { checkEventData } from "../catalog/validate";
import { getDelivery, listDeliveries } from "../db/deliveries/history";
import { getEndpoint } from "../db/endpoints/reads";
import { dataOf } from "../db/shards";
import { replayDeliveries } from "../delivery/replay";
import { ATTEMPT_TRIGGERS, type Attempt, DELIVERY_STATUSES, type Delivery } from "../domain/delivery";
import { endpointHealth } from "../health/endpoint-health";
import { notFound, ServiceError } from "../lib/errors";
import { checkCoverage, mayRead, readableTypes } from "./access";
import {
  bodyResponses,
  createRouter,
  forbiddenResponse,
  IsoInstant,
  idParam,
  inputResponses,
  jsonContent,
  notFoundResponse,
  optionalJsonBody,
  pageQuerySchema,
  pageSchema,
  problemContent,
  quotaResponse,
} from "./app";
import { apiKeyAuth } from "./auth";
import { BookmarkHeaders, bookmarkAnswer, findInHistory, readHistory } from "./history";
import { takeReplayPermits } from "./replay-quota";

/** Delivery history (docs/architecture.md#delivery-states), scoped to the API key's organization. */
export const DeliveryOut = z
  .object({
    id: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    endpointId: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attemptCount: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    replayOf: z.string().nullable(),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
  })
  .openapi("Delivery");

const AttemptOut = z
  .object({
    number: z.number().int(),
    trigger: z.enum(ATTEMPT_TRIGGERS),
    startedAt: z.string(),
    durationMs: z.number().int(),
    statusCode: z.number().int().nullable(),
    error: z.string().nullable(),
    responseBody: z.string().nullable(),
    traceId: z.string().nullable().openapi({ description: "The W3C trace id sent in its `traceparent`" }),
    spanId: z.string().nullable().openapi({ description: "Its own span id, in the same `traceparent`" }),
  })
  .openapi("Attempt");

export const toDeliveryOut = (d: Delivery): z.infer<typeof DeliveryOut> => ({
  id: d.id,
  eventId: d.eventId,
  eventType: d.eventType,
  endpointId: d.endpointId,
  status: d.status,
  attemptCount: d.attemptCount,
  nextAttemptAt: d.nextAttemptAt,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  replayOf: d.replayOf,
  createdAt: d.createdAt,
  deliveredAt: d.deliveredAt,
});

const toAttemptOut = (a: Attempt): z.infer<typeof AttemptOut> => ({
  number: a.number,
  trigger: a.trigger,
  startedAt: a.startedAt,
  durationMs: a.durationMs,
  statusCode: a.statusCode,
  error: a.error,
  responseBody: a.responseBody,
  traceId: a.traceId ?? null,
  spanId: a.spanId ?? null,
});

export const deliveries = createRouter();
deliveries.use("*", apiKeyAuth());

deliveries.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listDeliveries",
    tags: ["Deliveries"],
    summary: "List deliveries, newest first",
    security: [{ apiKey: [] }],
    request: {
      headers: BookmarkHeaders,
      query: pageQuerySchema("delivery").extend({
        endpoint_id: z.string().max(64).optional(),
        event_id: z.string().max(64).optional(),
        event_type: z.string().max(200).optional(),
        status: z.enum(DELIVERY_STATUSES).optional(),
        since: IsoInstant.optional(),
        until: IsoInstant.optional(),
      }),
    },
    responses: {
      200: { ...jsonContent(pageSchema(DeliveryOut, "DeliveryPage"), "A page"), ...bookmarkAnswer },
      ...inputResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await readHistory(c, (db) =>
      listDeliveries(db, c.get("organizationId"), {
        limit: q.limit,
        cursor: q.cursor,
        endpointId: q.endpoint_id,
        eventId: q.event_id,
        eventType: q.event_type,
        status: q.status,
        since: q.since,
        until: q.until,
        types: readableTypes(c),
      }),
    );
    return c.json({ data: page.data.map(toDeliveryOut), nextCursor: page.nextCursor }, 200);
  },
);

deliveries.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getDelivery",
    tags: ["Deliveries"],
    summary: "Get a delivery with its attempts",
    security: [{ apiKey: [] }],
    request: { params: idParam("delivery"), headers: BookmarkHeaders },
    responses: {
      200: {
        ...jsonContent(
          z.object({
            delivery: DeliveryOut.extend({
              traceId: z.string().nullable().openapi({
                description:
                  "The trace every attempt is in (its event's, from the publisher's `traceparent`); null before the first",
              }),
              attempts: z.array(AttemptOut),
              lane: z
                .object({
                  lane: z
                    .string()
                    .openapi({ description: 'Its ordering key, or "" for the endpoint\'s one lane' }),
                  sequence: z
                    .number()
                    .int()
                    .openapi({ description: "Its acceptance number in the organization" }),
                  position: z
                    .number()
                    .int()
                    .openapi({ description: "How many deliveries are ahead of it; 0: next or being sent" }),
                })
                .nullable()
                .openapi({
                  description:
                    "While it waits in an ordered lane (endpoints with `ordering`): where; null otherwise",
                }),
            }),
          }),
          "The delivery",
        ),
        ...bookmarkAnswer,
      },
      ...inputResponses,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const delivery = await findInHistory(c, (db) =>
      getDelivery(db, c.get("organizationId"), c.req.valid("param").id),
    );
    if (!delivery || !mayRead(c, delivery.eventType)) throw notFound("Delivery");
    // Only a pending delivery can be waiting in a lane; the endpoint's object says where.
    const lane =
      delivery.status === "pending"
        ? await endpointHealth(c.env, delivery.endpointId).orderedPlace(delivery.id)
        : null;
    return c.json(
      {
        delivery: {
          ...toDeliveryOut(delivery),
          traceId: delivery.attempts[0]?.traceId ?? null,
          attempts: delivery.attempts.map(toAttemptOut),
          lane,
        },
      },
      200,
    );
  },
);

deliveries.openapi(
  createRoute({
    method: "post",
    path: "/{id}/replay",
    operationId: "replayDelivery",
    tags: ["Deliveries"],
    summary: "Send the delivery's event again, as a new delivery marked as a replay",
    security: [{ apiKey: [] }],
    request: {
      params: idParam("delivery"),
      body: optionalJsonBody(
        z.strictObject({
          payload: z
            .record(z.string(), z.unknown())
            .optional()
            .openapi({ description: "Data to send instead of the event's (the envelope stays)" }),
        }),
      ),
    },
    responses: {
      202: jsonContent(z.object({ delivery: DeliveryOut }), "The replay, queued"),
      ...bodyResponses,
      ...forbiddenResponse,
      ...notFoundResponse,
      409: { description: "The delivery's endpoint was deleted", content: problemContent },
      ...quotaResponse,
    },
  }),
  async (c) => {
    // Read from the primary: the replay is written from what is read.
    const data = await dataOf(c.env, c.get("organizationId"));
    const original = await getDelivery(data, c.get("organizationId"), c.req.valid("param").id);
    if (!original || !mayRead(c, original.eventType)) throw notFound("Delivery");
    const endpoint = await getEndpoint(c.env.DB, original.organizationId, original.endpointId);
    if (!endpoint) throw new ServiceError("conflict", "The delivery's endpoint was deleted");
    checkCoverage(c, endpoint);
    const body = c.req.valid("json") ?? {};
    if (body.payload)
      checkEventData(original.eventType, body.payload, { type: "eventType", data: "payload" });
    await takeReplayPermits(c.env, endpoint.id, 1);
    const [replay] = await replayDeliveries(c.env, endpoint, [original], body.payload);
    return c.json({ delivery: toDeliveryOut(replay as Delivery) }, 202);
  },
);
