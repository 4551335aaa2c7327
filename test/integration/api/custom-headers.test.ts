import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, callOk, createEndpoint, createOrganization, receiverChannel } from "../../support/api";
import { givenEndpoint, rotateSecret } from "../../support/fixtures";
import { OTHER_KEY, openSealed, SECRETS_KEY, tampered } from "../../support/secrets";

type Problem = { status: number; errors?: { path: string; message: string }[] };

/** Creates (or patches) an endpoint with `headers`, expecting a 422 problem; returns its error paths. */
async function refusedPaths(token: string, headers: Record<string, unknown>, endpointId?: string) {
  const response = endpointId
    ? await call("PATCH", `/webhooks/v1/endpoints/${endpointId}`, { token, body: { headers } })
    : await call("POST", "/webhooks/v1/endpoints", {
        token,
        body: { url: receiverChannel().url, eventTypeFilters: ["*"], headers },
      });
  expect(response.status).toBe(422);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await response.json<Problem>();
  return (problem.errors ?? []).map((e) => e.path).sort();
}

const endpointCount = async (organizationId: string) =>
  env.DB.prepare("SELECT COUNT(*) AS n FROM endpoints WHERE organization_id = ?")
    .bind(organizationId)
    .first<number>("n");

describe("custom header rules", () => {
  it("refuses hop-by-hop, proxy, Cloudflare and cookie headers, naming each, and writes nothing", async () => {
    const org = await createOrganization();
    const refused = [
      "Upgrade",
      "TE",
      "keep-alive",
      "Trailer",
      "Expect",
      "Proxy-Authorization",
      "X-Forwarded-For",
      "x-forwarded-host",
      "Forwarded",
      "CF-Connecting-IP",
      "Cookie",
      "Connection",
      "Host",
      "Webhook-Test",
      "webhook-payload-override",
    ];
    const headers = Object.fromEntries([...refused, "X-Tenant"].map((name) => [name, "v"]));
    expect(await refusedPaths(org.token, headers)).toEqual(refused.map((name) => `headers.${name}`).sort());
    expect(await endpointCount(org.id)).toBe(0);
  });

  it("accepts only RFC 9110 field values: no control characters, no whitespace at either end", async () => {
    const org = await createOrganization();
    const bad = {
      "X-Nul": "a\u0000b",
      "X-Newline": "a\nb",
      "X-Return": "a\rb",
      "X-Del": "a\u007fb",
      "X-Leading": " a",
      "X-Trailing": "a\t",
      "X-Beyond-Latin1": "a\u2022b",
    };
    expect(await refusedPaths(org.token, { ...bad, "X-Fine": "Bearer a b\tc" })).toEqual(
      Object.keys(bad)
        .map((name) => `headers.${name}`)
        .sort(),
    );
    expect(await endpointCount(org.id)).toBe(0);
  });

  it("refuses malformed names, a name given twice in another case, and more than 20 headers", async () => {
    const org = await createOrganization();
    const spaced = await call("POST", "/webhooks/v1/endpoints", {
      token: org.token,
      body: { url: receiverChannel().url, eventTypeFilters: ["*"], headers: { "X Tenant": "a", "X:T": "b" } },
    });
    expect(spaced.status).toBe(422);
    expect(await refusedPaths(org.token, { "X-Tenant": "a", "x-tenant": "b" })).toEqual(["headers.x-tenant"]);
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, "v"]));
    expect(await refusedPaths(org.token, many)).toEqual(["headers"]);
    expect(await endpointCount(org.id)).toBe(0);
  });

  it("applies the same rules on PATCH and leaves the endpoint as it was", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"], headers: { "X-Tenant": "acme" } });
    expect(await refusedPaths(org.token, { "X-Forwarded-For": "10.0.0.1" }, endpoint.id)).toEqual([
      "headers.X-Forwarded-For",
    ]);
    expect(await refusedPaths(org.token, { "X-Tenant": "a\u0000" }, endpoint.id)).toEqual([
      "headers.X-Tenant",
    ]);
    const after = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}`, 200, { token: org.token });
    expect(after.endpoint).toEqual(endpoint);
  });
});

const TOKEN = "Bearer sk_live_0123456789abcdefWXYZ";

describe("custom header values at rest", () => {
  it("stores values sealed, never in clear, and shows them masked everywhere", async () => {
    const org = await createOrganization();
    const created = await createEndpoint(org.token, {
      url: receiverChannel().url,
      eventTypeFilters: ["*"],
      headers: { Authorization: TOKEN, "X-Short": "abc123" },
    });
    const masked = { Authorization: "••••••••WXYZ", "X-Short": "••••••••" };
    expect(created.endpoint.headers).toEqual(masked);
    const read = await callOk("GET", `/webhooks/v1/endpoints/${created.endpoint.id}`, 200, {
      token: org.token,
    });
    expect(read.endpoint.headers).toEqual(masked);
    const list = await callOk("GET", "/webhooks/v1/endpoints", 200, { token: org.token });
    expect(list.data[0].headers).toEqual(masked);

    const row = await env.DB.prepare("SELECT * FROM endpoints WHERE id = ?")
      .bind(created.endpoint.id)
      .first<Record<string, unknown>>();
    const stored = JSON.stringify(row);
    for (const secret of [TOKEN, TOKEN.slice(7), "abc123"]) expect(stored).not.toContain(secret);
    expect(row?.legacy_header_values).toBeNull();
    const sealed = String(row?.header_values);
    const context = `endpoint:${created.endpoint.id}:headers`;
    expect(JSON.parse(await openSealed(sealed, SECRETS_KEY, context))).toEqual({
      Authorization: TOKEN,
      "X-Short": "abc123",
    });
    await expect(openSealed(sealed, OTHER_KEY, context)).rejects.toThrow();
    await expect(openSealed(tampered(sealed), SECRETS_KEY, context)).rejects.toThrow();
  });

  it("merges a PATCH: a value sets, null removes, a header not named keeps its value", async () => {
    const { org, endpoint } = await givenEndpoint({
      filters: ["*"],
      headers: { Authorization: TOKEN, "X-Tenant": "acme", "X-Old": "1" },
    });
    const path = `/webhooks/v1/endpoints/${endpoint.id}`;
    const patched = await callOk("PATCH", path, 200, {
      token: org.token,
      body: { headers: { "x-tenant": "globex-and-sons-ltd", "X-Old": null, "X-New": "2" } },
    });
    // The case of a name given in the patch wins; the kept header and its value stay.
    expect(patched.endpoint.headers).toEqual({
      Authorization: "••••••••WXYZ",
      "x-tenant": "••••••••-ltd",
      "X-New": "••••••••",
    });
    const untouched = await callOk("PATCH", path, 200, { token: org.token, body: { description: "d" } });
    expect(untouched.endpoint.headers).toEqual(patched.endpoint.headers);
    const cleared = await callOk("PATCH", path, 200, {
      token: org.token,
      body: { headers: { Authorization: null, "X-TENANT": null, "x-new": null } },
    });
    expect(cleared.endpoint.headers).toEqual({});
  });

  it("refuses a masked value sent back, so a mask is never stored as the value", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"], headers: { Authorization: TOKEN } });
    expect(await refusedPaths(org.token, endpoint.headers, endpoint.id)).toEqual(["headers.Authorization"]);
    expect(await refusedPaths(org.token, endpoint.headers)).toEqual(["headers.Authorization"]);
  });

  it("counts kept and set headers together against the limit of 20", async () => {
    const org = await createOrganization();
    const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`X-H${i}`, "v"]));
    const { endpoint } = await createEndpoint(org.token, {
      url: receiverChannel().url,
      eventTypeFilters: ["*"],
      headers: twenty,
    });
    expect(await refusedPaths(org.token, { "X-One-More": "v" }, endpoint.id)).toEqual(["headers"]);
    const swapped = await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { headers: { "X-H0": null, "X-One-More": "v" } },
    });
    expect(Object.keys(swapped.endpoint.headers)).toHaveLength(20);
  });

  it("purges the signing secrets and header values of a deleted endpoint", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"], headers: { Authorization: TOKEN } });
    await rotateSecret(org, endpoint.id);
    await callOk("DELETE", `/webhooks/v1/endpoints/${endpoint.id}`, 204, { token: org.token });
    const secrets = await env.DB.prepare("SELECT COUNT(*) AS n FROM endpoint_secrets WHERE endpoint_id = ?")
      .bind(endpoint.id)
      .first<number>("n");
    expect(secrets).toBe(0);
    const row = await env.DB.prepare(
      "SELECT headers, header_values, legacy_header_values, deleted_at FROM endpoints WHERE id = ?",
    )
      .bind(endpoint.id)
      .first();
    expect(row).toEqual({
      headers: "{}",
      header_values: null,
      legacy_header_values: null,
      deleted_at: expect.any(String),
    });
  });
});
