import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, callOk } from "../../support/api";
import { tokenHash } from "../../support/secrets";

describe("admin API", () => {
  it("creates and lists organizations", async () => {
    const { organization } = await callOk("POST", "/admin/v1/organizations", 201, {
      token: ADMIN_TOKEN,
      body: { name: "Initech" },
    });
    expect(organization).toEqual({
      id: expect.stringMatching(/^org_/),
      name: "Initech",
      shard: expect.any(Number),
      createdAt: expect.any(String),
    });
    const { data } = await callOk("GET", "/admin/v1/organizations?limit=100", 200, { token: ADMIN_TOKEN });
    expect(data).toContainEqual(organization);
  });

  it("issues API keys shown once and stored only as a hash", async () => {
    const { organization } = await callOk("POST", "/admin/v1/organizations", 201, {
      token: ADMIN_TOKEN,
      body: { name: "Hooli" },
    });
    const { apiKey, token } = await callOk(
      "POST",
      `/admin/v1/organizations/${organization.id}/api_keys`,
      201,
      {
        token: ADMIN_TOKEN,
        body: { name: "ci", scopes: ["vaults", "cases"] },
      },
    );
    expect(token).toMatch(/^sk_/);
    expect(apiKey).toMatchObject({
      id: expect.stringMatching(/^key_/),
      name: "ci",
      scopes: ["vaults", "cases"],
    });
    const rows = JSON.stringify((await env.DB.prepare("SELECT * FROM api_keys").all()).results);
    expect(rows).not.toContain(token.slice(3));
    const stored = await env.DB.prepare("SELECT token_hash FROM api_keys WHERE id = ?")
      .bind(apiKey.id)
      .first<string>("token_hash");
    expect(stored).toBe(await tokenHash(token));
    // And the key is found by that hash.
    await callOk("GET", "/webhooks/v1/endpoints", 200, { token });
  });

  it("refuses unknown scopes and unknown organizations", async () => {
    const { organization } = await callOk("POST", "/admin/v1/organizations", 201, {
      token: ADMIN_TOKEN,
      body: { name: "Umbrella" },
    });
    const bad = await call("POST", `/admin/v1/organizations/${organization.id}/api_keys`, {
      token: ADMIN_TOKEN,
      body: { name: "x", scopes: ["everything"] },
    });
    expect(bad.status).toBe(422);
    const missing = await call("POST", "/admin/v1/organizations/org_missing/api_keys", {
      token: ADMIN_TOKEN,
      body: { name: "x" },
    });
    expect(missing.status).toBe(404);
    expect((await call("DELETE", "/admin/v1/api_keys/key_missing", { token: ADMIN_TOKEN })).status).toBe(404);
    const blank = await call("POST", "/admin/v1/organizations", { token: ADMIN_TOKEN, body: { name: "  " } });
    expect(blank.status).toBe(422);
  });
});
