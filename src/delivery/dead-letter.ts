import { failPendingDelivery } from "../db/deliveries";
import type { DeliveryMessage } from "./messages";

/**
 * The dead-letter consumer: a delivery whose consumer kept crashing past the queue's `max_retries`
 * is marked failed (and so recoverable), never left pending.
 */
export async function deadLetterBatch(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  await env.DB.batch(
    batch.messages.map((m) =>
      failPendingDelivery(env.DB, m.body.deliveryId, "dead_lettered: the consumer kept failing"),
    ),
  );
  batch.ackAll();
}
