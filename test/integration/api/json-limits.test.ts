import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createOrganization, publishRpc } from "../../support/api";
import { givenEndpoint, publishSettled } from "../../support/fixtures";
import { countOfOrganization } from "../../support/shards";

/** JSON text of an array nested `depth` deep. */
const nestedText = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

/** Sends raw JSON text, as a client could, and returns the problem it got back. */
async function send(method: string, path: string, token: string, rawBody: string) {
  const response = await call(method, path, {
    token,
    rawBody,
    headers: { "content-type": "application/json" },
  });
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  return { status: response.status, problem: await response.json<{ detail: string; errors: unknown[] }>() };
}

async function eventCount(organizationId: string) {
  return countOfOrganization(organizationId, "events");
}

describe("JSON bodies are bounded at every door", () => {
  it("refuses nesting past MAX_JSON_DEPTH (32 here) with 422 naming it, wherever data comes in", async () => {
    const { org, receiver, endpoint } = await givenEndpoint({ filters: ["*"] });
    const { delivery } = await publishSettled(org, { type: "webhook.test", data: { hello: "world" } });
    const before = await eventCount(org.id);

    // The body is depth 1 and data depth 2, so an array under data.x may nest 30 deep, not 31.
    const deep = (depth: number) => `{"x":${nestedText(depth)}}`;
    const doors: [string, string, string, (data: string) => string][] = [
      [
        "POST",
        "/webhooks/v1/events",
        ADMIN_TOKEN,
        (d) => `{"organizationId":"${org.id}","type":"webhook.test","data":${d}}`,
      ],
      ["POST", `/webhooks/v1/endpoints/${endpoint.id}/test`, org.token, (d) => `{"payload":${d}}`],
      ["POST", `/webhooks/v1/deliveries/${delivery.id}/replay`, org.token, (d) => `{"payload":${d}}`],
      [
        "POST",
        "/webhooks/v1/endpoints",
        org.token,
        (d) => `{"url":"${receiver.url}","eventTypeFilters":["*"],"headers":${d}}`,
      ],
      ["PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, org.token, (d) => `{"headers":${d}}`],
    ];
    for (const [method, path, token, body] of doors) {
      for (const depth of [31, 4_500, 30_000]) {
        const { status, problem } = await send(method, path, token, body(deep(depth)));
        expect(status, `${path} at ${depth}`).toBe(422);
        expect(problem.detail, path).toMatch(/MAX_JSON_DEPTH/);
      }
    }
    expect(await eventCount(org.id)).toBe(before);
    expect(await receiver.received()).toHaveLength(1);

    // One level less goes through (the data matches the test type's schema).
    const accepted = await call("POST", "/webhooks/v1/events", {
      token: ADMIN_TOKEN,
      rawBody: doors[0]?.[3](`{"x":${nestedText(30)}}`),
      headers: { "content-type": "application/json" },
    });
    expect(accepted.status).toBe(202);
  });

  it("refuses what JSON would silently alter: numbers out of range, __proto__ keys, lone surrogates", async () => {
    const org = await createOrganization();
    const before = await eventCount(org.id);
    const cases: [string, string][] = [
      ['{"score":1e400}', "data.score"],
      ['{"__proto__":{"admin":true}}', "data.__proto__"],
      ['{"name":"\\ud800"}', "data.name"],
      ['{"\\udfff":1}', "data.?"],
    ];
    for (const [data, path] of cases) {
      const { status, problem } = await send(
        "POST",
        "/webhooks/v1/events",
        ADMIN_TOKEN,
        `{"organizationId":"${org.id}","type":"webhook.test","data":${data}}`,
      );
      expect(status, data).toBe(422);
      expect(problem.errors, data).toEqual([{ path, message: expect.any(String) }]);
    }
    expect(await eventCount(org.id)).toBe(before);
  });

  it("applies the same bounds to publishing over RPC, and its body size too", async () => {
    const org = await createOrganization();
    let data: unknown = [];
    for (let i = 0; i < 100; i++) data = [data];
    const deep = await publishRpc({ organizationId: org.id, type: "webhook.test", data: { x: data } });
    expect(deep).toMatchObject({ ok: false, status: 422, detail: expect.stringMatching(/MAX_JSON_DEPTH/) });

    const notJson = await publishRpc({
      organizationId: org.id,
      type: "webhook.test",
      data: { at: new Date() as unknown as string, n: Number.NaN },
    });
    expect(notJson).toMatchObject({ ok: false, status: 422 });

    const huge = await publishRpc({
      organizationId: org.id,
      type: "webhook.test",
      data: { x: "x".repeat(70_000) },
    });
    expect(huge).toMatchObject({ ok: false, status: 413 }); // MAX_PAYLOAD_BYTES is 64 KiB in tests

    const key = await publishRpc({
      organizationId: org.id,
      type: "webhook.test",
      data: {},
      idempotencyKey: 42 as unknown as string,
    });
    expect(key).toMatchObject({ ok: false, status: 422 });
    expect(await eventCount(org.id)).toBe(0);
  });
});
