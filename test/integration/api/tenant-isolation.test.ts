import { describe, expect, it } from "vitest";
import { call, callOk, createEndpoint, createOrganization, receiverChannel } from "../../support/api";
import { publishSettled } from "../../support/fixtures";
import { snapshotOf } from "../../support/snapshot";

describe("tenant isolation", () => {
  it("answers 404 on every route when organization B uses organization A's ids, and changes nothing", async () => {
    const a = await createOrganization("A");
    const b = await createOrganization("B");
    const receiver = receiverChannel();
    const { endpoint } = await createEndpoint(a.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
    const { event, delivery } = await publishSettled(a);
    const before = await snapshotOf(a.id);
    const received = (await receiver.received()).length;

    const routes: [string, string, unknown?][] = [
      ["GET", `/webhooks/v1/endpoints/${endpoint.id}`],
      ["PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, { description: "taken over", url: receiver.url }],
      ["DELETE", `/webhooks/v1/endpoints/${endpoint.id}`],
      ["POST", `/webhooks/v1/endpoints/${endpoint.id}/rotate_secret`, {}],
      ["POST", `/webhooks/v1/endpoints/${endpoint.id}/test`, {}],
      ["POST", `/webhooks/v1/endpoints/${endpoint.id}/recover`, { since: "2020-01-01T00:00:00Z" }],
      ["GET", `/webhooks/v1/endpoints/${endpoint.id}/health`],
      ["GET", `/webhooks/v1/endpoints/${endpoint.id}/lanes`],
      ["GET", `/webhooks/v1/endpoints/${endpoint.id}/lanes/queue?lane=`],
      ["GET", `/webhooks/v1/events/${event.id}`],
      ["GET", `/webhooks/v1/deliveries/${delivery.id}`],
      ["POST", `/webhooks/v1/deliveries/${delivery.id}/replay`, {}],
    ];
    for (const [method, path, body] of routes) {
      const response = await call(method, path, { token: b.token, body });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    }
    // Lists filtered by A's ids show B nothing.
    for (const path of [
      `/webhooks/v1/deliveries?endpoint_id=${endpoint.id}`,
      `/webhooks/v1/deliveries?event_id=${event.id}`,
      "/webhooks/v1/endpoints",
      "/webhooks/v1/events",
      "/webhooks/v1/deliveries",
    ]) {
      expect((await callOk("GET", path, 200, { token: b.token })).data, path).toEqual([]);
    }

    expect(await snapshotOf(a.id)).toBe(before);
    expect((await receiver.received()).length).toBe(received);
  });
});
