import { checkEventData } from "../catalog/validate";
import type { History } from "../db/buckets";
import { findEventByIdempotencyKey, getEvent, insertEvent, insertOrderedEvent } from "../db/events";
import { shardOf } from "../db/shards";
import type { EventRecord, EventResources, IdempotencyRecord, StoredEvent } from "../domain/event";
import { ServiceError } from "../lib/errors";
import { sha256Hex } from "../lib/hash";
import { newEventId, type OrganizationId } from "../lib/ids";
import { sendAll, sweepAfter, withIfFits } from "../lib/queue";
import { newTraceId, traceIdOf } from "../lib/trace";
import { isOrderedOrganization } from "../ordering/organizations";
import type { EventMessage } from "./message";

export type PublishInput = {
  organizationId: OrganizationId;
  type: string;
  data: unknown;
  occurredAt?: string;
  resources?: EventResources;
  /** The publisher's Idempotency-Key: a retry with the same request returns the first event. */
  idempotencyKey?: string;
  /**
   * What an endpoint with `ordering: "key"` keeps this event in order with (1–128 characters):
   * events of one key are delivered one after another, other keys in parallel (src/ordering/).
   */
  orderingKey?: string;
  /** The publisher's W3C `traceparent`: its trace is the event's; absent or malformed, a new one. */
  traceparent?: string;
};

/** The stored event, and whether it was stored by an earlier request with the same Idempotency-Key. */
export type Published = { event: StoredEvent; replayed: boolean };

/**
 * `direct`, given by a request that can keep working after it answers (`ctx.waitUntil`): for the
 * publishing organization, what makes an accepted event's first attempts from this invocation
 * (delivery/direct.ts), or undefined when its events go through the queue for now. With one, the
 * event is stored first and handed to it, not sent to the queue.
 */
export type PublishOptions = { direct?: DirectDelivery };

/** For an organization, what delivers its accepted event directly, or undefined: through the queue. */
export type DirectDelivery = (organizationId: OrganizationId) => ((event: EventRecord) => void) | undefined;

/**
 * Validates an event against the catalog, stores it and hands it on for fan-out: one D1 write and one
 * queue send (or, delivered directly, none) whatever the fan-out. The event is stored due for the sweeper,
 * which sends it again unless fan-out has marked it done by then: a send that fails, a message lost or
 * dead-lettered later, or an invocation that ends before its direct delivery, only delays it. When
 * the event fits in a queue message, storing may fail and the event still be accepted: the message
 * carries it, and fan-out stores it. An event too large for a message is stored first.
 */
export async function publishEvent(
  env: Env,
  input: PublishInput,
  { direct }: PublishOptions = {},
): Promise<Published> {
  const { definition, data } = checkEventData(input.type, input.data, { type: "type", data: "data" });
  const history = await dataOfPublisher(env, input.organizationId);

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
    traceId: traceIdOf(input.traceparent) ?? newTraceId(),
  };
  const idempotency = input.idempotencyKey
    ? { key: input.idempotencyKey, requestHash: await requestHash(input) }
    : undefined;
  if (idempotency) {
    const earlier = await earlierPublish(history, input.organizationId, idempotency);
    if (earlier) return earlier;
  }

  const deliver = direct?.(input.organizationId);
  let stored: Stored;
  if (await isOrderedOrganization(env, input.organizationId)) {
    stored = await storeNumbered(env, history, event, idempotency, input.orderingKey ?? null, !deliver);
  } else {
    const handOff: HandOff = {
      env,
      history,
      event,
      message: messageOf(event, idempotency),
      store: () => insertEvent(history, event, { idempotency, sweepAfter: sweepAfter(Date.now()) }),
    };
    stored = deliver ? await storeFirst(handOff) : await sendFirst(handOff);
  }
  if (stored) {
    if (stored === "stored" && deliver) deliver(event);
    return { event: { ...event, fanOut: { status: "pending", error: null } }, replayed: false };
  }
  // Another request with the same key stored its event first; fan-out drops our message, if sent.
  const earlier = idempotency && (await earlierPublish(history, input.organizationId, idempotency));
  if (!earlier) throw new Error(`event ${event.id} was not stored`);
  return earlier;
}

/** What storing and sending an accepted event need. */
type HandOff = {
  env: Env;
  history: History;
  event: EventRecord;
  /** The `webhook-events` message, carrying the event when it fits. */
  message: EventMessage;
  /** Stores the event, due for the sweeper; false: another event holds its Idempotency-Key. */
  store: () => Promise<boolean>;
};

