import type { EventRecord, EventResources, IdempotencyRecord } from "../db/events";
import type { DeliveryId, EndpointId, EventId, OrganizationId } from "../lib/ids";

/**
 * Queue message bodies, and the queue names as wrangler.toml declares them: the queue handler
 * dispatches on `batch.queue`.
 */
export const QUEUES = {
  events: "webhook-events",
  eventsDeadLetter: "webhook-events-dlq",
  deliveries: "webhook-deliveries",
  deliveriesDeadLetter: "webhook-deliveries-dlq",
} as const;

/**
 * One per published event. It carries the event itself when that fits in a message, so fan-out reads
 * nothing and the event is safe from the moment the send returns (fan-out stores it if the publish
 * request could not). A larger event is stored first and read by fan-out.
 */
export type EventMessage = {
  organizationId: OrganizationId;
  eventId: EventId;
  event?: EventRecord & { idempotency?: IdempotencyRecord };
};

/** What a delivery's body is built from. */
export type EventContent = { data: unknown; resources: EventResources; occurredAt: string };

/**
 * One per delivery sent through the deliveries queue. A retry or a replay has a row, which the
 * consumer leases and reads. A first attempt that fan-out handed on (`first`) has no row yet; it
 * carries its event when that fits in a message.
 */
export type DeliveryMessage = {
  organizationId: OrganizationId;
  deliveryId: DeliveryId;
  endpointId: EndpointId;
  eventId: EventId;
  first?: { eventType: string; event?: EventContent };
};

/**
 * Work whose queue message was not consumed this long after it was due is presumed lost: rows that
 * wait for a message carry a `sweep_after` this far ahead, and the cron sweep re-sends them after it.
 */
export const SWEEP_GRACE_MS = 2 * 60_000;

export const sweepAfter = (dueMs: number) => new Date(dueMs + SWEEP_GRACE_MS).toISOString();

// Queues takes messages of up to 128 KB, and batches of up to 100 messages and 256 KB; a margin is
// left for the envelope the runtime adds.
const MESSAGE_BYTES_LIMIT = 120_000;
const BATCH_BYTES_LIMIT = 240_000;
export const QUEUE_SEND_BATCH_LIMIT = 100;

const byteLength = (body: unknown) => new TextEncoder().encode(JSON.stringify(body)).length;

/** `body` with `extra` added when the result still fits in one queue message. */
export function withIfFits<T extends object>(body: T, extra: Partial<T>): T {
  const fuller = { ...body, ...extra };
  return byteLength(fuller) <= MESSAGE_BYTES_LIMIT ? fuller : body;
}

/** Sends `messages` in as few `sendBatch` calls as Queues' count and size limits allow. */
export async function sendAll<T>(
  queue: Queue<T>,
  messages: readonly { body: T; delaySeconds?: number }[],
): Promise<void> {
  let batch: { body: T; delaySeconds?: number }[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = byteLength(message.body);
    if (batch.length === QUEUE_SEND_BATCH_LIMIT || (batch.length > 0 && bytes + size > BATCH_BYTES_LIMIT)) {
      await queue.sendBatch(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(message);
    bytes += size;
  }
  if (batch.length > 0) await queue.sendBatch(batch);
}
