import { insertEvent, noteEventDeadLettered } from "../db/events";
import { dataOf } from "../db/shards";
import { answerEach, readMessages, sweepAfter } from "../lib/queue";
import { type EventMessage, isEventMessage } from "./message";

/**
 * The events' dead-letter consumer: fan-out kept failing (D1 unavailable for a long while, say). The
 * event is stored if it was not, and due for the sweeper, which sends it again after the grace
 * period, fewer and fewer times, until it gives up and marks it failed (sweeper/sweep.ts). Each
 * message on its own: one that cannot be written goes round again alone.
 */
export async function deadLetterEvents(batch: MessageBatch, env: Env): Promise<void> {
  const due = sweepAfter(Date.now());
  await answerEach(readMessages(batch, isEventMessage), async (body: EventMessage) => {
    const data = await dataOf(env, body.organizationId);
    if (body.event) {
      const { idempotency, ...event } = body.event;
      await insertEvent(data, event, { idempotency, sweepAfter: due });
    }
    await noteEventDeadLettered(data, body.organizationId, body.eventId, due).run();
  });
}
