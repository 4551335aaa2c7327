import { checkEventData } from "../catalog/validate";
import type { EventRecord, EventResources } from "../db/events";
import { findEventByIdempotencyKey, type IdempotencyRecord, insertEvent } from "../db/events";
import { getOrganization } from "../db/organizations";
import { ServiceError } from "../lib/errors";
import { sha256Hex } from "../lib/hash";
import { newEventId, type OrganizationId } from "../lib/ids";
import type { EventMessage } from "./messages";

export type PublishInput = {
  organizationId: OrganizationId;
  type: string;
  data: unknown;
  occurredAt?: string;
  resources?: EventResources;
  /** The publisher's Idempotency-Key: a retry with the same request returns the first event. */
  idempotencyKey?: string;
};

/** The stored event, and whether it was stored by an earlier request with the same Idempotency-Key. */
export type Published = { event: EventRecord; replayed: boolean };

/**
 * Validates an event against the catalog, stores it and enqueues it for fan-out: one D1 write and one
 * queue send whatever the fan-out. A failed send is not the publisher's problem: the event is stored,
 * and the sweeper re-enqueues events that were never fanned out.
 */
export async function publishEvent(env: Env, input: PublishInput): Promise<Published> {
  const { definition, data } = checkEventData(input.type, input.data, { type: "type", data: "data" });
  if (!(await getOrganization(env.DB, input.organizationId))) {
    throw new ServiceError("validation", "Unknown organization", [
      { path: "organizationId", message: "no such organization" },
    ]);
  }

  const resources = { ...input.resources };
  const resource = definition.resource;
  const resourceId = resource && data[resource.idField];
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
  const idempotency = input.idempotencyKey
    ? { key: input.idempotencyKey, requestHash: await requestHash(input) }
    : undefined;
  if (idempotency) {
    const earlier = await earlierPublish(env, input.organizationId, idempotency);
    if (earlier) return earlier;
  }
  if (!(await insertEvent(env.DB, event, idempotency))) {
    // Another request with the same key stored its event between our look-up and our insert.
    const earlier = idempotency && (await earlierPublish(env, input.organizationId, idempotency));
    if (!earlier) throw new Error(`event ${event.id} was not stored`);
    return earlier;
  }
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
  return { event, replayed: false };
}

/** What identifies "the same request" under one Idempotency-Key. */
function requestHash(input: PublishInput): Promise<string> {
  const { type, data, occurredAt = null, resources = null } = input;
  return sha256Hex(JSON.stringify({ type, data, occurredAt, resources }));
}

async function earlierPublish(
  env: Env,
  organizationId: string,
  idempotency: IdempotencyRecord,
): Promise<Published | null> {
  const earlier = await findEventByIdempotencyKey(env.DB, organizationId, idempotency.key);
  if (!earlier) return null;
  if (earlier.requestHash !== idempotency.requestHash) {
    throw new ServiceError("conflict", "This Idempotency-Key was already used with a different request", [
      { path: "Idempotency-Key", message: `already used for event ${earlier.event.id}` },
    ]);
  }
  return { event: earlier.event, replayed: true };
}
