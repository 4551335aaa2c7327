import { findEventType } from "../catalog";
import type { EventRecord, EventResources } from "../db/events";
import { insertEvent } from "../db/events";
import { getOrganization } from "../db/organizations";
import { ServiceError } from "../lib/errors";
import { newEventId, type OrganizationId } from "../lib/ids";
import type { EventMessage } from "./messages";

export type PublishInput = {
  organizationId: OrganizationId;
  type: string;
  data: unknown;
  occurredAt?: string;
  resources?: EventResources;
};

/**
 * Validates an event against the catalog, stores it and enqueues it for fan-out: one D1 write and one
 * queue send whatever the fan-out. A failed send is not the publisher's problem: the event is stored,
 * and the sweeper re-enqueues events that were never fanned out.
 */
export async function publishEvent(env: Env, input: PublishInput): Promise<EventRecord> {
  const definition = findEventType(input.type);
  if (!definition) {
    throw new ServiceError("validation", `Unknown event type "${input.type}"`, [
      { path: "type", message: "is not in the event catalog (GET /webhooks/v1/event_types)" },
    ]);
  }
  const parsed = definition.schema.safeParse(input.data);
  if (!parsed.success) {
    throw new ServiceError(
      "validation",
      `data does not match the schema of ${input.type}`,
      parsed.error.issues.map((issue) => ({
        path: ["data", ...issue.path.map(String)].join("."),
        message: issue.message,
      })),
    );
  }
  if (!(await getOrganization(env.DB, input.organizationId))) {
    throw new ServiceError("validation", "Unknown organization", [
      { path: "organizationId", message: "no such organization" },
    ]);
  }

  const resources = { ...input.resources };
  const resource = definition.resource;
  const resourceId = resource && (parsed.data as Record<string, unknown>)[resource.idField];
  if (resource && resources[resource.name] === undefined && typeof resourceId === "string") {
    resources[resource.name] = resourceId;
  }

  const now = new Date().toISOString();
  const event: EventRecord = {
    id: newEventId(),
    organizationId: input.organizationId,
    type: input.type,
    data: input.data,
    resources,
    occurredAt: input.occurredAt ?? now,
    createdAt: now,
  };
  await insertEvent(env.DB, event);
  try {
    await env.EVENTS_QUEUE.send({ eventId: event.id } satisfies EventMessage);
  } catch (error) {
    console.error(
      JSON.stringify({
        message: "event enqueue failed; the sweeper will retry",
        eventId: event.id,
        error: String(error),
      }),
    );
  }
  return event;
}
