import { describe, expect, it } from "vitest";
import type { AttemptOutcome } from "../../../src/health/policy";
import type { EndpointId } from "../../../src/lib/ids";
import { givenEndpoint, healthObject, healthOf } from "../../support/fixtures";

/**
 * Runs of several invocations report to an endpoint's health object at once (a direct fan-out, a
 * fan-out batch and delivery consumers); none of their outcomes or permits may be lost between them.
 */
describe("EndpointHealth under concurrent calls", () => {
  const success = (at: number): AttemptOutcome => ({ at, kind: "success", statusCode: 200, error: null });

  it("counts every outcome of reports made at the same time", async () => {
    const { org, endpoint } = await givenEndpoint();
    const health = healthObject(endpoint.id);
    const now = Date.now();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => health.record(endpoint.id as EndpointId, [success(now + i)])),
    );
    expect(await healthOf(org, endpoint.id)).toMatchObject({ attemptsLast24h: 40, successRateLast24h: 1 });
  });

  it("grants a bucket's permits once, however many ask at the same time", async () => {
    const { endpoint } = await givenEndpoint();
    const health = healthObject(endpoint.id);
    const answers = await Promise.all(Array.from({ length: 20 }, () => health.acquire(1, 3)));
    expect(answers.reduce((granted, a) => granted + a.granted, 0)).toBe(3);
  });
});
