import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, callOk, createEndpoint, createOrganization, receiverChannel } from "../../support/api";

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
    const org = await createOrganization();
    const { endpoint } = await createEndpoint(org.token, {
      url: receiverChannel().url,
      eventTypeFilters: ["*"],
      headers: { "X-Tenant": "acme" },
    });
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
