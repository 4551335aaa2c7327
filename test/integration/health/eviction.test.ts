import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { givenEndpoint, healthObject, healthOf, publishSettled } from "../../support/fixtures";

describe("EndpointHealth durability", () => {
  it("keeps its counts across an eviction", async () => {
    const { org, endpoint } = await givenEndpoint({ fallback: { status: 404 } });
    for (let i = 0; i < 2; i++) await publishSettled(org);
    const before = await healthOf(org, endpoint.id);
    expect(before).toMatchObject({ failuresInStreak: 2, attemptsLast24h: 2, lastStatusCode: 404 });

    await evictDurableObject(healthObject(endpoint.id));
    expect(await healthOf(org, endpoint.id)).toEqual(before);

    // And it goes on counting from there.
    await publishSettled(org);
    expect((await healthOf(org, endpoint.id)).failuresInStreak).toBe(3);
  });
});
