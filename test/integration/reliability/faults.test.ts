import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { ensureBuckets } from "../../../src/db/buckets";
import type { DeliveryMessage } from "../../../src/domain/delivery";
import type { EventMessage } from "../../../src/events/message";
import { publishEvent } from "../../../src/events/publish";
import worker from "../../../src/index";
import { type EventId, fanOutDeliveryId, type OrganizationId } from "../../../src/lib/ids";
import { SWEEP_GRACE_MS, sendAll } from "../../../src/lib/queue";
import { callOk, deliveryDetail, eventually, settledDeliveries } from "../../support/api";
import { consume, publishCaptured } from "../../support/consumers";
import {
  batchOf,
  capturingQueue,
  databaseFailingOnBatch,
  databaseFailingWhen,
  failingQueue,
  refuseDeliveryRow,
} from "../../support/faults";
import { givenEndpoint } from "../../support/fixtures";
import { countOnEveryShard, envWithDataDb, historyOfOrganization, rowTable } from "../../support/shards";

/** The event's `sweep_after`, where its row is. */
async function sweepAfterOf(organizationId: string, eventId: string) {
  const { db, table } = await rowTable(organizationId, "events", eventId);
  return db
    .prepare(`SELECT sweep_after FROM ${table} WHERE organization_id = ? AND id = ?`)
    .bind(organizationId, eventId)
    .first<string>("sweep_after");
}

const matter = { matterId: "m", name: "n" };

