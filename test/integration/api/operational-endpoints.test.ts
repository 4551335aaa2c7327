import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, callOk, eventually, publish, receiverChannel } from "../../support/api";
import { endpointBecomes, givenEndpoint, matter } from "../../support/fixtures";

type Notice = { type: string; data: Record<string, unknown> };

describe("operational webhooks", () => {
  it("tell the operator's endpoints of every organization's endpoint changes, signed, through the admin API", async () => {
    const operator = receiverChannel();
    const created = await callOk("POST", "/admin/v1/operational_endpoints", 201, {
      token: ADMIN_TOKEN,
      body: { url: operator.url, eventTypeFilters: ["operator.*"] },
    });
    const { endpoint: operational, signingSecret } = created;
    expect(signingSecret).toMatch(/^whsec_/);
    const listed = await callOk("GET", "/admin/v1/operational_endpoints", 200, { token: ADMIN_TOKEN });
    expect(listed.data.map((e: { id: string }) => e.id)).toContain(operational.id);

    // An organization's endpoint lives and dies; the operator hears of each step, about that organization.
    const { org, endpoint, receiver } = await givenEndpoint({ fallback: { status: 410 } });
    const noticesOf = async (type: string) =>
      (await operator.received())
        .map((r) => ({ request: r, notice: JSON.parse(r.body) as Notice }))
        .filter(({ notice }) => notice.type === type && notice.data.endpointId === endpoint.id);
    const first = await eventually(async () => (await noticesOf("operator.endpoint.created"))[0]);
    expect(first.notice.data).toEqual({ organizationId: org.id, endpointId: endpoint.id, url: receiver.url });
    expect(() => new Webhook(signingSecret).verify(first.request.body, first.request.headers)).not.toThrow();

    await publish(org.id, "matter.created", matter); // answered 410 Gone: disabled at once
    await endpointBecomes(org, endpoint.id, "auto_disabled", 10_000);
    const disabled = await eventually(async () => (await noticesOf("operator.endpoint.disabled"))[0]);
    expect(disabled.notice.data).toMatchObject({
      organizationId: org.id,
      cause: "gone",
      lastError: "HTTP 410",
    });

    await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { status: "active" },
    });
    await eventually(async () => (await noticesOf("operator.endpoint.enabled")).length === 1);
    await callOk("DELETE", `/webhooks/v1/endpoints/${endpoint.id}`, 204, { token: org.token });
    await eventually(async () => (await noticesOf("operator.endpoint.deleted")).length === 1);

    // Rotation and deletion through the admin API; a deleted operational endpoint hears nothing more.
    const rotated = await callOk(
      "POST",
      `/admin/v1/operational_endpoints/${operational.id}/rotate_secret`,
      200,
      {
        token: ADMIN_TOKEN,
        body: { previousSecretExpiresInSec: 0 },
      },
    );
    expect(rotated.signingSecret).toMatch(/^whsec_/);
    await callOk("DELETE", `/admin/v1/operational_endpoints/${operational.id}`, 204, { token: ADMIN_TOKEN });
    const heard = (await operator.received()).length;
    const { endpoint: later } = await givenEndpoint({ org });
    await callOk("DELETE", `/webhooks/v1/endpoints/${later.id}`, 204, { token: org.token });
    await publish(org.id, "matter.created", matter);
    expect((await operator.received()).length).toBe(heard);
  });

  it("are the admin's alone, and follow the endpoint rules", async () => {
    const { org } = await givenEndpoint();
    const body = { url: receiverChannel().url, eventTypeFilters: ["operator.*"] };
    expect((await call("POST", "/admin/v1/operational_endpoints", { body })).status).toBe(401);
    expect((await call("POST", "/admin/v1/operational_endpoints", { token: org.token, body })).status).toBe(
      401,
    );
    const refused = await call("POST", "/admin/v1/operational_endpoints", {
      token: ADMIN_TOKEN,
      body: { url: "ftp://nope", eventTypeFilters: ["operator.*"] },
    });
    expect(refused.status).toBe(422);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    // An organization's own list never shows them.
    const own = await callOk("GET", "/webhooks/v1/endpoints", 200, { token: org.token });
    expect(own.data.every((e: { url: string }) => e.url !== body.url)).toBe(true);
  });
});
