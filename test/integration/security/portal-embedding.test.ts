import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, callOk, createOrganization } from "../../support/api";

/** With PORTAL_FRAME_ANCESTORS set (this project's vars), the portal may be framed by that origin alone. */
describe("the portal embedded in a platform's page", () => {
  it("names the platform's origin as the only frame ancestor, and sends a cookie a frame can keep", async () => {
    const org = await createOrganization();
    const { url } = await callOk("POST", `/admin/v1/organizations/${org.id}/portal_sessions`, 201, {
      token: ADMIN_TOKEN,
    });
    const exchange = await exports.default.fetch("https://webhooks.test/portal/session", {
      method: "POST",
      body: new URLSearchParams({ token: new URL(url).hash.slice(1) }),
      redirect: "manual",
    });
    expect(exchange.status).toBe(303);
    expect(exchange.headers.get("content-security-policy")).toContain(
      "frame-ancestors https://app.example.com",
    );
    expect(exchange.headers.get("x-frame-options")).toBeNull();
    // A third-party frame gets no SameSite=Strict cookie: None, partitioned per embedding site.
    const cookie = exchange.headers.get("set-cookie") ?? "";
    expect(cookie).toContain("SameSite=None");
    expect(cookie).toContain("Partitioned");
    expect(cookie).toContain("Secure");
  });
});
