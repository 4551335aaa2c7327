import { WorkerEntrypoint } from "cloudflare:workers";
import type { DeliveryMessage } from "../domain/delivery";
import { sendAll } from "../lib/queue";
import { deliverBatch } from "./intake";

/**
 * Where ordered lanes send their deliveries (src/ordering/): the endpoint's Durable Object calls this
 * entrypoint of the Worker itself (`exports.OrderedDelivery`, a loopback binding, no configuration),
 * so the next delivery of a lane goes out as soon as the one before settled, without a queue's batch
 * wait, in an invocation of its own (its own connections: one lane's slow receiver holds up no other
 * work). The run is the queue consumer's (intake.ts), on messages made here: what it would give back to
 * the queue (a run that failed, a delivery put off by the rate limit or handed to the slow lane) goes
 * to the deliveries queue, its turn in the lane still with it.
 */
export class OrderedDelivery extends WorkerEntrypoint<Env> {
  async deliver(bodies: DeliveryMessage[]): Promise<void> {
    const again: { body: DeliveryMessage; delaySeconds?: number }[] = [];
    const messages = bodies.map(
      (body): Message<DeliveryMessage> => ({
        id: `${body.deliveryId}:${body.ordered?.token ?? 0}`,
        timestamp: new Date(),
        attempts: 1,
        body,
        ack() {},
        retry(options?: QueueRetryOptions) {
          again.push({ body, delaySeconds: options?.delaySeconds });
        },
      }),
    );
    const batch: MessageBatch<DeliveryMessage> = {
      queue: "ordered-lanes",
      messages,
      metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } },
      ackAll() {},
      retryAll() {
        for (const body of bodies) again.push({ body });
      },
    };
    await deliverBatch(batch, this.env);
    // Lost if this fails too: the lane sends the delivery again when its lease ends.
    if (again.length > 0) await sendAll(this.env.DELIVERIES_QUEUE, again);
  }
}
