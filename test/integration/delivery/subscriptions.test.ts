import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import {
  call,
  callOk,
  createApiKey,
  createEndpoint,
  createOrganization,
  deliveryDetail,
  publish,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";
import { convoySignature } from "../../support/convoy";
import { givenEndpoint, publishSettled, type Receiver } from "../../support/fixtures";

const vaultEvent = (vaultId: string) => ({ vaultId, objectId: "obj_1", filename: "a.pdf" });

describe("what an endpoint receives, and how", () => {
  it("delivers only events about the resources an endpoint is scoped to", async () => {
    const { org, receiver: scoped } = await givenEndpoint({
      filters: ["*"],
      resourceScopes: { vaultIds: ["vault_A", "vault_B"] },
    });
    const all = (await givenEndpoint({ org, filters: ["*"] })).receiver;

    const inA = await publish(org.id, "vault.ingest.completed", vaultEvent("vault_A"));
    const inC = await publish(org.id, "vault.ingest.completed", vaultEvent("vault_C"));
    const noVault = await publish(org.id, "matter.created", { matterId: "m", name: "n" });
    // The resource may also be named explicitly.
    const explicitB = await publish(
      org.id,
      "webhook.test",
      { note: "x" },
      { resources: { vault: "vault_B" } },
    );
    await settledDeliveries(org.token, "", 6);

    const ids = async (c: Receiver) => (await c.received()).map((r) => r.headers["webhook-id"]).sort();
    expect(await ids(scoped)).toEqual([inA.id, explicitB.id].sort());
    expect(await ids(all)).toEqual([inA.id, inC.id, noVault.id, explicitB.id].sort());
  });

  it("delivers only events whose data meets the endpoint's payload filter", async () => {
    const { org, receiver: filtered } = await givenEndpoint({
      filters: ["vault.ingest.completed"],
      payloadFilter: {
        and: [
          { path: "$.pageCount", gte: 10 },
          {
            or: [
              { path: "$.contentType", eq: "application/pdf" },
              { not: { path: "$.contentType", exists: true } },
            ],
          },
        ],
      },
    });
    const all = (await givenEndpoint({ org, filters: ["vault.ingest.completed"] })).receiver;

    const object = { vaultId: "vault_A", objectId: "obj_1", filename: "a.pdf" };
    const longPdf = await publish(org.id, "vault.ingest.completed", {
      ...object,
      pageCount: 12,
      contentType: "application/pdf",
    });
    const longUntyped = await publish(org.id, "vault.ingest.completed", { ...object, pageCount: 40 });
    const shortPdf = await publish(org.id, "vault.ingest.completed", {
      ...object,
      pageCount: 2,
      contentType: "application/pdf",
    });
    const longDoc = await publish(org.id, "vault.ingest.completed", {
      ...object,
      pageCount: 12,
      contentType: "application/msword",
    });
    const uncounted = await publish(org.id, "vault.ingest.completed", object);
    await settledDeliveries(org.token, "", 7);

    const ids = async (c: Receiver) => (await c.received()).map((r) => r.headers["webhook-id"]).sort();
    expect(await ids(filtered)).toEqual([longPdf.id, longUntyped.id].sort());
    expect(await ids(all)).toEqual(
      [longPdf.id, longUntyped.id, shortPdf.id, longDoc.id, uncounted.id].sort(),
    );
  });

  it("delivers unfiltered, and logged, to an endpoint whose stored payload filter cannot be evaluated; its organization's other endpoints as ever", async () => {
    const errors = vi.spyOn(console, "error");
    const {
      org,
      endpoint,
      receiver: unreadable,
    } = await givenEndpoint({
      filters: ["matter.created"],
      payloadFilter: { path: "$.name", eq: "n" },
    });
    const other = (await givenEndpoint({ org, filters: ["matter.created"] })).receiver;
    // A path the API refuses ("name" lacks its "$"), as only a row written some other way can hold.
    await env.DB.prepare("UPDATE endpoints SET payload_filter = ? WHERE id = ?")
      .bind(JSON.stringify({ path: "name", eq: "n" }), endpoint.id)
      .run();

    const event = await publish(org.id, "matter.created", { matterId: "m", name: "other" });
    await settledDeliveries(org.token, "", 2);
    for (const receiver of [unreadable, other]) {
      expect((await receiver.received()).map((r) => r.headers["webhook-id"])).toEqual([event.id]);
    }
    const logged = errors.mock.calls.map(([line]) => String(line));
    expect(
      logged.some((line) => line.includes("payload filter unreadable") && line.includes(endpoint.id)),
    ).toBe(true);
    errors.mockRestore();
  });

  it("sends slim payloads with resource ids only", async () => {
    const { org, receiver } = await givenEndpoint({ filters: ["vault.*"], payloadFormat: "slim" });
    const { event } = await publishSettled(org, {
      type: "vault.ingest.completed",
      data: vaultEvent("vault_9"),
    });
    const [request] = await receiver.received();
    expect(JSON.parse(request?.body ?? "")).toEqual({
      id: event.id,
      type: "vault.ingest.completed",
      occurred_at: event.occurredAt,
      timestamp: event.occurredAt,
      content: { vault: { id: "vault_9" } },
    });
  });

  it("sends a slim, Convoy-signed body a receiver written to Marble's docs reads", async () => {
    const {
      org,
      receiver,
      signingSecret: secret,
    } = await givenEndpoint({
      filters: ["vault.*"],
      payloadFormat: "slim",
      signatureScheme: "convoy",
    });
    const { event } = await publishSettled(org, {
      type: "vault.ingest.completed",
      data: vaultEvent("vault_7"),
    });
    const [request] = await receiver.received();
    // As Marble tells receivers: split `t=…,v1=…`, HMAC-SHA256 of `${t},${raw body}` keyed by the secret's
    // own bytes, compare base64; then read `type`, `timestamp` (RFC 3339) and `content`.
    const header = String(request?.headers["webhooks-signature"]);
    const parts = new Map(header.split(",").map((part) => part.split("=", 2) as [string, string]));
    expect(header).toContain(
      `v1=${await convoySignature(secret, String(parts.get("t")), request?.body ?? "")}`,
    );
    const body = JSON.parse(request?.body ?? "");
    expect(body.type).toBe("vault.ingest.completed");
    expect(body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
    expect(Date.parse(body.timestamp)).toBe(Date.parse(event.occurredAt));
    expect(body.content).toEqual({ vault: { id: "vault_7" } });
  });

  it("sends the endpoint's custom headers and the Convoy idempotency key", async () => {
    const { org, receiver } = await givenEndpoint({
      signatureScheme: "convoy",
      headers: { "X-Tenant": "acme", Authorization: "Bearer receiver-token" },
    });
    const { event } = await publishSettled(org);
    const [request] = await receiver.received();
    expect(request?.headers).toMatchObject({
      "x-tenant": "acme",
      authorization: "Bearer receiver-token",
      "x-convoy-idempotency-key": event.id,
      "webhooks-signature": expect.stringMatching(/^t=\d+,v1=/),
    });
    expect(request?.headers["webhook-signature"]).toBeUndefined();
  });

  it("applies an endpoint's own, shorter timeout", async () => {
    const { org } = await givenEndpoint({ script: [{ hangMs: 3_000 }], timeoutMs: 300 });
    const { delivery } = await publishSettled(org);
    const detail = await deliveryDetail(org.token, delivery.id);
    expect(detail.attempts[0]).toMatchObject({ error: "timeout" });
    // Cut at 300 ms: under the service's timeout (1.5 s in tests), which would have let it run to 1.5 s.
    expect(detail.attempts[0].durationMs).toBeLessThan(1_500);
    expect(detail.status).toBe("delivered");
  });
});

describe("API-key scopes", () => {
  it("limit what a key's endpoints may subscribe to, and what `*` means", async () => {
    const org = await createOrganization();
    const token = await createApiKey(org.id, ["vaults"]);
    const outside = await call("POST", "/webhooks/v1/endpoints", {
      token,
      body: { url: receiverChannel().url, eventTypeFilters: ["case.*"] },
    });
    expect(outside.status).toBe(422);

    const receiver = receiverChannel();
    await createEndpoint(token, { url: receiver.url, eventTypeFilters: ["*"] }); // with the vaults key
    const caseEvent = await publish(org.id, "case.created", { caseId: "c", name: "n" });
    const { event: vault } = await publishSettled(org, {
      type: "vault.ingest.completed",
      data: vaultEvent("vault_1"),
    });
    // The organization's only endpoint, subscribed by the vaults key, did not get the case event
    // (which the vaults key may not read: api/access.ts).
    expect(
      (await callOk("GET", `/webhooks/v1/events/${caseEvent.id}`, 200, { token: org.token })).deliveries,
    ).toEqual([]);
    expect((await receiver.received()).map((r) => r.headers["webhook-id"])).toEqual([vault.id]);
  });
});
