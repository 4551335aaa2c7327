import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, callOk, createOrganization, eventually, publish } from "../../support/api";
import { HOSTILE_URLS, HOSTILE_URLS_BY_REASON } from "../../support/hostile-urls";

// This project runs with the production URL policy (ALLOW_INSECURE_URLS=false), a limit of 100
// requests per period (a minute for API keys, ten seconds for the admin token) per credential, and
// wrangler.toml's 20 refused credentials per 10 s per client address. Tests run in order; the one that
// exhausts the admin token's budget comes last. Requests without CF-Connecting-IP share one address,
// so the test of refused credentials sends its own addresses.

const SAFE_URL = "https://hooks.example.com/webhooks";

describe("server-side request forgery", () => {
  it("refuses every hostile URL at creation and at update, writing nothing", async () => {
    const org = await createOrganization();
    // Here URLs are parsed by the runtime itself (the unit test of the policy runs in Node).
    for (const [reason, urls] of Object.entries(HOSTILE_URLS_BY_REASON)) {
      for (const url of urls) {
        const response = await call("POST", "/webhooks/v1/endpoints", {
          token: org.token,
          body: { url, eventTypeFilters: ["*"] },
        });
        expect(response.status, url).toBe(422);
        const problem = await response.json<{ errors: { path: string; message: string }[] }>();
        expect(problem.errors, url).toEqual([{ path: "url", message: reason }]);
      }
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

describe("refused credentials, per client address", () => {
  const from = (address: string, token: string) =>
    call("GET", "/webhooks/v1/endpoints", { token, headers: { "cf-connecting-ip": address } });

  it("past the limit refuses the address before any key look-up, for one period; other addresses go on", async () => {
    const org = await createOrganization();
    const guesser = "198.51.100.7";
    const platform = "203.0.113.9";
    // Good credentials are never counted, however many come from one address.
    const good = await Promise.all(Array.from({ length: 40 }, () => from(platform, org.token)));
    expect(good.map((r) => r.status)).toEqual(good.map(() => 200));

    // The limiter counts in windows aligned to the clock: sending up to three limits' worth, in waves,
    // is sure to cross it once.
    let throttled: Response | undefined;
    for (let sent = 0; sent < 60 && !throttled; sent += 10) {
      const responses = await Promise.all(
        Array.from({ length: 10 }, (_, i) => from(guesser, `sk_guess${sent + i}`)),
      );
      throttled = responses.find((r) => r.status === 429);
      for (const response of responses) expect([401, 429]).toContain(response.status);
    }
    expect(throttled?.headers.get("content-type")).toBe("application/problem+json");
    expect(throttled?.headers.get("retry-after")).toBe("10");

    // From now on the address is refused before its token is looked at: a valid key too, and the
    // admin token, while the same key from another address works.
    const blocked = await from(guesser, org.token);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeLessThanOrEqual(10);
    expect(await blocked.json()).toMatchObject({
      status: 429,
      detail: expect.stringContaining("refused credentials"),
    });
    const admin = await call("GET", "/admin/v1/organizations", {
      token: ADMIN_TOKEN,
      headers: { "cf-connecting-ip": guesser },
    });
    expect(admin.status).toBe(429);
    expect((await from(platform, org.token)).status).toBe(200);
    expect((await from(platform, "sk_one-mistake")).status).toBe(401);
  });
});

describe("throttling", () => {
  // The limiter counts in windows aligned to the clock, so a run of requests can straddle a window
  // boundary and start over from zero. Sending up to three limits' worth, in concurrent waves so a
  // slow machine still fits a full limit inside one window, is sure to cross the limit once.
  async function firstThrottled(send: () => Promise<Response>, limit = 100): Promise<Response | undefined> {
    for (let sent = 0; sent < 3 * limit; sent += 20) {
      const responses = await Promise.all(Array.from({ length: 20 }, send));
      const throttled = responses.find((response) => response.status === 429);
      if (throttled) return throttled;
      for (const response of responses) expect(response.status).toBeLessThan(300);
    }
    return undefined;
  }

  it("answers 429 problem+json with Retry-After past the per-key limit, for that key only", async () => {
    const org = await createOrganization();
    const other = await createOrganization();
    const throttled = await firstThrottled(() => call("GET", "/webhooks/v1/endpoints", { token: org.token }));
    expect(throttled?.headers.get("content-type")).toBe("application/problem+json");
    expect(throttled?.headers.get("retry-after")).toBe("60");
    expect(await throttled?.json()).toMatchObject({ status: 429, title: "Too Many Requests" });
    await callOk("GET", "/webhooks/v1/endpoints", 200, { token: other.token });
  });

  it("throttles an endpoint's public JWKS per client address", async () => {
    const org = await createOrganization();
    const { endpoint } = await callOk("POST", "/webhooks/v1/endpoints", 201, {
      token: org.token,
      body: { url: SAFE_URL, eventTypeFilters: ["*"], signatureAlgorithm: "ed25519" },
    });
    const from = (address: string) => () =>
      call("GET", `/webhooks/v1/jwks/${endpoint.id}`, { headers: { "cf-connecting-ip": address } });
    const throttled = await firstThrottled(from("203.0.113.77"));
    expect(throttled?.headers.get("retry-after")).toBe("60");
    expect((await from("203.0.113.78")()).status).toBe(200);
  });

  it("throttles publishing with the admin token too", async () => {
    const org = await createOrganization();
    const throttled = await firstThrottled(() =>
      call("POST", "/webhooks/v1/events", {
        token: ADMIN_TOKEN,
        body: { organizationId: org.id, type: "webhook.test", data: {} },
      }),
    );
    expect(throttled?.status).toBe(429);
    expect(throttled?.headers.get("retry-after")).toBe("10");
  });
});
