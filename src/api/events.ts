import { createRoute, z } from "@hono/zod-openapi";
import type { EventRecord } from "../db/events";
import { publishEvent } from "../delivery/publish";
import type { OrganizationId } from "../lib/ids";
import { createRouter, errorResponses, jsonBody, jsonContent } from "./app";
import { adminAuth } from "./auth";

/** Publishing (DESIGN.md §3.2): the platform, holding the admin token, reports what happened. */
const EventIn = z
  .strictObject({
    organizationId: z.string().min(1).max(64),
    type: z.string().min(1).max(200).openapi({ example: "vault.ingest.completed" }),
    data: z
      .record(z.string(), z.unknown())
      .openapi({ description: "Must match the type's schema in the catalog" }),
    occurredAt: z.iso.datetime({ offset: true }).optional().openapi({ description: "Defaults to now" }),
    resources: z
      .record(z.string().min(1).max(100), z.string().min(1).max(200))
      .optional()
      .openapi({ description: 'Ids of the resources the event is about, e.g. `{vault: "vault_123"}`' }),
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
  })
  .openapi("Event");

export const toEventOut = (e: EventRecord): z.infer<typeof EventOut> => ({
  id: e.id,
  organizationId: e.organizationId,
  type: e.type,
  occurredAt: e.occurredAt,
  createdAt: e.createdAt,
  data: e.data,
  resources: e.resources,
});

export const events = createRouter();

events.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["Events"],
    summary: "Publish an event; it is fanned out to every matching endpoint of the organization",
    security: [{ adminToken: [] }],
    middleware: [adminAuth()] as const,
    request: { body: jsonBody(EventIn) },
    responses: { 202: jsonContent(z.object({ event: EventOut }), "Accepted"), ...errorResponses },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const event = await publishEvent(c.env, {
      ...body,
      organizationId: body.organizationId as OrganizationId,
      occurredAt: body.occurredAt ? new Date(body.occurredAt).toISOString() : undefined,
    });
    return c.json({ event: toEventOut(event) }, 202);
  },
);
