import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  createEndpoint,
  createOrganization,
  deliveryDetail,
  publish,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";

const matter = { matterId: "matter_1", name: "Headers" };

describe("custom headers on the wire", () => {
  it("sends every RFC 9110 value the API accepts as given", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await createEndpoint(org.token, {
      url: receiver.url,
      eventTypeFilters: ["matter.*"],
      headers: { Authorization: "Bearer abc def", "X-Tabbed": "a\tb", "X-Latin1": "café" },
    });
    const event = await publish(org.id, "matter.created", matter);
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
    const [request] = await receiver.received();
    expect(request?.headers.authorization).toBe("Bearer abc def");
    expect(request?.headers["x-tabbed"]).toBe("a\tb");
    // obs-text: the runtime sends characters beyond ASCII as their UTF-8 bytes, which Node reads as Latin-1.
    expect(Buffer.from(request?.headers["x-latin1"] ?? "", "latin1").toString("utf8")).toBe("café");
  });

  it("fails a delivery whose stored header the runtime refuses after one attempt, with the reason, sending nothing", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    const { endpoint } = await createEndpoint(org.token, {
      url: receiver.url,
      eventTypeFilters: ["matter.*"],
    });
    // As if stored before the header rules existed.
    await env.DB.prepare("UPDATE endpoints SET headers = ? WHERE id = ?")
      .bind(JSON.stringify({ "X-Bad": "a\u0000b" }), endpoint.id)
      .run();
    const event = await publish(org.id, "matter.created", matter);
    const [settled] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    const reason = 'invalid_request: header "X-Bad" has a value the runtime refuses';
    expect(settled).toMatchObject({ status: "failed", attemptCount: 1, lastError: reason });
    const detail = await deliveryDetail(org.token, settled.id);
    expect(detail.attempts).toEqual([
      expect.objectContaining({ number: 1, statusCode: null, error: reason }),
    ]);
    expect(await receiver.received()).toEqual([]);
  });
});
