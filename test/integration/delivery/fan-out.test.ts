import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fanOut } from "../../../src/delivery/fan-out";
import type { DeliveryMessage } from "../../../src/domain/delivery";
import { type EventId, fanOutDeliveryId, newEndpointId } from "../../../src/lib/ids";
import {
  createEndpoint,
  createOrganization,
  deliveryDetail,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";
import { consume, publishCaptured } from "../../support/consumers";
import { recordingDatabase } from "../../support/d1-recorder";
import { batchOf, capturingQueue } from "../../support/faults";
import { givenEndpoint } from "../../support/fixtures";

/**
 * `count` active endpoints of the organization subscribed to `filter`, written in one statement (the
 * API would take a request each), at URLs nothing answers. Returns their ids.
 */
async function inertEndpoints(organizationId: string, count: number, filter: string): Promise<string[]> {
  const ids = Array.from({ length: count }, () => newEndpointId());
  const now = new Date().toISOString();
  await env.DB.prepare(
    `INSERT INTO endpoints (id, organization_id, url, description, event_type_filters, allowed_scopes,
       resource_scopes, status, signature_scheme, payload_format, headers, created_at, updated_at)
     SELECT value, ?1, 'https://inert.example.com/' || value, '', ?2, '["*"]', '{}', 'active',
       'standard', 'full', '{}', ?3, ?3 FROM json_each(?4)`,
  )
    .bind(organizationId, JSON.stringify([filter]), now, JSON.stringify(ids))
    .run();
  return ids;
}

describe("fan-out", () => {
  afterEach(() => vi.restoreAllMocks());

  it("makes first attempts itself up to its limit and hands the rest to the deliveries queue", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    for (let i = 0; i < 3; i++) {
      await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
    }
    const { event, message } = await publishCaptured(org.id, "matter.created", { matterId: "m", name: "n" });
    const deliveries = capturingQueue<DeliveryMessage>();
    await fanOut({ ...env, DELIVERIES_QUEUE: deliveries.queue }, [message], 1);
    expect(await receiver.received()).toHaveLength(1);
    expect(deliveries.sent).toHaveLength(2);
    expect(deliveries.sent.every((m) => m.first?.event?.occurredAt === event.occurredAt)).toBe(true);

    await consume(batchOf("webhook-deliveries", deliveries.sent));
    const settled = await settledDeliveries(org.token, `event_id=${event.id}`, 3);
    expect(settled.map((d: { status: string }) => d.status)).toEqual(["delivered", "delivered", "delivered"]);
    expect(await receiver.received()).toHaveLength(3);
  });

  it("logs the deliveries a run made to one endpoint in one line, each by id", async () => {
    const logged: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      if (typeof line === "string") logged.push(line);
    });
    const { org, endpoint, receiver, published, messages } = await eventsToOneEndpoint(3);
    await fanOut(env, messages);
    expect(await receiver.received()).toHaveLength(3);
    const lines = logged.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
    expect(lines.filter((line) => line.message === "delivery attempt")).toEqual([]);
    const summaries = lines.filter((line) => line.message === "deliveries delivered");
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ endpointId: endpoint.id, organizationId: org.id, count: 3 });
    expect(summaries[0].deliveries.map((d: { eventId: string }) => d.eventId).sort()).toEqual(
      published.map((p) => p.event.id).sort(),
    );
  });

  it("hands on every pair of a fan-out larger than a slice of ids, each once, under its derived id", async () => {
    const org = await createOrganization();
    // 1,200 matching endpoints: the ids are derived in two slices, the messages sent in twelve batches.
    const endpointIds = await inertEndpoints(org.id, 1200, "matter.*");
    const { event, message } = await publishCaptured(org.id, "matter.created", { matterId: "m", name: "n" });
    const deliveries = capturingQueue<DeliveryMessage>();
    expect(await fanOut({ ...env, DELIVERIES_QUEUE: deliveries.queue }, [message], 0)).toEqual(new Set());

    expect(deliveries.sent.map((m) => m.endpointId).sort()).toEqual([...endpointIds].sort());
    const derived = await Promise.all(
      deliveries.sent.map((m) => fanOutDeliveryId(event.id as EventId, m.endpointId)),
    );
    expect(deliveries.sent.map((m) => m.deliveryId)).toEqual(derived);
  });

  it("reads an event too large to ride in its queue message from D1", async () => {
    const { org, receiver, signingSecret } = await givenEndpoint({ filters: ["webhook.test"] });
    const data = { blob: "x".repeat(130_000) };
    const { event, message } = await publishCaptured(org.id, "webhook.test", data);
    // Ids and the event's trace only: the event itself does not fit.
    expect(message).toEqual({ organizationId: org.id, eventId: event.id, traceId: expect.any(String) });

    await consume(batchOf("webhook-events", [message]));
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
    const [request] = await receiver.received();
    const body = new Webhook(signingSecret).verify(request?.body ?? "", request?.headers ?? {});
    expect(body).toMatchObject({ id: event.id, data });
    // Read back from D1, the event is still in the trace its message named.
    expect(request?.headers.traceparent?.slice(3, 35)).toBe((message as { traceId: string }).traceId);
  });
});

