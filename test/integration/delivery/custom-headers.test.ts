import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callOk, deliveryDetail } from "../../support/api";
import { givenEndpoint, healthOf, publishSettled } from "../../support/fixtures";

describe("custom headers on the wire", () => {
  it("sends every RFC 9110 value the API accepts as given", async () => {
    const { org, receiver } = await givenEndpoint({
      headers: { Authorization: "Bearer abc def", "X-Tabbed": "a\tb", "X-Latin1": "café" },
    });
    const { delivery } = await publishSettled(org);
    expect(delivery.status).toBe("delivered");
    const [request] = await receiver.received();
    expect(request?.headers.authorization).toBe("Bearer abc def");
    expect(request?.headers["x-tabbed"]).toBe("a\tb");
    // obs-text: the runtime sends characters beyond ASCII as their UTF-8 bytes, which Node reads as Latin-1.
    expect(Buffer.from(request?.headers["x-latin1"] ?? "", "latin1").toString("utf8")).toBe("café");
  });

  it("sends the values a PATCH merged, and seals values left in clear before migration 0002 at the next PATCH", async () => {
    const { org, receiver, endpoint } = await givenEndpoint({
      headers: { Authorization: "Bearer kept-token", "X-Tenant": "acme", "X-Gone": "1" },
    });
    await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { headers: { "X-TENANT": "globex", "X-Gone": null } },
    });
    const deliverOne = async () => {
      await publishSettled(org);
      return (await receiver.received()).at(-1)?.headers ?? {};
    };
    const merged = await deliverOne();
    expect(merged).toMatchObject({ authorization: "Bearer kept-token", "x-tenant": "globex" });
    expect(merged["x-gone"]).toBeUndefined();

    // As migration 0002 leaves a row stored before it.
    await env.DB.prepare(
      "UPDATE endpoints SET headers = ?, header_values = NULL, legacy_header_values = ? WHERE id = ?",
    )
      .bind('{"X-Legacy":"••••••••"}', '{"X-Legacy":"old-clear-value"}', endpoint.id)
      .run();
    expect((await deliverOne())["x-legacy"]).toBe("old-clear-value");
    const patched = await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { description: "no header change" },
    });
    expect(patched.endpoint.headers).toEqual({ "X-Legacy": "••••••••" });
    const row = await env.DB.prepare("SELECT header_values, legacy_header_values FROM endpoints WHERE id = ?")
      .bind(endpoint.id)
      .first<{ header_values: string; legacy_header_values: string | null }>();
    expect(row?.header_values).toMatch(/^v2:/);
    expect(row?.legacy_header_values).toBeNull();
    expect((await deliverOne())["x-legacy"]).toBe("old-clear-value");
  });

  it("fails a delivery whose stored header the runtime refuses after one attempt, with the reason, sending nothing", async () => {
    const { org, receiver, endpoint } = await givenEndpoint();
    // As stored before the header rules existed (in clear, as migration 0002 leaves such values).
    await env.DB.prepare("UPDATE endpoints SET headers = ?, legacy_header_values = ? WHERE id = ?")
      .bind(JSON.stringify({ "X-Bad": "••••••••" }), JSON.stringify({ "X-Bad": "a\u0000b" }), endpoint.id)
      .run();
    const { delivery: settled } = await publishSettled(org);
    const reason = 'invalid_request: header "X-Bad" has a value the runtime refuses';
    expect(settled).toMatchObject({ status: "failed", attemptCount: 1, lastError: reason });
    const detail = await deliveryDetail(org.token, settled.id);
    expect(detail.attempts).toEqual([
      expect.objectContaining({ number: 1, statusCode: null, error: reason }),
    ]);
    expect(await receiver.received()).toEqual([]);
    // Our request, not the endpoint, was at fault: its health hears nothing of it.
    expect(await healthOf(org, endpoint.id)).toMatchObject({
      status: "active",
      failuresInStreak: 0,
      attemptsLast24h: 0,
    });
  });
});
