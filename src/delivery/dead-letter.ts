import { failDelivery } from "../db/deliveries";
import { insertEvent, markEventForSweep } from "../db/events";
import { firstAttemptJob } from "./deliver";
import { type DeliveryMessage, type EventMessage, sweepAfter } from "./messages";

/**
 * The events' dead-letter consumer: fan-out kept failing (D1 unavailable for a long while, say). The
 * event is stored if it was not, and marked for the sweeper, which sends it again after the grace
 * period, and again on later runs while it keeps failing: an event is never dropped.
 */
export async function deadLetterEvents(batch: MessageBatch<EventMessage>, env: Env): Promise<void> {
  const at = sweepAfter(Date.now());
  for (const { body } of batch.messages) {
    if (body.event) {
      const { idempotency, ...event } = body.event;
      await insertEvent(env.DB, event, { idempotency, sweepAfter: at });
    }
    await markEventForSweep(env.DB, body.organizationId, body.eventId, at).run();
  }
  batch.ackAll();
}

/**
 * The deliveries' dead-letter consumer: a delivery whose consumer kept crashing past the queue's `max_retries`
 * is marked failed (and so recoverable), never left pending.
 */
export async function deadLetterDeliveries(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  await env.DB.batch(
    batch.messages.flatMap(({ body }) => {
      const job = firstAttemptJob(body, body.first?.eventType ?? "", null);
      // A first attempt may never have got a row; a retry or replay has one.
      return failDelivery(
        env.DB,
        { ...job, stored: !body.first },
        "dead_lettered: the consumer kept failing",
      );
    }),
  );
  batch.ackAll();
}
