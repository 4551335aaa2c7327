import { describe, expect, it } from "vitest";
import { callOk, eventually, publish, settledDeliveries } from "../../support/api";
import { givenEndpoint, healthOf } from "../../support/fixtures";

describe("rateLimitPerSecond", () => {
  it("delivers every event, no faster than the limit, without counting a failure", async () => {
    const { org, receiver, endpoint } = await givenEndpoint({ rateLimitPerSecond: 2 });
    const published = [];
    for (let i = 0; i < 20; i++)
      published.push(await publish(org.id, "matter.created", { matterId: `m${i}`, name: "n" }));

    const deliveries = await settledDeliveries(org.token, `endpoint_id=${endpoint.id}`, 20, 25_000);
    expect(deliveries).toHaveLength(20);
    for (const delivery of deliveries)
      expect(delivery).toMatchObject({ status: "delivered", attemptCount: 1 });
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

    // Each run tells the health object before it records its deliveries, so all 20 are counted by now
    // (concurrent runs' reports once lost one: concurrent-reports.test.ts).
    const health = await healthOf(org, endpoint.id);
    expect(health).toMatchObject({ failuresInStreak: 0, attemptsLast24h: 20, successRateLast24h: 1 });
  });

  it("sends a stored delivery it put off (a replay, a retry) within seconds, not after the run's lease", async () => {
    // Three failed deliveries, recovered together: one permit now, two put off to the coming seconds.
    const { org, receiver, endpoint } = await givenEndpoint({
      rateLimitPerSecond: 1,
      fallback: { status: 404 },
    });
    const since = new Date().toISOString();
    for (let i = 0; i < 3; i++) await publish(org.id, "matter.created", { matterId: `m${i}`, name: "n" });
    await settledDeliveries(org.token, `endpoint_id=${endpoint.id}`, 3, 15_000);
    await receiver.script([], { status: 200 });
    const { replayed } = await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/recover`, 202, {
      token: org.token,
      body: { since },
    });
    expect(replayed).toBe(3);
    // The run's lease is about 43 s here (delivery/run.ts leaseSeconds): a put-off delivery still
    // leased when its message came back would wait for it.
    // Three failed requests, then the three replays.
    await eventually(async () => (await receiver.received()).length === 6, 15_000);
    const replays = await settledDeliveries(org.token, `endpoint_id=${endpoint.id}&status=delivered`, 3);
    expect(replays).toHaveLength(3);
  });
});
