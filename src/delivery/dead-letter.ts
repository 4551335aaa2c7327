import { failDelivery } from "../db/deliveries/consumer";
import { dataOf } from "../db/shards";
import type { DeliveryMessage } from "../domain/delivery";
import { endpointHealth } from "../health/endpoint-health";
import { answerEach, readMessages } from "../lib/queue";
import { firstAttemptJob, isDeliveryMessage } from "./job";

/**
 * The deliveries' dead-letter consumer: a delivery whose consumer kept crashing past the queue's
 * `max_retries` is marked failed (and so recoverable), never left pending. Each message on its own.
 */
export async function deadLetterDeliveries(batch: MessageBatch, env: Env): Promise<void> {
  await answerEach(readMessages(batch, isDeliveryMessage), async (body: DeliveryMessage) => {
    const job = firstAttemptJob(body, body.first?.eventType ?? "", null);
    // A first attempt may never have got a row; a retry or replay has one.
    const data = await dataOf(env, body.organizationId);
    await data.db.batch(
      await failDelivery(data, { ...job, stored: !body.first }, "dead_lettered: the consumer kept failing"),
    );
    // Its ordered lane goes on now rather than when its lease ends.
    if (body.ordered) {
      await endpointHealth(env, body.endpointId).reportOrdered([
        { turn: body.ordered, outcome: { kind: "failed" } },
      ]);
    }
  });
}
