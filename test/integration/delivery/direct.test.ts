import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { Publisher } from "../../../src/api/rpc";
import { DIRECT_RUNNING } from "../../../src/delivery/direct-pace";
import type { EventMessage } from "../../../src/events/message";
import { publishEvent } from "../../../src/events/publish";
import worker from "../../../src/index";
import type { OrganizationId } from "../../../src/lib/ids";
import { SWEEP_GRACE_MS } from "../../../src/lib/queue";
import { ADMIN_TOKEN, deliveryDetail, settledDeliveries } from "../../support/api";
import { consume } from "../../support/consumers";
import { batchOf, capturingQueue, databaseFailingWhen } from "../../support/faults";
import { fanOutOf, givenEndpoint, matter, type Organization } from "../../support/fixtures";
import { envWithDataDb } from "../../support/shards";

// First attempts from the publish's own invocation (src/delivery/direct.ts): each test publishes with
// the events queue captured, so whatever goes through the queue is seen, and nothing is consumed
// unless the test hands it on.

/** Publishes through the Worker's fetch handler with `workerEnv`, and waits for what it left to waitUntil. */
async function publishWith(workerEnv: Env, org: Organization, headers: Record<string, string> = {}) {
  const { event, ctx } = await publishAnswered(workerEnv, org, headers);
  await waitOnExecutionContext(ctx);
  return event;
}

/** Publishes as publishWith does, and returns once answered, what it left to waitUntil still running. */
async function publishAnswered(workerEnv: Env, org: Organization, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request("https://webhooks.test/webhooks/v1/events", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json", ...headers },
      body: JSON.stringify({ organizationId: org.id, type: "matter.created", data: matter }),
    }),
    workerEnv,
    ctx,
  );
  expect(response.status).toBe(202);
  const { event } = await response.json<{ event: { id: string } }>();
  return { event, ctx };
}

