import { createRoute, z } from "@hono/zod-openapi";
import { listDeliveries } from "../db/deliveries/history";
import { getEvent, listEvents } from "../db/events";
import { directDelivery } from "../delivery/direct";
import { FAN_OUT_STATUSES, type StoredEvent } from "../domain/event";
import { publishEvent } from "../events/publish";
import { notFound } from "../lib/errors";
import { mayRead, readableTypes } from "./access";
import {
  bodyResponses,
  createRouter,
  IsoInstant,
  idOf,
  idParam,
  inputResponses,
  jsonBody,
  jsonContent,
  notFoundResponse,
  pageQuerySchema,
  pageSchema,
  problemContent,
} from "./app";
import { adminAuth, apiKeyAuth } from "./auth";
import { DeliveryOut, toDeliveryOut } from "./deliveries";
import { BookmarkHeaders, bookmarkAnswer, findInHistory, readHistory } from "./history";

/** Publishing (docs/architecture.md#publish): the platform, holding the admin token, reports what happened. */
export const EventIn = z
  .strictObject({
    organizationId: idOf("organization"),
    type: z.string().min(1).max(200).openapi({ example: "vault.ingest.completed" }),
    data: z
      .record(z.string(), z.unknown())
      .openapi({ description: "Must match the type's schema in the catalog" }),
    occurredAt: IsoInstant.optional().openapi({ description: "Defaults to now" }),
    resources: z
      .record(z.string().min(1).max(100), z.string().min(1).max(200))
      .optional()
      .openapi({ description: 'Ids of the resources the event is about, e.g. `{vault: "vault_123"}`' }),
    orderingKey: z.string().min(1).max(128).optional().openapi({
      description:
        'For endpoints with `ordering: "key"`: events with the same key are delivered to such an endpoint one at a time, in the order they were accepted. 1–128 characters. Without it, the event\'s first resource id is its key',
      example: "matter_123",
    }),
  })
  .openapi("EventPublish");

export const EventOut = z
  .object({
    id: z.string(),
    organizationId: z.string(),
    type: z.string(),
    occurredAt: z.string(),
    createdAt: z.string(),
    data: z.unknown(),
    resources: z.record(z.string(), z.string()),
    fanOut: z.object({ status: z.enum(FAN_OUT_STATUSES), error: z.string().nullable() }).openapi({
      description:
        "`done` once every matching endpoint has a delivery; `failed` if fan-out was given up, `error` says why",
    }),
  })
  .openapi("Event");

export const toEventOut = (e: StoredEvent): z.infer<typeof EventOut> => ({
  id: e.id,
  organizationId: e.organizationId,
  type: e.type,
  occurredAt: e.occurredAt,
  createdAt: e.createdAt,
  data: e.data,
  resources: e.resources,
  fanOut: e.fanOut,
});

export const events = createRouter();

events.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "publishEvent",
    tags: ["Events"],
    summary: "Publish an event; it is fanned out to every matching endpoint of the organization",
    security: [{ adminToken: [] }],
    middleware: [adminAuth()] as const,
    request: {
      headers: z.object({
        traceparent: z.string().max(256).optional().openapi({
          description:
            "W3C Trace Context: its trace id is the event's, sent on every delivery attempt; malformed, a new trace",
        }),
        "idempotency-key": z
          .string()
          .min(1)
          .max(255)
          .optional()
          .openapi({ description: "Same key and body: the first event again (202); other body: 409" }),
      }),
      body: jsonBody(EventIn),
    },
    responses: {
      202: jsonContent(z.object({ event: EventOut }), "Accepted (`Idempotent-Replayed: true` for a repeat)"),
      409: { description: "Idempotency-Key reused with another request", content: problemContent },
      ...bodyResponses,
    },
  }),
  async (c) => {
    const { event, replayed } = await publishEvent(
      c.env,
      {
        ...c.req.valid("json"),
        idempotencyKey: c.req.valid("header")["idempotency-key"],
        traceparent: c.req.valid("header").traceparent,
      },
      { direct: directDelivery(c.env, c.executionCtx) },
    );
    if (replayed) c.header("Idempotent-Replayed", "true");
    return c.json({ event: toEventOut(event) }, 202);
  },
);

events.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listEvents",
    tags: ["Events"],
    summary: "List the organization's events, newest first",
    security: [{ apiKey: [] }],
    middleware: [apiKeyAuth()] as const,
    request: {
      headers: BookmarkHeaders,
      query: pageQuerySchema("event").extend({
        event_type: z.string().max(200).optional(),
        since: IsoInstant.optional(),
        until: IsoInstant.optional(),
      }),
    },
    responses: {
      200: { ...jsonContent(pageSchema(EventOut, "EventPage"), "A page"), ...bookmarkAnswer },
      ...inputResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await readHistory(c, (db) =>
      listEvents(db, c.get("organizationId"), {
        limit: q.limit,
        cursor: q.cursor,
        type: q.event_type,
        since: q.since,
        until: q.until,
        types: readableTypes(c),
      }),
    );
    return c.json({ data: page.data.map(toEventOut), nextCursor: page.nextCursor }, 200);
  },
);

events.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getEvent",
    tags: ["Events"],
    summary: "Get an event with its deliveries",
    security: [{ apiKey: [] }],
    middleware: [apiKeyAuth()] as const,
    request: { params: idParam("event"), headers: BookmarkHeaders },
    responses: {
      200: {
        ...jsonContent(z.object({ event: EventOut, deliveries: z.array(DeliveryOut) }), "The event"),
        ...bookmarkAnswer,
      },
      ...inputResponses,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const organizationId = c.get("organizationId");
    const found = await findInHistory(c, async (db) => {
      const event = await getEvent(db, organizationId, c.req.valid("param").id);
      if (!event) return null;
      return {
        event,
        deliveries: await listDeliveries(db, organizationId, { eventId: event.id, limit: 100 }),
      };
    });
    if (!found || !mayRead(c, found.event.type)) throw notFound("Event");
    return c.json(
      { event: toEventOut(found.event), deliveries: found.deliveries.data.map(toDeliveryOut) },
      200,
    );
  },
);
