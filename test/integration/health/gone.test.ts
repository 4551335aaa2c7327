import { describe, expect, it } from "vitest";
import { callOk, eventually, publish, settledDeliveries } from "../../support/api";
import { endpointBecomes, givenEndpoint, matter } from "../../support/fixtures";

/** A 410 Gone answer asks for no more deliveries (Standard Webhooks): DISABLE_ON_GONE, on by default. */
describe("410 Gone", () => {
  it("disables the endpoint at once, tells the organization, and ends its pending deliveries recoverably", async () => {
    // A rate limit of one a second keeps the second event's delivery pending while the first gets its 410.
    const { org, receiver, endpoint } = await givenEndpoint({
      fallback: { status: 410 },
      rateLimitPerSecond: 1,
    });
    const watcher = (await givenEndpoint({ org, filters: ["webhook.*"] })).receiver;
    const started = new Date().toISOString();
    const first = await publish(org.id, "matter.created", matter);
    const second = await publish(org.id, "matter.created", { ...matter, matterId: "matter_2" });

    const disabled = await endpointBecomes(org, endpoint.id, "auto_disabled", 10_000);
    expect(disabled.disabledReason).toEqual({
      at: expect.any(String),
      failures: 1,
      lastError: "HTTP 410",
      cause: "gone",
    });
    const notice = await eventually(async () => {
      const got = (await watcher.received()).find(
        (r) => JSON.parse(r.body).type === "webhook.endpoint.disabled",
      );
      return got ? JSON.parse(got.body) : undefined;
    });
    expect(notice.data).toMatchObject({ endpointId: endpoint.id, cause: "gone", lastError: "HTTP 410" });

    // One request only: no retry of the 410, and the pending delivery ends without one.
    const settled = await settledDeliveries(org.token, `endpoint_id=${endpoint.id}`, 2, 15_000);
    const byEvent = new Map(settled.map((d: { eventId: string }) => [d.eventId, d]));
    expect(byEvent.get(first.id)).toMatchObject({ status: "failed", attemptCount: 1, lastError: "HTTP 410" });
    expect(byEvent.get(second.id)).toMatchObject({
      status: "failed",
      attemptCount: 0,
      lastError: "endpoint_disabled",
    });
    expect(await receiver.received()).toHaveLength(1);

    // Re-enabled by its owner, recover delivers both.
    await receiver.script([], { status: 200 });
    await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { status: "active" },
    });
    const { replayed } = await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/recover`, 202, {
      token: org.token,
      body: { since: started },
    });
    expect(replayed).toBe(2);
    await eventually(async () => {
      const ids = (await receiver.received()).slice(1).map((r) => r.headers["webhook-id"]);
      return ids.includes(first.id) && ids.includes(second.id);
    }, 15_000);
    expect(
      (await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}`, 200, { token: org.token })).endpoint
        .status,
    ).toBe("active");
  });
});
