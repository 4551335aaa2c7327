import { describe, expect, it } from "vitest";
import {
  callOk,
  createEndpoint,
  createOrganization,
  publish,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";

describe("Retry-After", () => {
  it("sets the delay of the next attempt, and is not counted as a failure", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await receiver.script([{ status: 503, headers: { "retry-after": "3" } }]);
    const { endpoint } = await createEndpoint(org.token, {
      url: receiver.url,
      eventTypeFilters: ["matter.*"],
    });
    const event = await publish(org.id, "matter.created", { matterId: "m", name: "n" });

    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1, 20_000);
    expect(delivery).toMatchObject({ status: "delivered", attemptCount: 2 });
    const [first, second] = await receiver.received();
    const waited = (second?.receivedAt ?? 0) - (first?.receivedAt ?? 0);
    expect(waited).toBeGreaterThanOrEqual(2_900);
    expect(waited).toBeLessThan(5_000);

    const { health } = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}/health`, 200, {
      token: org.token,
    });
    expect(health).toMatchObject({ failuresInStreak: 0, attemptsLast24h: 1, successRateLast24h: 1 });
  });
});
