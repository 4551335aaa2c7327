import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { fanOutEvent } from "../../../src/delivery/fan-out";
import type { DeliveryMessage } from "../../../src/delivery/messages";
import { publishEvent } from "../../../src/delivery/publish";
import worker from "../../../src/index";
import type { OrganizationId } from "../../../src/lib/ids";
import { SWEEP_GRACE_MS } from "../../../src/sweeper/sweep";
import {
  callOk,
  createEndpoint,
  createOrganization,
  eventually,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";
import { capturingQueue, databaseFailingOnBatch, failingQueue } from "../../support/faults";

const matter = { matterId: "m", name: "n" };

/** The cron trigger, run as if it fired once the sweeper's grace period has passed. */
async function runCronAfterGrace() {
  await worker.scheduled(
    createScheduledController({ scheduledTime: Date.now() + SWEEP_GRACE_MS + 1_000 }),
    env,
  );
}

/** Publishes with the events queue down: stored, never enqueued. */
async function publishWhileQueueDown(organizationId: string) {
  const { event } = await publishEvent(
    { ...env, EVENTS_QUEUE: failingQueue() },
    { organizationId: organizationId as OrganizationId, type: "matter.created", data: matter },
  );
  return event;
}

describe("nothing lost", () => {
  it("an event whose queue send failed is delivered after the sweep", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
    const event = await publishWhileQueueDown(org.id);
    const stored = await env.DB.prepare("SELECT fanned_out_at FROM events WHERE id = ?")
      .bind(event.id)
      .first();
    expect(stored).toEqual({ fanned_out_at: null });

    await runCronAfterGrace();
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
    expect((await receiver.received()).map((r) => r.headers["webhook-id"])).toEqual([event.id]);
  });

  it("deliveries whose queue messages were lost are delivered after the sweep", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
    const event = await publishWhileQueueDown(org.id);
    // Fan-out stores the deliveries, then cannot enqueue them.
    await expect(fanOutEvent({ ...env, DELIVERIES_QUEUE: failingQueue() }, event.id)).rejects.toThrow(
      /injected/,
    );
    const { data } = await callOk("GET", `/webhooks/v1/deliveries?event_id=${event.id}`, 200, {
      token: org.token,
    });
    expect(data).toMatchObject([{ status: "pending", attemptCount: 0 }]);

    await runCronAfterGrace();
    await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(await receiver.received()).toHaveLength(1);
  });

  it("a consumer that fails mid-batch: the queue redelivers, every delivery ends delivered, no attempt doubled", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
    const capture = capturingQueue();
    const events = [];
    for (let i = 0; i < 3; i++) {
      const event = await publishWhileQueueDown(org.id);
      await fanOutEvent({ ...env, DELIVERIES_QUEUE: capture.queue }, event.id);
      events.push(event);
    }
    expect(capture.sent).toHaveLength(3);

    // First run: D1 batches are the jobs read, the leases, then one write per delivery; the second
    // delivery's write fails after its HTTP attempt.
    const messages = capture.sent.map((body, i) => ({
      id: `m${i}`,
      timestamp: new Date(),
      attempts: 1,
      body,
    }));
    const first = createMessageBatch<DeliveryMessage>("webhook-deliveries", messages);
    const ctx = createExecutionContext();
    await worker.queue(first, { ...env, DB: databaseFailingOnBatch(env.DB, 4) });
    const result = await getQueueResult(first, ctx);
    expect(result.explicitAcks).toHaveLength(2);
    expect(result.retryMessages).toHaveLength(1);

    // The queue redelivers what was not acknowledged.
    const retried = messages
      .filter((m) => result.retryMessages.some((r) => r.msgId === m.id))
      .map((m) => ({ ...m, attempts: 2 }));
    const second = createMessageBatch<DeliveryMessage>("webhook-deliveries", retried);
    const ctx2 = createExecutionContext();
    await worker.queue(second, env);
    expect((await getQueueResult(second, ctx2)).explicitAcks).toHaveLength(1);

    const deliveries = await settledDeliveries(org.token, "", 3);
    expect(deliveries.map((d: { status: string }) => d.status)).toEqual([
      "delivered",
      "delivered",
      "delivered",
    ]);
    const seen = (await receiver.received()).map((r) => r.headers["webhook-id"]);
    for (const event of events) expect(seen).toContain(event.id);
    const attempts = await env.DB.prepare(
      "SELECT delivery_id, COUNT(*) AS n, MIN(number) AS first, MAX(number) AS last FROM attempts GROUP BY delivery_id",
    ).all<{ delivery_id: string; n: number; first: number; last: number }>();
    const mine = attempts.results.filter((a) =>
      deliveries.some((d: { id: string }) => d.id === a.delivery_id),
    );
    expect(mine).toHaveLength(3);
    for (const a of mine) expect(a).toMatchObject({ n: 1, first: 1, last: 1 });
  });

  it("a dead-lettered delivery ends failed with the reason, not pending", async () => {
    const org = await createOrganization();
    await createEndpoint(org.token, { url: receiverChannel().url, eventTypeFilters: ["matter.*"] });
    const capture = capturingQueue();
    const event = await publishWhileQueueDown(org.id);
    await fanOutEvent({ ...env, DELIVERIES_QUEUE: capture.queue }, event.id);

    const batch = createMessageBatch<DeliveryMessage>(
      "webhook-deliveries-dlq",
      capture.sent.map((body, i) => ({ id: `d${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
    const { data } = await callOk("GET", `/webhooks/v1/deliveries?event_id=${event.id}`, 200, {
      token: org.token,
    });
    expect(data).toMatchObject([{ status: "failed", lastError: expect.stringMatching(/^dead_lettered/) }]);
  });

  it("never lets two runs attempt the same delivery at once", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await receiver.script([{ hangMs: 500 }]);
    await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
    const capture = capturingQueue();
    const event = await publishWhileQueueDown(org.id);
    await fanOutEvent({ ...env, DELIVERIES_QUEUE: capture.queue }, event.id);
    const body = capture.sent[0] as DeliveryMessage;

    // The same delivery arrives twice at once (say, the sweeper re-sent a slow message).
    const runs = [0, 1].map((i) => {
      const batch = createMessageBatch<DeliveryMessage>("webhook-deliveries", [
        { id: `dup${i}`, timestamp: new Date(), attempts: 1, body },
      ]);
      const ctx = createExecutionContext();
      return { batch, ctx, done: worker.queue(batch, env) };
    });
    await Promise.all(runs.map((r) => r.done));
    const results = await Promise.all(runs.map((r) => getQueueResult(r.batch, r.ctx)));
    expect(results.map((r) => r.explicitAcks.length + r.retryMessages.length)).toEqual([1, 1]);
    expect(results.flatMap((r) => r.retryMessages)).toHaveLength(1);
    await eventually(async () => ((await receiver.received()).length === 1 ? true : undefined));
    expect(await receiver.received()).toHaveLength(1);
  });

  it("attempts a delivery once when its message is in the same batch twice", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
    const capture = capturingQueue();
    const event = await publishWhileQueueDown(org.id);
    await fanOutEvent({ ...env, DELIVERIES_QUEUE: capture.queue }, event.id);
    // Fan-out ran again (the sweeper re-sent an event whose fan-out was only slow): a second message.
    await fanOutEvent({ ...env, DELIVERIES_QUEUE: capture.queue }, event.id);
    expect(capture.sent).toHaveLength(2);

    const batch = createMessageBatch<DeliveryMessage>(
      "webhook-deliveries",
      capture.sent.map((body, i) => ({ id: `twice${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(2);
    expect(await receiver.received()).toHaveLength(1);
    const { data } = await callOk("GET", `/webhooks/v1/deliveries?event_id=${event.id}`, 200, {
      token: org.token,
    });
    expect(data).toMatchObject([{ status: "delivered", attemptCount: 1 }]);
  });
});
