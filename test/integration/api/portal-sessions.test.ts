import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { OrganizationId } from "../../../src/lib/ids";
import { signPortalToken } from "../../../src/lib/portal-token";
import {
  ADMIN_TOKEN,
  call,
  callOk,
  createApiKey,
  createEndpoint,
  createOrganization,
} from "../../support/api";

/**
 * Portal links (docs/portal.md#opening-it) and what their token may do on the API; the pages
 * themselves are driven in Chromium by test/browser/portal.test.ts.
 */
const tokenOf = (url: string) => new URL(url).hash.slice(1);

async function portalToken(organizationId: string, body: Record<string, unknown> = {}) {
  const { url } = await callOk("POST", `/admin/v1/organizations/${organizationId}/portal_sessions`, 201, {
    token: ADMIN_TOKEN,
    body,
  });
  return tokenOf(url);
}

describe("portal sessions", () => {
  it("gives the operator a link to the organization's portal, its token in the fragment", async () => {
    const org = await createOrganization();
    const before = Date.now();
    const session = await callOk("POST", `/admin/v1/organizations/${org.id}/portal_sessions`, 201, {
      token: ADMIN_TOKEN,
      body: { expiresInSec: 120 },
    });
    const url = new URL(session.url);
    expect(`${url.origin}${url.pathname}`).toBe("https://webhooks.test/portal/enter");
    expect(url.search).toBe("");
    expect(url.hash).toMatch(/^#ps_[\w-]+\.[\w-]+$/);
    const expiresAt = Date.parse(session.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 119_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 121_000);
  });

  it("refuses bad input and unknown organizations", async () => {
    const org = await createOrganization();
    for (const body of [
      { expiresInSec: 59 },
      { expiresInSec: 86_401 },
      { readOnly: "yes" },
      { theme: { accentColor: "red" } },
      { theme: { logoUrl: "javascript:alert(1)" } },
    ]) {
      const response = await call("POST", `/admin/v1/organizations/${org.id}/portal_sessions`, {
        token: ADMIN_TOKEN,
        body,
      });
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
    }
    const missing = await call(
      "POST",
      "/admin/v1/organizations/org_01M8Q108E35R8QGZNZ700XGZCZ/portal_sessions",
      {
        token: ADMIN_TOKEN,
      },
    );
    expect(missing.status).toBe(404);
  });

  it("lets an organization key with every scope open one for itself, and no narrower key", async () => {
    const org = await createOrganization();
    const { url } = await callOk("POST", "/webhooks/v1/portal_sessions", 201, { token: org.token, body: {} });
    const endpoints = await callOk("GET", "/webhooks/v1/endpoints", 200, { token: tokenOf(url) });
    expect(endpoints.data).toEqual([]);

    const narrow = await createApiKey(org.id, ["matters"]);
    expect((await call("POST", "/webhooks/v1/portal_sessions", { token: narrow, body: {} })).status).toBe(
      403,
    );
    // A portal session cannot open another (a read-only one would make itself writable).
    expect(
      (await call("POST", "/webhooks/v1/portal_sessions", { token: tokenOf(url), body: {} })).status,
    ).toBe(403);
  });

  it("acts on the API as its organization only", async () => {
    const mine = await createOrganization();
    const other = await createOrganization("Other");
    const { endpoint: theirs } = await createEndpoint(other.token, {
      url: "https://other.example/hook",
      eventTypeFilters: ["*"],
    });
    const token = await portalToken(mine.id);
    const created = await callOk("POST", "/webhooks/v1/endpoints", 201, {
      token,
      body: { url: "https://mine.example/hook", eventTypeFilters: ["matter.*"] },
    });
    const listed = await callOk("GET", "/webhooks/v1/endpoints", 200, { token });
    expect(listed.data.map((e: { id: string }) => e.id)).toEqual([created.endpoint.id]);
    expect((await call("GET", `/webhooks/v1/endpoints/${theirs.id}`, { token })).status).toBe(404);
  });

  it("reads but changes nothing with a read-only session", async () => {
    const org = await createOrganization();
    const { endpoint } = await createEndpoint(org.token, {
      url: "https://mine.example/ro",
      eventTypeFilters: ["*"],
    });
    const token = await portalToken(org.id, { readOnly: true });
    expect((await call("GET", `/webhooks/v1/endpoints/${endpoint.id}`, { token })).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", "/webhooks/v1/endpoints", { url: "https://x.example/a", eventTypeFilters: ["*"] }],
      ["PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, { description: "changed" }],
      ["DELETE", `/webhooks/v1/endpoints/${endpoint.id}`, undefined],
      ["POST", `/webhooks/v1/endpoints/${endpoint.id}/rotate_secret`, undefined],
    ] as const) {
      const response = await call(method, path, { token, body });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(await response.text()).toContain("read-only");
    }
    const after = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}`, 200, { token: org.token });
    expect(after.endpoint).toMatchObject({ description: "", status: "active" });
  });

  it("refuses an expired or tampered token with 401", async () => {
    const org = await createOrganization();
    const claims = { organizationId: org.id as OrganizationId, readOnly: false, theme: {} };
    const expired = (await signPortalToken(env, claims, -1, Date.now())).token;
    const valid = await portalToken(org.id);
    // Its claims changed (one character of the signed part), or its signature.
    const otherClaims = valid.replace(/^ps_(.)/, (_, c: string) => `ps_${c === "e" ? "f" : "e"}`);
    const otherSignature = valid.replace(/\.(.)/, (_, c: string) => `.${c === "A" ? "B" : "A"}`);
    for (const token of [expired, otherClaims, otherSignature, `${valid}x`, "ps_x.y", "ps_"]) {
      const response = await call("GET", "/webhooks/v1/endpoints", { token });
      expect(response.status, token).toBe(401);
    }
  });
});

describe("portal pages", () => {
  it("answers a request without a session with the 401 page, under a strict policy", async () => {
    const response = await call("GET", "/portal/endpoints");
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toContain("text/html");
    const policy = response.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(await response.text()).toContain("This portal link has expired");
  });

  it("exchanges a link's token for an HttpOnly cookie, and refuses a post without the session's CSRF token", async () => {
    const org = await createOrganization();
    const token = await portalToken(org.id);
    // Not followed: the test reads the answer that sets the cookie.
    const exchange = await exports.default.fetch("https://webhooks.test/portal/session", {
      method: "POST",
      body: new URLSearchParams({ token }),
      redirect: "manual",
    });
    expect(exchange.status).toBe(303);
    expect(exchange.headers.get("location")).toBe("/portal/endpoints");
    const cookie = exchange.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^portal_session=ps_/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("Secure");
    expect(cookie).toContain("SameSite=Strict");

    const session = cookie.split(";")[0] ?? "";
    const page = await call("GET", "/portal/endpoints", { headers: { cookie: session } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("No endpoints yet");
    const forged = await call("POST", "/portal/endpoints", {
      rawBody: new URLSearchParams({
        url: "https://x.example/a",
        eventTypeFilters: "*",
        _csrf: "guess",
      }).toString(),
      headers: { cookie: session, "content-type": "application/x-www-form-urlencoded" },
    });
    expect(forged.status).toBe(401);
    const listed = await callOk("GET", "/webhooks/v1/endpoints", 200, { token: org.token });
    expect(listed.data).toEqual([]);
  });
});
