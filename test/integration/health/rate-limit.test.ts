import { describe, expect, it } from "vitest";
import {
  callOk,
  createEndpoint,
  createOrganization,
  publish,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";

describe("rateLimitPerSecond", () => {
  it("delivers every event, no faster than the limit, without counting a failure", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    const { endpoint } = await createEndpoint(org.token, {
      url: receiver.url,
      eventTypeFilters: ["matter.*"],
      rateLimitPerSecond: 2,
    });
    const published = [];
    for (let i = 0; i < 20; i++)
      published.push(await publish(org.id, "matter.created", { matterId: `m${i}`, name: "n" }));

    const deliveries = await settledDeliveries(org.token, `endpoint_id=${endpoint.id}`, 20, 25_000);
    expect(
      deliveries.every(
        (d: { status: string; attemptCount: number }) => d.status === "delivered" && d.attemptCount === 1,
      ),
    ).toBe(true);
    const arrivals = (await receiver.received()).map((r) => r.receivedAt).sort((a, b) => a - b);
    expect(arrivals).toHaveLength(20);
    expect(new Set((await receiver.received()).map((r) => r.headers["webhook-id"]))).toEqual(
      new Set(published.map((e) => e.id)),
    );
    // A bucket of 2 permits refilled at 2/s: any 1 s window holds at most 2 + 2 arrivals (burst + refill),
    // and 20 arrivals need at least (20 - 2) / 2 = 9 s.
    for (let i = 0; i + 4 < arrivals.length; i++) {
      expect((arrivals[i + 4] ?? 0) - (arrivals[i] ?? 0)).toBeGreaterThanOrEqual(1_000);
    }
    expect((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(8_500);

    const { health } = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}/health`, 200, {
      token: org.token,
    });
    expect(health).toMatchObject({ failuresInStreak: 0, attemptsLast24h: 20, successRateLast24h: 1 });
  });
});
