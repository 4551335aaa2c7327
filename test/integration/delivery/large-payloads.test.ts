import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import type { DeliveryMessage } from "../../../src/domain/delivery";
import { callOk, eventually, publish, settledDeliveries } from "../../support/api";
import { consume, publishCaptured } from "../../support/consumers";
import { batchOf, capturingQueue } from "../../support/faults";
import { givenEndpoint, matter, publishSettled } from "../../support/fixtures";
import { rowTable } from "../../support/shards";

/**
 * Event data above PAYLOAD_IN_R2_BYTES (8,192 here, as wrangler.toml ships) is kept in R2, its row
 * keeping the key (src/db/payloads.ts); smaller data stays in the row.
 */
const large = { matterId: "matter_large", name: "é".repeat(10_000) }; // 20,000 bytes of UTF-8

async function storedRow(organizationId: string, eventId: string) {
  const { db, table } = await rowTable(organizationId, "events", eventId);
  return db
    .prepare(`SELECT data, data_key FROM ${table} WHERE organization_id = ? AND id = ?`)
    .bind(organizationId, eventId)
    .first<{ data: string; data_key: string | null }>();
}

describe("event data too large for a row", () => {
  it("goes to R2, and is delivered whole, from the queue's retry too, signed over the whole body", async () => {
    // Two 500s: the first run's inline attempts fail, the retry from the queue reads the stored event.
    const { org, receiver, signingSecret } = await givenEndpoint({
      script: [{ status: 500 }, { status: 500 }],
    });
    const { event, delivery } = await publishSettled(org, { data: large });
    expect(delivery).toMatchObject({ status: "delivered", attemptCount: 3 });

    const row = await storedRow(org.id, event.id);
    expect(row).toEqual({ data: "null", data_key: `events/${org.id}/${event.id}` });
    expect(await (await env.PAYLOADS.get(row?.data_key as string))?.json()).toEqual(large);

    const received = await receiver.received();
    expect(received).toHaveLength(3);
    for (const request of received) {
      const payload = new Webhook(signingSecret).verify(request.body, request.headers) as { data: unknown };
      expect(payload.data).toEqual(large);
    }
  });

  it("reads back whole through the API, and replays whole", async () => {
    const { org, receiver } = await givenEndpoint();
    const { event, delivery } = await publishSettled(org, { data: large });
    const got = await callOk("GET", `/webhooks/v1/events/${event.id}`, 200, { token: org.token });
    expect(got.event.data).toEqual(large);
    const listed = await callOk("GET", "/webhooks/v1/events", 200, { token: org.token });
    expect(listed.data.map((e: { data: unknown }) => e.data)).toEqual([large]);

    await callOk("POST", `/webhooks/v1/deliveries/${delivery.id}/replay`, 202, { token: org.token });
    await settledDeliveries(org.token, `event_id=${event.id}`, 2);
    const bodies = await eventually(async () => {
      const all = await receiver.received();
      return all.length === 2 ? all : undefined;
    });
    for (const request of bodies) expect(JSON.parse(request.body).data).toEqual(large);
  });

  it("lost from R2, ends its own retry failed as expired, and no other delivery of the batch", async () => {
    // Four 500s: both events' first runs fail (an attempt and an inline retry each).
    const { org, receiver } = await givenEndpoint({ script: Array(4).fill({ status: 500 }) });
    const lost = await publishCaptured(org.id, "matter.created", large);
    const kept = await publishCaptured(org.id, "matter.created", { ...large, matterId: "matter_kept" });
    // The first run: every inline attempt fails (500), so both go on as retries, held here.
    const retries = capturingQueue<DeliveryMessage>();
    await consume(batchOf("webhook-events", [lost.message, kept.message]), {
      ...env,
      DELIVERIES_QUEUE: retries.queue,
    });
    expect(retries.sent).toHaveLength(2);

    await env.PAYLOADS.delete(`events/${org.id}/${lost.event.id}`);
    await consume(batchOf("webhook-deliveries", retries.sent));
    const [failed] = await settledDeliveries(org.token, `event_id=${lost.event.id}`, 1);
    expect(failed).toMatchObject({ status: "failed", lastError: "event_expired" });
    const [delivered] = await settledDeliveries(org.token, `event_id=${kept.event.id}`, 1);
    expect(delivered).toMatchObject({ status: "delivered" });
    const last = (await receiver.received()).at(-1);
    expect(JSON.parse(last?.body ?? "{}").data).toEqual({ ...large, matterId: "matter_kept" });
  });

  it("stays in its row below the threshold", async () => {
    const { org } = await givenEndpoint();
    const event = await publish(org.id, "matter.created", matter);
    expect(await storedRow(org.id, event.id)).toEqual({ data: JSON.stringify(matter), data_key: null });
    expect(await env.PAYLOADS.head(`events/${org.id}/${event.id}`)).toBeNull();
  });
});
