import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, callOk, createOrganization, eventually, publish } from "../../support/api";
import { HOSTILE_URLS } from "../../support/hostile-urls";

// This project runs with the production URL policy (ALLOW_INSECURE_URLS=false) and a limit of 100
// requests per period (a minute for API keys, ten seconds for the admin token) per credential. Tests run in order; the one that exhausts the admin token's
// budget comes last.

const SAFE_URL = "https://hooks.example.com/webhooks";

describe("server-side request forgery", () => {
  it("refuses every hostile URL at creation and at update, writing nothing", async () => {
    const org = await createOrganization();
    for (const url of HOSTILE_URLS) {
      const response = await call("POST", "/webhooks/v1/endpoints", {
        token: org.token,
        body: { url, eventTypeFilters: ["*"] },
      });
      expect(response.status, url).toBe(422);
      const problem = await response.json<{ errors: { path: string }[] }>();
      expect(problem.errors.map((e) => e.path)).toEqual(["url"]);
    }
    expect(
      await env.DB.prepare("SELECT COUNT(*) AS n FROM endpoints WHERE organization_id = ?")
        .bind(org.id)
        .first("n"),
    ).toBe(0);
  });

  it("refuses hostile URLs on update and keeps the endpoint as it was", async () => {
    const org = await createOrganization();
    const { endpoint } = await callOk("POST", "/webhooks/v1/endpoints", 201, {
      token: org.token,
      body: { url: SAFE_URL, eventTypeFilters: ["*"] },
    });
    for (const url of HOSTILE_URLS.slice(0, 40)) {
      const response = await call("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, {
        token: org.token,
        body: { url },
      });
      expect(response.status, url).toBe(422);
    }
    const after = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}`, 200, { token: org.token });
    expect(after.endpoint).toEqual(endpoint);
  });

  it("checks again at delivery time, without making the request", async () => {
    const org = await createOrganization();
    const { endpoint } = await callOk("POST", "/webhooks/v1/endpoints", 201, {
      token: org.token,
      body: { url: SAFE_URL, eventTypeFilters: ["matter.*"] },
    });
    // As if the URL had been stored under an older, laxer policy.
    await env.DB.prepare("UPDATE endpoints SET url = ? WHERE id = ?")
      .bind("https://169.254.169.254/latest/meta-data/", endpoint.id)
      .run();
    const event = await publish(org.id, "matter.created", { matterId: "m", name: "n" });
    const delivery = await eventually(async () => {
      const { data } = await callOk("GET", `/webhooks/v1/deliveries?event_id=${event.id}`, 200, {
        token: org.token,
      });
      return data[0]?.status === "failed" ? data[0] : undefined;
    });
    expect(delivery).toMatchObject({ lastError: "url_not_allowed", attemptCount: 0 });
  });
});

describe("throttling", () => {
  it("answers 429 problem+json with Retry-After past the per-key limit, for that key only", async () => {
    const org = await createOrganization();
    const other = await createOrganization();
    let throttled: Response | undefined;
    for (let i = 0; i < 101 && !throttled; i++) {
      const response = await call("GET", "/webhooks/v1/endpoints", { token: org.token });
      if (response.status === 429) throttled = response;
      else expect(response.status).toBe(200);
    }
    expect(throttled?.headers.get("content-type")).toBe("application/problem+json");
    expect(throttled?.headers.get("retry-after")).toBe("60");
    expect(await throttled?.json()).toMatchObject({ status: 429, title: "Too Many Requests" });
    await callOk("GET", "/webhooks/v1/endpoints", 200, { token: other.token });
  });

  it("throttles publishing with the admin token too", async () => {
    const org = await createOrganization();
    let status = 0;
    for (let i = 0; i < 101 && status !== 429; i++) {
      status = (
        await call("POST", "/webhooks/v1/events", {
          token: ADMIN_TOKEN,
          body: { organizationId: org.id, type: "webhook.test", data: { i } },
        })
      ).status;
    }
    expect(status).toBe(429);
  });
});
