import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeliveryMessage } from "../../../src/domain/delivery";
import type { EventMessage } from "../../../src/events/message";
import worker from "../../../src/index";
import { SWEEP_GRACE_MS } from "../../../src/lib/queue";
import { MAX_EVENT_SWEEPS } from "../../../src/sweeper/sweep";
import {
  callOk,
  createEndpoint,
  createOrganization,
  eventually,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";
import { consume, publishCaptured } from "../../support/consumers";
import { batchOf, capturingQueue, databaseFailingWhen } from "../../support/faults";
import { fanOutOf, givenEndpoint } from "../../support/fixtures";

// One tenant's failure stays its own in the delivery path: a message, an organization or an endpoint
// that fails fails alone, and an accepted event is never dropped silently.

async function cronAt(scheduledTime: number, workerEnv: Env = env) {
  await worker.scheduled(createScheduledController({ scheduledTime }), workerEnv);
}

describe("one tenant's message fails alone", () => {
  it("acknowledges an unreadable message and delivers the rest of its batch", async () => {
    const b = await givenEndpoint();
    const { event, message } = await publishCaptured(b.org.id);
    const mixed = batchOf("webhook-events", ["{not json", { organizationId: 42 }, JSON.stringify(message)], {
      asText: false,
    });
    expect(await consume(mixed)).toEqual({ acked: 3, retried: 0 });
    const [delivery] = await settledDeliveries(b.org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
    expect(await fanOutOf(b.org, event.id)).toEqual({ status: "done", error: null });
  });

  it("reads message bodies an earlier version sent as objects", async () => {
    const b = await givenEndpoint();
    const { event, message } = await publishCaptured(b.org.id);
    expect(await consume(batchOf("webhook-events", [message], { asText: false }))).toEqual({
      acked: 1,
      retried: 0,
    });
    expect(await b.receiver.received()).toHaveLength(1);
    expect((await b.receiver.received())[0]?.headers["webhook-id"]).toBe(event.id);
  });

  it("retries only the events of the organization whose fan-out failed", async () => {
    const a = await givenEndpoint();
    const b = await givenEndpoint();
    const failing = await publishCaptured(a.org.id);
    const fine = await publishCaptured(b.org.id);
    // Organization A's endpoints cannot be read (say, a row D1 cannot return).
    const db = databaseFailingWhen(
      env.DB,
      (sql, params) => sql.includes("FROM endpoints") && params[0] === a.org.id,
    );

    const batch = batchOf("webhook-events", [failing.message, fine.message]);
    expect(await consume(batch, { ...env, DB: db })).toEqual({ acked: 1, retried: 1 });
    expect(await b.receiver.received()).toHaveLength(1);
    expect(await a.receiver.received()).toHaveLength(0);
    expect(await fanOutOf(b.org, fine.event.id)).toEqual({ status: "done", error: null });
    expect(await fanOutOf(a.org, failing.event.id)).toEqual({
      status: "pending",
      error: expect.stringContaining("injected"),
    });

    // The queue sends A's message again, and this time it goes through.
    expect(await consume(batchOf("webhook-events", [failing.message], { attempts: 2 }))).toEqual({
      acked: 1,
      retried: 0,
    });
    expect(await a.receiver.received()).toHaveLength(1);
    expect(await fanOutOf(a.org, failing.event.id)).toEqual({ status: "done", error: null });
  });

  it("retries only the deliveries of the endpoint whose run failed", async () => {
    const org = await createOrganization();
    const broken = receiverChannel();
    const working = receiverChannel();
    const { endpoint: x } = await createEndpoint(org.token, {
      url: broken.url,
      eventTypeFilters: ["matter.*"],
    });
    await createEndpoint(org.token, { url: working.url, eventTypeFilters: ["matter.*"] });
    const { message } = await publishCaptured(org.id);
    // Endpoint X's signing secrets cannot be read.
    const db = databaseFailingWhen(
      env.DB,
      (sql, params) => sql.includes("endpoint_secrets") && params[0] === x.id,
    );

    // Fan-out: the event goes round again for X; the other endpoint's delivery is made and recorded.
    expect(await consume(batchOf("webhook-events", [message]), { ...env, DB: db })).toEqual({
      acked: 0,
      retried: 1,
    });
    expect(await working.received()).toHaveLength(1);
    expect(await broken.received()).toHaveLength(0);
    await consume(batchOf("webhook-events", [message], { attempts: 2 }));
    expect(await broken.received()).toHaveLength(1);
    expect(await working.received()).toHaveLength(1); // recorded: not sent twice

    // The delivery consumer: two retries, one per endpoint; only X's goes round again.
    for (const receiver of [broken, working]) await receiver.script([{ status: 500 }, { status: 500 }]);
    const deliveries = capturingQueue<DeliveryMessage>();
    const second = await publishCaptured(org.id);
    await consume(batchOf("webhook-events", [second.message]), {
      ...env,
      DELIVERIES_QUEUE: deliveries.queue,
    });
    const retries = (
      await callOk("GET", `/webhooks/v1/deliveries?event_id=${second.event.id}`, 200, {
        token: org.token,
      })
    ).data.map((d: { id: string; endpointId: string; eventId: string }) => ({
      organizationId: org.id,
      deliveryId: d.id,
      endpointId: d.endpointId,
      eventId: d.eventId,
    }));
    expect(retries).toHaveLength(2);
    const result = await consume(batchOf("webhook-deliveries", retries), { ...env, DB: db });
    expect(result).toEqual({ acked: 1, retried: 1 });
    expect(await working.received()).toHaveLength(4); // one delivery, then two failed attempts and a retry
    expect(await broken.received()).toHaveLength(3);
  });
});

describe("an endpoint whose secret cannot be opened", () => {
  it("fails that endpoint's deliveries with the reason, and only them", async () => {
    const org = await createOrganization();
    const sealedOff = receiverChannel();
    const working = receiverChannel();
    const { endpoint: x } = await createEndpoint(org.token, {
      url: sealedOff.url,
      eventTypeFilters: ["matter.*"],
    });
    const { endpoint: y } = await createEndpoint(org.token, {
      url: working.url,
      eventTypeFilters: ["matter.*"],
    });
    // X's secret replaced by Y's ciphertext: sealed for another endpoint, so no key opens it as X's.
    await env.DB.prepare(
      "UPDATE endpoint_secrets SET ciphertext = (SELECT ciphertext FROM endpoint_secrets WHERE endpoint_id = ?) WHERE endpoint_id = ?",
    )
      .bind(y.id, x.id)
      .run();
    const { event, message } = await publishCaptured(org.id);
    expect(await consume(batchOf("webhook-events", [message]))).toEqual({ acked: 1, retried: 0 });

    const deliveries = await settledDeliveries(org.token, `event_id=${event.id}`, 2);
    expect(deliveries.find((d: { endpointId: string }) => d.endpointId === x.id)).toMatchObject({
      status: "failed",
      attemptCount: 0,
      lastError: `secret_unreadable: endpoint:${x.id}:signing-secret opens with no configured SECRETS_KEY`,
    });
    expect(deliveries.find((d: { endpointId: string }) => d.endpointId === y.id)).toMatchObject({
      status: "delivered",
    });
    expect(await sealedOff.received()).toHaveLength(0);
    expect(await working.received()).toHaveLength(1);
    expect(await fanOutOf(org, event.id)).toEqual({ status: "done", error: null });
  });
});

describe("an accepted event is never dropped silently", () => {
  it("stays pending and due until fan-out completes; the sweeper sends one whose message was lost", async () => {
    const b = await givenEndpoint();
    const { event } = await publishCaptured(b.org.id); // its message is never consumed
    expect(await fanOutOf(b.org, event.id)).toEqual({ status: "pending", error: null });

    await cronAt(Date.now() + SWEEP_GRACE_MS + 10_000);
    const [delivery] = await settledDeliveries(b.org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
    await eventually(async () => (await fanOutOf(b.org, event.id)).status === "done");
  });

  it("keeps a dead-lettered event due and says why; gives it up after MAX_EVENT_SWEEPS re-sends, visibly", async () => {
    const b = await givenEndpoint();
    const { event, message } = await publishCaptured(b.org.id);
    expect(await consume(batchOf("webhook-events-dlq", [message]))).toEqual({ acked: 1, retried: 0 });
    expect(await fanOutOf(b.org, event.id)).toEqual({
      status: "pending",
      error: "dead_lettered: fan-out kept failing",
    });

    // Every re-send is lost too: the sweeper tries MAX_EVENT_SWEEPS times, waiting longer each time.
    const lost = capturingQueue<EventMessage>();
    let at = Date.now() + SWEEP_GRACE_MS + 10_000;
    for (let sweep = 0; sweep <= MAX_EVENT_SWEEPS; sweep++) {
      await cronAt(at, { ...env, EVENTS_QUEUE: lost.queue });
      at += SWEEP_GRACE_MS * 2 ** (sweep + 1) + 10_000;
    }
    expect(lost.sent.filter((m) => m.eventId === event.id)).toHaveLength(MAX_EVENT_SWEEPS);
    expect(await fanOutOf(b.org, event.id)).toEqual({
      status: "failed",
      error: `fan-out did not complete after ${MAX_EVENT_SWEEPS} re-sends: dead_lettered: fan-out kept failing`,
    });
    // Given up: no further re-send.
    await cronAt(at + 86_400_000, { ...env, EVENTS_QUEUE: lost.queue });
    expect(lost.sent.filter((m) => m.eventId === event.id)).toHaveLength(MAX_EVENT_SWEEPS);
    expect(await b.receiver.received()).toHaveLength(0);

    // A copy of its message that does get through later still completes it.
    await consume(batchOf("webhook-events", [message]));
    expect(await b.receiver.received()).toHaveLength(1);
    expect(await fanOutOf(b.org, event.id)).toEqual({ status: "done", error: null });
  });
});
