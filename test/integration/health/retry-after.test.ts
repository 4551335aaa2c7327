import { describe, expect, it } from "vitest";
import { deliveryDetail } from "../../support/api";
import { givenEndpoint, healthOf, publishSettled } from "../../support/fixtures";

describe("Retry-After", () => {
  it("sets the delay of the next attempt, and is not counted as a failure", async () => {
    const { org, endpoint } = await givenEndpoint({
      script: [{ status: 503, headers: { "retry-after": "3" } }],
    });
    const { delivery } = await publishSettled(org, { timeout: 20_000 });
    expect(delivery).toMatchObject({ status: "delivered", attemptCount: 2 });

    const [first, second] = (await deliveryDetail(org.token, delivery.id)).attempts;
    expect(second).toMatchObject({ trigger: "queue_retry", statusCode: 200 });
    const waited = Date.parse(second.startedAt) - (Date.parse(first.startedAt) + first.durationMs);
    // Not the schedule's first step (1 s): the 3 s the receiver asked for. A queue's delay is a
    // minimum, and a loaded machine may run the retry later; the upper bound only says the wait had
    // to do with the header (the schedule's longest step is 4 s in this project).
    expect(waited).toBeGreaterThanOrEqual(2_900);
    expect(waited).toBeLessThan(15_000);

    expect(await healthOf(org, endpoint.id)).toMatchObject({
      failuresInStreak: 0,
      attemptsLast24h: 1,
      successRateLast24h: 1,
    });
  });
});
