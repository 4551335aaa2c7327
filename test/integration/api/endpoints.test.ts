import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getDeliveryEndpoint } from "../../../src/db/endpoints/reads";
import type { EndpointId } from "../../../src/lib/ids";
import { callOk, createEndpoint, createOrganization, receiverChannel } from "../../support/api";
import { givenEndpoint } from "../../support/fixtures";
import { keyId, OTHER_KEY, openSealed, SECRETS_KEY, tampered } from "../../support/secrets";

describe("endpoints API", () => {
  it("creates an endpoint with defaults and shows its secret once", async () => {
    const org = await createOrganization();
    const url = receiverChannel().url;
    const created = await createEndpoint(org.token, { url, eventTypeFilters: ["vault.*"] });
    expect(created.signingSecret).toMatch(/^whsec_/);
    expect(created.endpoint).toEqual({
      id: expect.stringMatching(/^evsub_[0-9A-Z]{26}$/),
      url,
      description: "",
      eventTypeFilters: ["vault.*"],
      resourceScopes: {},
      payloadFilter: null,
      status: "active",
      disabledReason: null,
      signatureScheme: "standard",
      signatureAlgorithm: "hmac-sha256",
      verificationKey: null,
      payloadFormat: "full",
      headers: {},
      rateLimitPerSecond: null,
      timeoutMs: null,
      retrySchedule: null,
      ordering: "none",
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });

    const read = await callOk("GET", `/webhooks/v1/endpoints/${created.endpoint.id}`, 200, {
      token: org.token,
    });
    expect(read).toEqual({ endpoint: created.endpoint });
    expect(JSON.stringify(read)).not.toContain(created.signingSecret);
    const list = await callOk("GET", "/webhooks/v1/endpoints", 200, { token: org.token });
    expect(JSON.stringify(list)).not.toContain(created.signingSecret);
  });

  it("keeps an endpoint's ordering from create through reads and a PATCH", async () => {
    const org = await createOrganization();
    const created = await createEndpoint(org.token, {
      url: receiverChannel().url,
      eventTypeFilters: ["*"],
      ordering: "key",
    });
    expect(created.endpoint.ordering).toBe("key");
    const path = `/webhooks/v1/endpoints/${created.endpoint.id}`;
    expect((await callOk("GET", path, 200, { token: org.token })).endpoint.ordering).toBe("key");
    const listed = await callOk("GET", "/webhooks/v1/endpoints", 200, { token: org.token });
    expect(listed.data.map((e: { ordering: string }) => e.ordering)).toEqual(["key"]);

    const patched = await callOk("PATCH", path, 200, { token: org.token, body: { ordering: "endpoint" } });
    expect(patched.endpoint.ordering).toBe("endpoint");
    expect((await callOk("GET", path, 200, { token: org.token })).endpoint.ordering).toBe("endpoint");
    // A PATCH that leaves it out keeps it.
    await callOk("PATCH", path, 200, { token: org.token, body: { description: "ordered" } });
    expect((await callOk("GET", path, 200, { token: org.token })).endpoint.ordering).toBe("endpoint");
    // The delivery run reads it too.
    const forDelivery = await getDeliveryEndpoint(env.DB, created.endpoint.id as EndpointId);
    expect(forDelivery?.ordering).toBe("endpoint");
  });

  it("stores the signing secret sealed under SECRETS_KEY for this endpoint alone, never in clear", async () => {
    const { endpoint, signingSecret } = await givenEndpoint({ filters: ["*"] });
    const { results } = await env.DB.prepare("SELECT * FROM endpoint_secrets WHERE endpoint_id = ?")
      .bind(endpoint.id)
      .all<{ ciphertext: string }>();
    expect(results).toHaveLength(1);
    expect(JSON.stringify(results)).not.toContain(signingSecret.slice("whsec_".length));
    const [{ ciphertext }] = results as [{ ciphertext: string }];
    expect(ciphertext.startsWith(`v2:${await keyId(SECRETS_KEY)}:`)).toBe(true);
    const context = `endpoint:${endpoint.id}:signing-secret`;
    expect(await openSealed(ciphertext, SECRETS_KEY, context)).toBe(signingSecret);
    // Another key, another endpoint's context or one bit changed, and it does not open.
    await expect(openSealed(ciphertext, OTHER_KEY, context)).rejects.toThrow();
    await expect(
      openSealed(ciphertext, SECRETS_KEY, "endpoint:evsub_other:signing-secret"),
    ).rejects.toThrow();
    await expect(openSealed(tampered(ciphertext), SECRETS_KEY, context)).rejects.toThrow();
  });

  it("patches settings, disables and re-enables", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"] });

    const patched = await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: {
        description: "billing",
        eventTypeFilters: ["case.*", "decision.created"],
        resourceScopes: { caseIds: ["case_1"] },
        signatureScheme: "convoy",
        payloadFormat: "slim",
        headers: { "X-Tenant": "acme" },
        timeoutMs: 5000,
        retrySchedule: [30, 600],
        payloadFilter: { path: '$["matter id"]', in: ["m_1", "m_2"] },
        status: "disabled",
      },
    });
    expect(patched.endpoint).toMatchObject({
      description: "billing",
      eventTypeFilters: ["case.*", "decision.created"],
      resourceScopes: { caseIds: ["case_1"] },
      signatureScheme: "convoy",
      payloadFormat: "slim",
      headers: { "X-Tenant": "••••••••" },
      timeoutMs: 5000,
      retrySchedule: [30, 600],
      payloadFilter: { path: '$["matter id"]', in: ["m_1", "m_2"] },
      status: "disabled",
    });
    expect(patched.endpoint.updatedAt >= endpoint.createdAt).toBe(true);

    const disabled = await callOk("GET", "/webhooks/v1/endpoints?status=disabled", 200, { token: org.token });
    expect(disabled.data.map((e: { id: string }) => e.id)).toEqual([endpoint.id]);
    expect(
      (await callOk("GET", "/webhooks/v1/endpoints?status=active", 200, { token: org.token })).data,
    ).toEqual([]);

    const enabled = await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { status: "active" },
    });
    expect(enabled.endpoint).toMatchObject({
      status: "active",
      description: "billing",
      payloadFilter: { path: '$["matter id"]', in: ["m_1", "m_2"] },
    });
    const unfiltered = await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { payloadFilter: null },
    });
    expect(unfiltered.endpoint.payloadFilter).toBeNull();
  });

  it("soft-deletes: the endpoint disappears from reads, its row stays", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"] });
    await callOk("DELETE", `/webhooks/v1/endpoints/${endpoint.id}`, 204, { token: org.token });
    await callOk("DELETE", `/webhooks/v1/endpoints/${endpoint.id}`, 404, { token: org.token });
    await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 404, {
      token: org.token,
      body: { description: "x" },
    });
    expect((await callOk("GET", "/webhooks/v1/endpoints", 200, { token: org.token })).data).toEqual([]);
    const row = await env.DB.prepare("SELECT deleted_at FROM endpoints WHERE id = ?")
      .bind(endpoint.id)
      .first();
    expect(row?.deleted_at).toEqual(expect.any(String));
  });

  it("lists newest first with a cursor", async () => {
    const org = await createOrganization();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await givenEndpoint({ org, filters: ["*"] })).endpoint.id);
    }
    const first = await callOk("GET", "/webhooks/v1/endpoints?limit=3", 200, { token: org.token });
    expect(first.data.map((e: { id: string }) => e.id)).toEqual(ids.slice(2).reverse());
    const second = await callOk("GET", `/webhooks/v1/endpoints?limit=3&cursor=${first.nextCursor}`, 200, {
      token: org.token,
    });
    expect(second.data.map((e: { id: string }) => e.id)).toEqual(ids.slice(0, 2).reverse());
    expect(second.nextCursor).toBeNull();
  });

  it("serves the event catalog with JSON Schemas", async () => {
    const org = await createOrganization();
    const { data } = await callOk("GET", "/webhooks/v1/event_types", 200, { token: org.token });
    const created = data.find((t: { type: string }) => t.type === "vault.ingest.completed");
    expect(created).toMatchObject({ scope: "vaults", stability: "stable", resource: "vault" });
    expect(created.schema).toMatchObject({ type: "object", required: expect.arrayContaining(["vaultId"]) });
    expect(data.map((t: { type: string }) => t.type)).toEqual(
      expect.arrayContaining(["webhook.test", "webhook.endpoint.disabled", "case.created", "matter.created"]),
    );
  });
});
