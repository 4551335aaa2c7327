import { createRoute, z } from "@hono/zod-openapi";
import { endpointHealth } from "../health/endpoint-health";
import type { LaneEntry } from "../ordering/lane";
import { endpointOf } from "./access";
import { createRouter, idParam, inputResponses, jsonContent, notFoundResponse, pageSchema } from "./app";

/**
 * An ordered endpoint's lanes (docs/architecture.md#ordered-lanes): which lanes hold deliveries, and
 * what waits behind what in one of them. Read from the endpoint's Durable Object, which keeps them.
 * Mounted inside the endpoints router, whose API-key authentication covers these routes too.
 */
export const endpointLanes = createRouter();

const LaneKey = z.string().max(128).openapi({
  description:
    "The lane: an ordering key (the event's `orderingKey`, else its first resource id), or \"\" for the endpoint's one lane",
});

export const LaneEntryOut = z
  .object({
    position: z
      .number()
      .int()
      .openapi({ description: "How many deliveries are ahead of it; 0: the lane's head" }),
    sequence: z.number().int().openapi({ description: "Its acceptance number in the organization" }),
    deliveryId: z.string(),
    state: z.enum(["in_flight", "retry_scheduled", "waiting"]).openapi({
      description:
        "`in_flight`: being sent; `retry_scheduled`: the head, waiting for its next attempt; `waiting`: behind it",
    }),
    at: z.string().nullable().openapi({
      description:
        "The head's next attempt (`retry_scheduled`), or when its attempt is given up for lost (`in_flight`)",
    }),
  })
  .openapi("LaneEntry");

const LaneOut = z
  .object({
    lane: LaneKey,
    length: z.number().int(),
    held: z
      .boolean()
      .openapi({ description: "The endpoint is disabled: nothing is sent until it is enabled" }),
    head: LaneEntryOut.nullable(),
  })
  .openapi("Lane");

export const toLaneEntryOut = (entry: LaneEntry): z.infer<typeof LaneEntryOut> => {
  const base = { position: entry.position, sequence: entry.sequence, deliveryId: entry.deliveryId };
  switch (entry.state) {
    case "in_flight":
      return { ...base, state: "in_flight", at: new Date(entry.until).toISOString() };
    case "due_at":
      return { ...base, state: "retry_scheduled", at: new Date(entry.at).toISOString() };
    case "waiting":
      return { ...base, state: "waiting", at: null };
  }
};

const limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(100)
  .default(50)
  .openapi({ description: "1..100, default 50" });

endpointLanes.openapi(
  createRoute({
    method: "get",
    path: "/{id}/lanes",
    operationId: "listEndpointLanes",
    tags: ["Endpoints"],
    summary: "The endpoint's ordered lanes that hold deliveries, in key order",
    security: [{ apiKey: [] }],
    request: {
      params: idParam("endpoint"),
      query: z.object({
        limit,
        cursor: LaneKey.optional().openapi({ description: "`nextCursor` of the previous page" }),
      }),
    },
    responses: {
      200: jsonContent(pageSchema(LaneOut, "LanePage"), "A page of lanes"),
      ...inputResponses,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const endpoint = await endpointOf(c, c.req.valid("param").id);
    const query = c.req.valid("query");
    // The endpoint lane's key is "", the lowest, so a first page starts below every key.
    const after = query.cursor ?? null;
    const lanes = await endpointHealth(c.env, endpoint.id).orderedLanes(after, query.limit + 1);
    const page = lanes.slice(0, query.limit);
    return c.json(
      {
        data: page.map((l) => ({ ...l, head: l.head && toLaneEntryOut(l.head) })),
        nextCursor: lanes.length > query.limit ? (page.at(-1)?.lane ?? null) : null,
      },
      200,
    );
  },
);

endpointLanes.openapi(
  createRoute({
    method: "get",
    path: "/{id}/lanes/queue",
    operationId: "getEndpointLane",
    tags: ["Endpoints"],
    summary: "One ordered lane's deliveries, in the order they will be sent",
    security: [{ apiKey: [] }],
    request: {
      params: idParam("endpoint"),
      query: z.object({ lane: LaneKey.default(""), limit }),
    },
    responses: {
      200: jsonContent(
        z.object({
          lane: LaneKey,
          length: z.number().int(),
          held: z.boolean(),
          data: z.array(LaneEntryOut),
        }),
        "The lane; empty when it holds nothing",
      ),
      ...inputResponses,
      ...notFoundResponse,
    },
  }),
  async (c) => {
    const endpoint = await endpointOf(c, c.req.valid("param").id);
    const { lane, limit: count } = c.req.valid("query");
    const queue = await endpointHealth(c.env, endpoint.id).orderedQueue(lane, count);
    return c.json(
      {
        lane,
        length: queue?.length ?? 0,
        held: queue?.held ?? false,
        data: (queue?.entries ?? []).map(toLaneEntryOut),
      },
      200,
    );
  },
);
