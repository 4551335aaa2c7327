import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call } from "../../support/api";
import { givenEndpoint, publishSettled } from "../../support/fixtures";
import { countOnEveryShard } from "../../support/shards";

/**
 * Property: whatever body, query string and headers reach whatever route, the answer is never a 5xx,
 * every error is problem+json, and a refused request writes nothing.
 */
const ROUTES = [
  ["POST", "/admin/v1/organizations"],
  ["GET", "/admin/v1/organizations"],
  ["POST", "/admin/v1/organizations/{org}/api_keys"],
  ["DELETE", "/admin/v1/api_keys/{id}"],
  ["POST", "/admin/v1/secrets/reencrypt"],
  ["POST", "/webhooks/v1/events"],
  ["GET", "/webhooks/v1/events"],
  ["GET", "/webhooks/v1/events/{event}"],
  ["GET", "/webhooks/v1/event_types"],
  ["POST", "/webhooks/v1/endpoints"],
  ["GET", "/webhooks/v1/endpoints"],
  ["GET", "/webhooks/v1/endpoints/{endpoint}"],
  ["PATCH", "/webhooks/v1/endpoints/{endpoint}"],
  ["DELETE", "/webhooks/v1/endpoints/{id}"],
  ["POST", "/webhooks/v1/endpoints/{endpoint}/rotate_secret"],
  ["POST", "/webhooks/v1/endpoints/{id}/test"],
  ["POST", "/webhooks/v1/endpoints/{endpoint}/recover"],
  ["GET", "/webhooks/v1/endpoints/{endpoint}/health"],
  ["GET", "/webhooks/v1/endpoints/{endpoint}/lanes"],
  ["GET", "/webhooks/v1/endpoints/{endpoint}/lanes/queue"],
  ["GET", "/webhooks/v1/deliveries"],
  ["GET", "/webhooks/v1/deliveries/{delivery}"],
  ["POST", "/webhooks/v1/deliveries/{id}/replay"],
] as const;

/** Everything a refused request must leave alone (tables the queues also write are left out). */
async function snapshot(): Promise<string> {
  const row = await env.DB.prepare(
    `SELECT (SELECT COUNT(*) FROM organizations) AS orgs,
            (SELECT COUNT(*) || ':' || COUNT(revoked_at) FROM api_keys) AS keys,
            (SELECT COUNT(*) || ':' || COUNT(deleted_at) || ':' || IFNULL(MAX(updated_at), '') FROM endpoints) AS endpoints,
            (SELECT COUNT(*) || ':' || COUNT(expires_at) FROM endpoint_secrets) AS secrets`,
  ).first();
  const events = await countOnEveryShard("events");
  return JSON.stringify({ ...row, events });
}

const jsonish = fc.oneof(
  fc.json(),
  fc.string(),
  fc.constant(""),
  fc.constant("{"),
  fc.jsonValue().map((v) => JSON.stringify({ url: v, eventTypeFilters: v, type: v, data: v, name: v })),
  fc
    .record({
      url: fc.oneof(fc.webUrl(), fc.string()),
      eventTypeFilters: fc.array(fc.oneof(fc.constant("*"), fc.constant("matter.*"), fc.string())),
      headers: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())),
      timeoutMs: fc.oneof(fc.integer(), fc.double(), fc.string()),
      payloadFilter: fc.oneof(fc.jsonValue(), fc.record({ path: fc.string(), eq: fc.jsonValue() })),
      retrySchedule: fc.oneof(fc.array(fc.integer()), fc.array(fc.double()), fc.constant(null), fc.string()),
      ordering: fc.oneof(fc.constantFrom("none", "endpoint", "key"), fc.string(), fc.integer()),
      orderingKey: fc.oneof(fc.string({ maxLength: 200 }), fc.integer(), fc.constant(null)),
      rateLimitPerSecond: fc.oneof(fc.integer(), fc.constant(null), fc.boolean()),
      previousSecretExpiresInSec: fc.oneof(fc.integer(), fc.double(), fc.string()),
      since: fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        fc.string(),
      ),
      payload: fc.jsonValue(),
      scopes: fc.array(fc.string()),
    })
    .map((r) => JSON.stringify(r)),
);

describe("hostile input", () => {
  // 800 requests, each between two reads of the database, one after another: about 16 s alone, and
  // up to four times as long beside two other test files on two busy cores (1,200 took 90 s there).
  it("never answers 5xx, always problem+json for errors, and refused requests write nothing", async () => {
    const { org, endpoint } = await givenEndpoint();
    const { event, delivery } = await publishSettled(org);
    const ids: Record<string, string> = {
      org: org.id,
      endpoint: endpoint.id,
      event: event.id,
      delivery: delivery.id,
    };

    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.option(jsonish, { nil: undefined }),
        fc.dictionary(
          fc.constantFrom("limit", "cursor", "status", "since", "until", "event_type", "endpoint_id", "lane"),
          fc.string(),
        ),
        fc.constantFrom(
          "application/json",
          "application/json; charset=utf-8",
          "text/plain",
          "",
          "application/x-www-form-urlencoded",
        ),
        fc.constantFrom("admin", "key", "garbage", "none"),
        fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
        fc.boolean(),
        async ([method, template], body, query, contentType, auth, idempotencyKey, realIds) => {
          runs++;
          const path = template.replace(/\{(\w+)\}/g, (_, name: string) =>
            realIds && ids[name] ? (ids[name] as string) : encodeURIComponent(`${name}_${runs}`),
          );
          const search = new URLSearchParams(query).toString();
          const headers: Record<string, string> = {};
          if (contentType) headers["content-type"] = contentType;
          if (idempotencyKey !== undefined)
            headers["idempotency-key"] = idempotencyKey.replace(/[\r\n]/g, "");
          const token = { admin: ADMIN_TOKEN, key: org.token, garbage: "sk_garbage", none: undefined }[auth];
          const before = await snapshot();
          const response = await call(method, `${path}${search ? `?${search}` : ""}`, {
            token,
            rawBody: method === "GET" ? undefined : body, // fetch cannot send a GET body
            headers,
          });
          const text = await response.text();
          expect(response.status, `${method} ${path} → ${text}`).toBeLessThan(500);
          if (response.status >= 400) {
            expect(response.headers.get("content-type")).toBe("application/problem+json");
            expect(JSON.parse(text)).toMatchObject({ status: response.status, title: expect.any(String) });
            expect(await snapshot(), `${method} ${path} changed data though refused`).toBe(before);
          }
        },
      ),
      { numRuns: 800, seed: 20261123 },
    );
    expect(runs).toBeGreaterThanOrEqual(800);
  }, 90_000);

  it("refuses a streamed body over MAX_PAYLOAD_BYTES with 413 without reading it whole", async () => {
    let pulled = 0;
    const chunk = new TextEncoder().encode(`"${"x".repeat(1022)}",`);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"data":['));
      },
      pull(controller) {
        pulled += chunk.byteLength;
        if (pulled > 8 * 1024 * 1024) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const response = await call("POST", "/webhooks/v1/events", {
      token: ADMIN_TOKEN,
      headers: { "content-type": "application/json" },
      rawBody: body as unknown as string,
    });
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(pulled).toBeLessThan(1024 * 1024); // MAX_PAYLOAD_BYTES is 64 KiB in tests
  });
});