/**
 * Accepted: "stored" here, or "carried" by a queue message (fan-out stores it); false: the
 * Idempotency-Key went to another event.
 */
type Stored = "stored" | "carried" | false;

/** For a direct delivery: stored first, so the sweeper answers for it; the queue only if storing fails. */
async function storeFirst({ env, message, store }: HandOff): Promise<Stored> {
  try {
    return (await store()) && "stored";
  } catch (error) {
    if (!message.event || !(await trySend(env, message))) throw error;
    logCarried(message);
    return "carried";
  }
}

/**
 * For an organization with an ordered endpoint: stored and numbered before anything else, with no
 * "the message carries it" fallback, since the number must exist before the publish is answered
 * (docs/architecture.md#ordered-lanes). Then sent (`send`: not delivered directly); a failed send is
 * the sweeper's, as for any stored event.
 */
async function storeNumbered(
  env: Env,
  history: History,
  event: EventRecord,
  idempotency: IdempotencyRecord | undefined,
  orderingKey: string | null,
  send: boolean,
): Promise<Stored> {
  const sweep = sweepAfter(Date.now());
  const sequence = await insertOrderedEvent(history, event, { idempotency, sweepAfter: sweep, orderingKey });
  if (sequence === null) return false;
  event.order = { sequence, key: orderingKey };
  if (send) await trySend(env, messageOf(event, idempotency));
  return "stored";
}

/** The `webhook-events` message of an accepted event, carrying the event when it fits. */
const messageOf = (event: EventRecord, idempotency: IdempotencyRecord | undefined): EventMessage =>
  withIfFits<EventMessage>(
    { organizationId: event.organizationId, eventId: event.id, traceId: event.traceId },
    { event: { ...event, idempotency } },
  );

/**
 * Through the queue: the send comes first and carries the event, so from then on it is safe even if
 * the write fails. An event too large for a message is stored first and sent after.
 */
async function sendFirst({ env, history, event, message, store }: HandOff): Promise<Stored> {
  if (!message.event) {
    const stored = await store();
    if (stored) await trySend(env, message);
    return stored && "stored";
  }
  const sent = await trySend(env, message);
  let stored: boolean;
  try {
    stored = await store();
  } catch (error) {
    if (!sent) throw error;
    logCarried(message);
    return "carried";
  }
  // Fan-out, quicker than this request, may have stored it from the message already.
  if (!stored && sent) stored = (await getEvent(history, event.organizationId, event.id)) !== null;
  return stored && "stored";
}

function logCarried(message: EventMessage): void {
  console.error(
    JSON.stringify({ message: "event store failed; fan-out will store it", eventId: message.eventId }),
  );
}

/** The shard of the publishing organization, which must exist. */
async function dataOfPublisher(env: Env, organizationId: OrganizationId): Promise<History> {
  const history = await shardOf(env, organizationId);
  if (!history) {
    throw new ServiceError("validation", "Unknown organization", [
      { path: "organizationId", message: "no such organization" },
    ]);
  }
  return history;
}

/**
 * Sends an event's message to `webhook-events`; false, logged, if the send failed: the event is
 * stored due for the sweeper, which sends it later.
 */
export async function trySend(env: Env, message: EventMessage): Promise<boolean> {
  try {
    await sendAll(env.EVENTS_QUEUE, [{ body: message }]);
    return true;
  } catch (error) {
    console.error(
      JSON.stringify({
        message: "event enqueue failed; the sweeper will retry",
        eventId: message.eventId,
        error: String(error),
      }),
    );
    return false;
  }
}

/** What identifies "the same request" under one Idempotency-Key. */
function requestHash(input: PublishInput): Promise<string> {
  const { type, data, occurredAt = null, resources = null, orderingKey } = input;
  // Without an ordering key, the hash of a request is what it was before ordering keys existed.
  return sha256Hex(
    JSON.stringify({ type, data, occurredAt, resources, ...(orderingKey && { orderingKey }) }),
  );
}

async function earlierPublish(
  history: History,
  organizationId: OrganizationId,
  idempotency: IdempotencyRecord,
): Promise<Published | null> {
  const earlier = await findEventByIdempotencyKey(history, organizationId, idempotency.key);
  if (!earlier) return null;
  if (earlier.requestHash !== idempotency.requestHash) {
    throw new ServiceError("conflict", "This Idempotency-Key was already used with a different request", [
      { path: "Idempotency-Key", message: `already used for event ${earlier.event.id}` },
    ]);
  }
  return { event: earlier.event, replayed: true };
}
