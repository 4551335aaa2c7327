import { failDelivery } from "../db/deliveries";
import type { DeliveryMessage } from "./messages";

/**
 * The dead-letter consumer: a delivery whose consumer kept crashing past the queue's `max_retries`
 * is marked failed (and so recoverable), never left pending.
 */
export async function deadLetterBatch(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  const now = new Date().toISOString();
  await env.DB.batch(
    batch.messages.flatMap(({ body }) =>
      failDelivery(
        env.DB,
        {
          id: body.deliveryId,
          organizationId: body.organizationId,
          eventId: body.eventId,
          endpointId: body.endpointId,
          eventType: body.first?.eventType ?? "",
          content: null,
          attemptCount: 0,
          queueRetries: 0,
          replayOf: null,
          createdAt: now,
          stored: !body.first, // a first attempt may never have got a row
          attempts: [],
        },
        "dead_lettered: the consumer kept failing",
      ),
    ),
  );
  batch.ackAll();
}
