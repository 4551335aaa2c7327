import { createRoute, z } from "@hono/zod-openapi";
import { describeEventTypes } from "../catalog";
import { STABILITIES } from "../catalog/define";
import { authResponses, createRouter, jsonContent } from "./app";
import { apiKeyAuth } from "./auth";

/** The catalog (docs/architecture.md#catalog): what an endpoint can subscribe to, with each type's JSON Schema. */
const EventTypeOut = z
  .object({
    type: z.string(),
    description: z.string(),
    scope: z.string(),
    stability: z.enum(STABILITIES),
    resource: z.string().optional(),
    schema: z.unknown().openapi({ description: "JSON Schema of the event's data" }),
    example: z.record(z.string(), z.unknown()),
  })
  .openapi("EventType");

export const eventTypes = createRouter();
eventTypes.use("*", apiKeyAuth());

eventTypes.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listEventTypes",
    tags: ["Event types"],
    summary: "List the event catalog",
    security: [{ apiKey: [] }],
    responses: {
      200: jsonContent(z.object({ data: z.array(EventTypeOut) }), "The catalog"),
      ...authResponses,
    },
  }),
  (c) => c.json({ data: describeEventTypes() }, 200),
);