/** The cron trigger, run as if it fired once the sweeper's grace period (and a retry's delay) had passed. */
async function runCronAfterGrace() {
  await worker.scheduled(
    createScheduledController({ scheduledTime: Date.now() + SWEEP_GRACE_MS + 10_000 }),
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

/** A delivery left pending after its first run (two failed inline attempts), whose retry message was lost. */
async function pendingDeliveryWithLostRetry() {
  const { org, receiver } = await givenEndpoint({ script: [{ status: 500 }, { status: 500 }] });
  const { event, message } = await publishCaptured(org.id);
  await consume(batchOf("webhook-events", [message]), { ...env, DELIVERIES_QUEUE: failingQueue() });
  const [delivery] = (
    await callOk("GET", `/webhooks/v1/deliveries?event_id=${event.id}`, 200, { token: org.token })
  ).data;
  expect(delivery).toMatchObject({ status: "pending", attemptCount: 2 });
  return { org, receiver, event, delivery };
}

describe("nothing lost", () => {
  it("an event whose queue send failed is delivered after the sweep", async () => {
    const { org, receiver } = await givenEndpoint();
    const event = await publishWhileQueueDown(org.id);
    const stored = await sweepAfterOf(org.id, event.id);
    expect(stored).not.toBeNull();

    await runCronAfterGrace();
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
    expect((await receiver.received()).map((r) => r.headers["webhook-id"])).toEqual([event.id]);
  });

  it("an event whose message arrives before the publish request stored it is stored by fan-out", async () => {
    const { org, receiver } = await givenEndpoint();
    // The publish request sent its message, then could not write (D1 unavailable).
    const events = capturingQueue<EventMessage>();
    const failing = await envWithDataDb(org.id, (db) =>
      databaseFailingWhen(db, (sql) => sql.startsWith("INSERT INTO events")),
    );
    const { event: accepted } = await publishEvent(
      { ...failing, EVENTS_QUEUE: events.queue },
      { organizationId: org.id as OrganizationId, type: "matter.created", data: matter },
    );
    expect(await countOnEveryShard("events", "id = ?", accepted.id)).toBe(0);
    const [message] = events.sent as [EventMessage];
    expect(await consume(batchOf("webhook-events", [message]))).toEqual({ acked: 1, retried: 0 });

    const { event } = await callOk("GET", `/webhooks/v1/events/${message.eventId}`, 200, {
      token: org.token,
    });
    expect(event).toMatchObject({ id: message.eventId, type: "matter.created", data: matter });
    expect(await receiver.received()).toHaveLength(1);
  });

  it("an event whose fan-out kept failing is stored and sent again by the sweeper, not dropped", async () => {
    const { org, receiver } = await givenEndpoint();
    const { event, message } = await publishCaptured(org.id);
    // As if the publish request had not stored it either.
    const { db, table } = await rowTable(org.id, "events", event.id);
    await db
      .prepare(`DELETE FROM ${table} WHERE organization_id = ? AND id = ?`)
      .bind(org.id, event.id)
      .run();

    // Fan-out failed max_retries times: the message reaches the events' dead-letter queue.
    expect(await consume(batchOf("webhook-events-dlq", [message]))).toEqual({ acked: 1, retried: 0 });
    const stored = await sweepAfterOf(org.id, event.id);
    expect(stored).not.toBeNull();
    expect(await receiver.received()).toHaveLength(0);

    await runCronAfterGrace();
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
  });

  it("a pending delivery whose queue message was lost is delivered after the sweep", async () => {
    const { org, receiver, event, delivery } = await pendingDeliveryWithLostRetry();
    await runCronAfterGrace();
    const [settled] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(settled).toMatchObject({ id: delivery.id, status: "delivered", attemptCount: 3 });
    expect(await receiver.received()).toHaveLength(3);
  });

  it("a consumer that fails mid-batch: the queue redelivers, each delivery is made again and recorded once", async () => {
    const { org, receiver } = await givenEndpoint();
    const published = [];
    for (let i = 0; i < 3; i++) published.push(await publishCaptured(org.id));
    const messages = published.map((p) => p.message);

    // First run: its one D1 batch (the stored-events and stored-deliveries checks are single
    // statements) is the write of every attempt and delivery, which fails after the HTTP attempts were made.
    const first = await consume(
      batchOf("webhook-events", messages),
      await envWithDataDb(org.id, (db) => databaseFailingOnBatch(db, 1)),
    );
    expect(first).toEqual({ acked: 0, retried: 3 });
    expect(await receiver.received()).toHaveLength(3);
    expect((await callOk("GET", "/webhooks/v1/deliveries", 200, { token: org.token })).data).toEqual([]);

    // The queue redelivers the messages: nothing was recorded, so each delivery is made again.
    expect(await consume(batchOf("webhook-events", messages, { attempts: 2 }))).toEqual({
      acked: 3,
      retried: 0,
    });
    const deliveries = await settledDeliveries(org.token, "", 3);
    expect(deliveries.map((d: { status: string }) => d.status)).toEqual([
      "delivered",
      "delivered",
      "delivered",
    ]);
    const seen = (await receiver.received()).map((r) => r.headers["webhook-id"]).sort();
    expect(seen).toEqual(published.flatMap(({ event }) => [event.id, event.id]).sort());
    for (const delivery of deliveries) {
      const detail = await deliveryDetail(org.token, delivery.id);
      expect(detail.attempts.map((a: { number: number }) => a.number)).toEqual([1]);
    }
  });

  it("a first attempt whose run throws sends its event round again rather than losing it", async () => {
    const { org } = await givenEndpoint();
    const { event, message } = await publishCaptured(org.id);
    const broken = {
      writeDataPoint() {
        throw new Error("injected: analytics unavailable");
      },
    } as unknown as AnalyticsEngineDataset;

    const first = await consume(batchOf("webhook-events", [message]), { ...env, DELIVERY_ANALYTICS: broken });
    expect(first).toEqual({ acked: 0, retried: 1 });
    expect(await consume(batchOf("webhook-events", [message], { attempts: 2 }))).toEqual({
      acked: 1,
      retried: 0,
    });
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
  });

  it("a delivery whose consumer keeps failing is dead-lettered by the queue after max_retries, and ends failed", async () => {
    const { org, receiver, endpoint } = await givenEndpoint();
    const { event } = await publishCaptured(org.id); // not fanned out: the test hands its delivery on
    const handedOn: DeliveryMessage = {
      organizationId: org.id as OrganizationId,
      deliveryId: await fanOutDeliveryId(event.id as EventId, endpoint.id),
      endpointId: endpoint.id,
      eventId: event.id as EventId,
      first: { eventType: "matter.created" },
    };
    // D1 refuses to record it delivered: every run makes its attempt, then fails, and the message
    // goes round again, through the real local queue.
    await ensureBuckets(await historyOfOrganization(org.id), [handedOn.deliveryId]);
    const { db, table } = await rowTable(org.id, "deliveries", handedOn.deliveryId);
    const lift = await refuseDeliveryRow(db, table, handedOn.deliveryId);
    await sendAll(env.DELIVERIES_QUEUE, [{ body: handedOn }]);

    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1).finally(lift);
    expect(delivery).toMatchObject({
      id: handedOn.deliveryId,
      status: "failed",
      lastError: "dead_lettered: the consumer kept failing",
    });
    // One run per delivery of the message: the first, then max_retries more (wrangler.toml's).
    const maxRetries = inject("queueConsumers")["webhook-deliveries"]?.maxRetries ?? 0;
    expect(maxRetries).toBeGreaterThan(0);
    expect(await receiver.received()).toHaveLength(1 + maxRetries);
  });

  it("never lets two runs attempt the same delivery at once", async () => {
    const { org, receiver, delivery } = await pendingDeliveryWithLostRetry();
    await receiver.script([{ hangMs: 500 }]);
    const retry: DeliveryMessage = {
      organizationId: org.id as OrganizationId,
      deliveryId: delivery.id,
      endpointId: delivery.endpointId,
      eventId: delivery.eventId,
    };
    // The same retry arrives twice at once (say, the sweeper re-sent a slow message).
    const results = await Promise.all([0, 1].map(() => consume(batchOf("webhook-deliveries", [retry]))));
    expect(results.map((r) => r.acked + r.retried)).toEqual([1, 1]);
    expect(results.map((r) => r.retried).sort()).toEqual([0, 1]);
    await eventually(async () => ((await receiver.received()).length === 3 ? true : undefined));
    expect(await receiver.received()).toHaveLength(3); // two before, one now
  });

  it("attempts a delivery once when its event is in the same batch twice", async () => {
    const { org, receiver } = await givenEndpoint();
    const { event, message } = await publishCaptured(org.id);
    // The sweeper re-sent an event whose first message was only slow: both in one batch.
    expect(await consume(batchOf("webhook-events", [message, message]))).toEqual({ acked: 2, retried: 0 });
    expect(await receiver.received()).toHaveLength(1);
    // And a later copy finds the delivery made: no attempt.
    await consume(batchOf("webhook-events", [message]));
    expect(await receiver.received()).toHaveLength(1);
    const { data } = await callOk("GET", `/webhooks/v1/deliveries?event_id=${event.id}`, 200, {
      token: org.token,
    });
    expect(data).toMatchObject([{ status: "delivered", attemptCount: 1 }]);
  });
});