describe("first attempts from the publish's invocation", () => {
  it("delivers an event matching few endpoints without the events queue, signed and recorded", async () => {
    const { org, receiver, signingSecret } = await givenEndpoint();
    const events = capturingQueue<EventMessage>();
    const event = await publishWith({ ...env, EVENTS_QUEUE: events.queue }, org);

    expect(events.sent).toEqual([]);
    const [request] = await receiver.received();
    expect(request).toBeDefined();
    const verified = new Webhook(signingSecret).verify(request?.body as string, request?.headers ?? {});
    expect(verified).toMatchObject({ id: event.id, type: "matter.created", data: matter });
    expect(await fanOutOf(org, event.id)).toEqual({ status: "done", error: null });
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
    const detail = await deliveryDetail(org.token, delivery.id);
    expect(detail.attempts.map((a: { trigger: string }) => a.trigger)).toEqual(["initial"]);
  });

  it("delivers once when the same Idempotency-Key is published concurrently", async () => {
    const { org, receiver } = await givenEndpoint();
    const events = capturingQueue<EventMessage>();
    const published = await Promise.all(
      Array.from({ length: 5 }, () =>
        publishWith({ ...env, EVENTS_QUEUE: events.queue }, org, { "idempotency-key": "direct-race" }),
      ),
    );
    expect(new Set(published.map((e) => e.id)).size).toBe(1);
    expect(events.sent).toEqual([]);
    expect(await receiver.received()).toHaveLength(1);
  });

  it("sends an event matching more than DIRECT_FAN_OUT_MAX endpoints to the queue, attempting none", async () => {
    const first = await givenEndpoint();
    const others = [await givenEndpoint({ org: first.org }), await givenEndpoint({ org: first.org })];
    const events = capturingQueue<EventMessage>();
    const event = await publishWith(
      { ...env, EVENTS_QUEUE: events.queue, DIRECT_FAN_OUT_MAX: "2" },
      first.org,
    );

    expect(events.sent).toEqual([expect.objectContaining({ eventId: event.id, event: expect.anything() })]);
    for (const { receiver } of [first, ...others]) expect(await receiver.received()).toHaveLength(0);
    await consume(batchOf("webhook-events", events.sent));
    const settled = await settledDeliveries(first.org.token, `event_id=${event.id}`, 3);
    expect(settled.map((d: { status: string }) => d.status)).toEqual(["delivered", "delivered", "delivered"]);
  });

  it("batches an organization's events through the queue while DIRECT_RUNNING of its direct fan-outs run", async () => {
    const busy = await givenEndpoint({ fallback: { status: 200, hangMs: 700 } });
    const other = await givenEndpoint();
    const events = capturingQueue<EventMessage>();
    const workerEnv = { ...env, EVENTS_QUEUE: events.queue };
    const running = [];
    for (let i = 0; i < DIRECT_RUNNING; i++) running.push(await publishAnswered(workerEnv, busy.org));
    const batched = await publishAnswered(workerEnv, busy.org);
    // Another organization's events still go direct meanwhile.
    const sparse = await publishAnswered(workerEnv, other.org);
    await Promise.all([...running, batched, sparse].map(({ ctx }) => waitOnExecutionContext(ctx)));

    expect(events.sent.map((m) => m.eventId)).toEqual([batched.event.id]);
    expect(await busy.receiver.received()).toHaveLength(DIRECT_RUNNING);
    expect(await other.receiver.received()).toHaveLength(1);
    // Once they have ended, the organization's next event goes direct again.
    await publishWith(workerEnv, busy.org);
    expect(events.sent).toHaveLength(1);
    expect(await busy.receiver.received()).toHaveLength(DIRECT_RUNNING + 1);
  });

  it("goes through the queue for every event when DIRECT_FAN_OUT_MAX is 0", async () => {
    const { org, receiver } = await givenEndpoint();
    const events = capturingQueue<EventMessage>();
    const event = await publishWith({ ...env, EVENTS_QUEUE: events.queue, DIRECT_FAN_OUT_MAX: "0" }, org);
    expect(events.sent.map((m) => m.eventId)).toEqual([event.id]);
    expect(await receiver.received()).toHaveLength(0);
  });

  it("hands the event to the queue when its direct fan-out fails", async () => {
    const { org, receiver } = await givenEndpoint();
    const events = capturingQueue<EventMessage>();
    const subscriptionsFail = databaseFailingWhen(env.DB, (sql) => sql.includes("event_type_filters"));
    const event = await publishWith({ ...env, DB: subscriptionsFail, EVENTS_QUEUE: events.queue }, org);

    expect(await receiver.received()).toHaveLength(0);
    expect(events.sent).toEqual([expect.objectContaining({ eventId: event.id, event: expect.anything() })]);
    await consume(batchOf("webhook-events", events.sent));
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
    expect(await receiver.received()).toHaveLength(1);
  });

  it("leaves an event whose invocation ended before its delivery due for the sweeper", async () => {
    const { org, receiver } = await givenEndpoint();
    const events = capturingQueue<EventMessage>();
    const { event } = await publishEvent(
      { ...env, EVENTS_QUEUE: events.queue },
      { organizationId: org.id as OrganizationId, type: "matter.created", data: matter },
      { direct: () => () => {} }, // the invocation was cut short: nothing ran
    );
    expect(events.sent).toEqual([]);
    expect(await fanOutOf(org, event.id)).toEqual({ status: "pending", error: null });

    const swept = capturingQueue<EventMessage>();
    const at = Date.now() + SWEEP_GRACE_MS + 10_000;
    await worker.scheduled(createScheduledController({ scheduledTime: at }), {
      ...env,
      EVENTS_QUEUE: swept.queue,
    });
    expect(swept.sent.map((m) => m.eventId)).toContain(event.id);
    await consume(
      batchOf(
        "webhook-events",
        swept.sent.filter((m) => m.eventId === event.id),
      ),
    );
    expect(await receiver.received()).toHaveLength(1);
    expect(await fanOutOf(org, event.id)).toEqual({ status: "done", error: null });
  });

  it("accepts an event it could not store when the queue carries it, and delivers it from there", async () => {
    const { org, receiver } = await givenEndpoint();
    const events = capturingQueue<EventMessage>();
    const insertsFail = await envWithDataDb(org.id, (db) =>
      databaseFailingWhen(db, (sql) => /^\s*INSERT INTO events/i.test(sql)),
    );
    const event = await publishWith({ ...insertsFail, EVENTS_QUEUE: events.queue }, org);

    expect(await receiver.received()).toHaveLength(0);
    expect(events.sent).toEqual([expect.objectContaining({ eventId: event.id, event: expect.anything() })]);
    await consume(batchOf("webhook-events", events.sent));
    expect(await receiver.received()).toHaveLength(1);
    expect(await fanOutOf(org, event.id)).toEqual({ status: "done", error: null });
  });

  it("delivers an RPC publish from its invocation too", async () => {
    const { org, receiver } = await givenEndpoint();
    const events = capturingQueue<EventMessage>();
    const ctx = createExecutionContext();
    const publisher = new Publisher(ctx, { ...env, EVENTS_QUEUE: events.queue });
    const result = await publisher.publish({ organizationId: org.id, type: "matter.created", data: matter });
    await waitOnExecutionContext(ctx);
    expect(result.ok).toBe(true);
    expect(events.sent).toEqual([]);
    expect(await receiver.received()).toHaveLength(1);
  });
});
