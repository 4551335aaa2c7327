import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  callOk,
  createEndpoint,
  createOrganization,
  publish,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";

describe("EndpointHealth durability", () => {
  it("keeps its counts across an eviction", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await receiver.script([], { status: 410 });
    const { endpoint } = await createEndpoint(org.token, {
      url: receiver.url,
      eventTypeFilters: ["matter.*"],
    });
    for (let i = 0; i < 2; i++) {
      const event = await publish(org.id, "matter.created", { matterId: "m", name: "n" });
      await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    }
    const before = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}/health`, 200, {
      token: org.token,
    });
    expect(before.health).toMatchObject({ failuresInStreak: 2, attemptsLast24h: 2, lastStatusCode: 410 });

    const stub = env.ENDPOINT_HEALTH.get(env.ENDPOINT_HEALTH.idFromName(endpoint.id));
    await evictDurableObject(stub);
    const after = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}/health`, 200, {
      token: org.token,
    });
    expect(after.health).toEqual(before.health);

    // And it goes on counting from there.
    const third = await publish(org.id, "matter.created", { matterId: "m", name: "n" });
    await settledDeliveries(org.token, `event_id=${third.id}`, 1);
    const later = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}/health`, 200, {
      token: org.token,
    });
    expect(later.health.failuresInStreak).toBe(3);
  });
});