/** An organization with one endpoint and `count` events for it, published but not yet fanned out. */
async function eventsToOneEndpoint(count: number) {
  const { org, receiver, endpoint } = await givenEndpoint();
  const published = [];
  for (let i = 0; i < count; i++) {
    published.push(await publishCaptured(org.id, "matter.created", { matterId: `m${i}`, name: "n" }));
  }
  return { org, endpoint, receiver, published, messages: published.map((p) => p.message) };
}

describe("outgoing connections", () => {
  it("keeps five attempts in flight per run (a sixth connection for its own calls), each timed from its start, and hands on what it could not start in time", async () => {
    const { org, receiver, messages } = await eventsToOneEndpoint(30);
    await receiver.script([], { status: 200, hangMs: 1_000 });

    // Five at a time, a second each: the run starts what it can within its budget (twice
    // DELIVERY_TIMEOUT_MS, 3 s in tests) and hands the rest on, none attempted.
    const deliveries = capturingQueue<DeliveryMessage>();
    await fanOut({ ...env, DELIVERIES_QUEUE: deliveries.queue }, messages);
    const arrivals = (await receiver.received()).map((r) => r.receivedAt).sort((a, b) => a - b);
    const mostTogether = Math.max(
      ...arrivals.map((t) => arrivals.filter((u) => u >= t && u < t + 900).length),
    );
    expect(mostTogether).toBeLessThanOrEqual(5);
    // At least a second wave started, and the budget stopped the run before all 30 had.
    expect(arrivals.length).toBeGreaterThan(5);
    expect(arrivals.length).toBeLessThan(30);
    expect(deliveries.sent).toHaveLength(30 - arrivals.length);
    for (const handedOn of deliveries.sent) expect(handedOn.first?.event).toBeDefined();

    await consume(batchOf("webhook-deliveries", deliveries.sent));
    const settled = await settledDeliveries(org.token, "", 30);
    expect(settled).toHaveLength(30);
    for (const delivery of settled) {
      expect(delivery.status).toBe("delivered");
      const { attempts } = await deliveryDetail(org.token, delivery.id);
      expect(attempts).toMatchObject([{ statusCode: 200 }]);
      // Timed from its start, not from when it began to wait for a connection: a delivery of a later
      // wave waited a whole second (a hanging answer) before it started, and would show 2 s or more.
      // Over 1.5 s (the timeout in tests) it would not have been a 200 at all.
      expect(attempts[0].durationMs).toBeGreaterThanOrEqual(1_000);
      expect(attempts[0].durationMs).toBeLessThan(2_000);
    }
  });

  it("gives back the lease of a retry it could not start in time, so the message it hands on runs at once", async () => {
    const { org, receiver, messages } = await eventsToOneEndpoint(30);
    await receiver.script([], { status: 500 });
    const retries = capturingQueue<DeliveryMessage>();
    await fanOut({ ...env, DELIVERIES_QUEUE: retries.queue }, messages);
    expect(retries.sent).toHaveLength(30);

    await receiver.script([], { status: 200, hangMs: 1_000 });
    const handedOn = capturingQueue<DeliveryMessage>();
    const deliveriesBatch = (bodies: DeliveryMessage[]) => batchOf("webhook-deliveries", bodies);
    await consume(deliveriesBatch(retries.sent), { ...env, DELIVERIES_QUEUE: handedOn.queue });
    expect(handedOn.sent.length).toBeGreaterThan(0);
    expect(handedOn.sent.every((m) => m.first === undefined)).toBe(true);

    await consume(deliveriesBatch(handedOn.sent));
    const settled = await settledDeliveries(org.token, "", 30);
    expect(settled.map((d: { status: string }) => d.status)).toEqual(Array(30).fill("delivered"));
    for (const delivery of settled) {
      const { attempts } = await deliveryDetail(org.token, delivery.id);
      expect(attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 200]);
    }
  });

  it("reads 2,000 endpoints of one organization a page at a time, and only the matched ones whole", async () => {
    const org = await createOrganization();
    const receivers: ReturnType<typeof receiverChannel>[] = [];
    // Four stretches of 500 endpoints in id order, each with two that match and 498 that do not.
    for (let stretch = 0; stretch < 4; stretch++) {
      for (let i = 0; i < 2; i++) {
        const receiver = receiverChannel();
        await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
        receivers.push(receiver);
      }
      await inertEndpoints(org.id, 498, "vault.*");
    }
    const { message } = await publishCaptured(org.id, "matter.created", { matterId: "m", name: "n" });
    const recorded = recordingDatabase(env.DB);
    expect(await fanOut({ ...env, DB: recorded.db }, [message])).toEqual(new Set());

    for (const receiver of receivers) expect(await receiver.received()).toHaveLength(1);
    const reads = recorded.statements.filter((s) => /FROM endpoints/.test(s.sql));
    const pages = reads.filter((s) => s.sql.includes("SELECT id, event_type_filters, allowed_scopes"));
    expect(pages.map((s) => s.rows)).toEqual([500, 500, 500, 500, 0]);
    const settings = reads.filter((s) => !pages.includes(s));
    expect(settings.map((s) => s.rows)).toEqual([receivers.length]);
    expect(reads.every((s) => !/SELECT \*/.test(s.sql))).toBe(true);
  });
});
