import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { callOk, eventually, publish, settledDeliveries } from "../../support/api";
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

  it("stays in its row below the threshold", async () => {
    const { org } = await givenEndpoint();
    const event = await publish(org.id, "matter.created", matter);
    expect(await storedRow(org.id, event.id)).toEqual({ data: JSON.stringify(matter), data_key: null });
    expect(await env.PAYLOADS.head(`events/${org.id}/${event.id}`)).toBeNull();
  });
});
