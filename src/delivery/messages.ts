import type { DeliveryId, EndpointId, EventId } from "../lib/ids";

/**
 * Queue message bodies, and the queue names as wrangler.toml declares them: the queue handler
 * dispatches on `batch.queue`.
 */
export const QUEUES = {
  events: "webhook-events",
  deliveries: "webhook-deliveries",
  deliveriesDeadLetter: "webhook-deliveries-dlq",
} as const;

/** One per published event; fan-out reads the event and the organization's endpoints. */
export type EventMessage = { eventId: EventId };

/** One per delivery; carries the endpoint so a batch is grouped by endpoint without a read. */
export type DeliveryMessage = { deliveryId: DeliveryId; endpointId: EndpointId };

/** Queues' `sendBatch` takes at most this many messages. */
export const QUEUE_SEND_BATCH_LIMIT = 100;

export async function enqueueDeliveries(queue: Queue, messages: DeliveryMessage[]): Promise<void> {
  for (let i = 0; i < messages.length; i += QUEUE_SEND_BATCH_LIMIT) {
    await queue.sendBatch(messages.slice(i, i + QUEUE_SEND_BATCH_LIMIT).map((body) => ({ body })));
  }
}
