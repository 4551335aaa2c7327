import { failDelivery } from "../db/deliveries";
import { insertEvent, noteEventDeadLettered } from "../db/events";
import { firstAttemptJob } from "./deliver";
import {
  type DeliveryMessage,
  type EventMessage,
  isDeliveryMessage,
  isEventMessage,
  type Received,
  readMessages,
  sweepAfter,
} from "./messages";

/**
 * The events' dead-letter consumer: fan-out kept failing (D1 unavailable for a long while, say). The
 * event is stored if it was not, and due for the sweeper, which sends it again after the grace
 * period, fewer and fewer times, until it gives up and marks it failed (sweeper/sweep.ts). Each
 * message on its own: one that cannot be written goes round again alone.
 */
export async function deadLetterEvents(batch: MessageBatch, env: Env): Promise<void> {
  const due = sweepAfter(Date.now());
  await eachMessage(readMessages(batch, isEventMessage), async (body: EventMessage) => {
    if (body.event) {
      const { idempotency, ...event } = body.event;
      await insertEvent(env.DB, event, { idempotency, sweepAfter: due });
    }
    await noteEventDeadLettered(env.DB, body.organizationId, body.eventId, due).run();
  });
}

/**
 * The deliveries' dead-letter consumer: a delivery whose consumer kept crashing past the queue's
 * `max_retries` is marked failed (and so recoverable), never left pending.
 */
export async function deadLetterDeliveries(batch: MessageBatch, env: Env): Promise<void> {
  await eachMessage(readMessages(batch, isDeliveryMessage), async (body: DeliveryMessage) => {
    const job = firstAttemptJob(body, body.first?.eventType ?? "", null);
    // A first attempt may never have got a row; a retry or replay has one.
    await env.DB.batch(
      failDelivery(env.DB, { ...job, stored: !body.first }, "dead_lettered: the consumer kept failing"),
    );
  });
}

/** Dead letters are few: each is written on its own, acknowledged once written, else retried. */
async function eachMessage<T>(received: Received<T>[], write: (body: T) => Promise<void>): Promise<void> {
  for (const { message, body } of received) {
    try {
      await write(body);
      message.ack();
    } catch (error) {
      console.error(
        JSON.stringify({ message: "dead letter not written", messageId: message.id, error: String(error) }),
      );
      message.retry();
    }
  }
}
