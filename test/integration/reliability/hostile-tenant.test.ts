import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  callOk,
  createEndpoint,
  createOrganization,
  eventually,
  publish,
  publishRpc,
  receiverChannel,
} from "../../support/api";
import { publishSettled } from "../../support/fixtures";

/**
 * Property: whatever one organization sends, through whichever door data comes in, the answer is
 * never a 5xx, a refusal is problem+json, and the other organizations' events, published in between,
 * all arrive. What it got accepted is delivered too, or visibly failed: nothing vanishes.
 */

/** JSON text that tries each way of breaking a JSON pipeline (or none). */
const hostileJson: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 1, max: 30_000 }).map((depth) => "[".repeat(depth) + "]".repeat(depth)),
  fc.integer({ min: 1, max: 40 }).map((depth) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`),
  fc.integer({ min: 0, max: 70_000 }).map((length) => JSON.stringify("y".repeat(length))),
  fc.constantFrom('"\\ud800"', '"a\\udc00b"', '{"\\ud83d":1}', '"\\ud83d\\ude00"'),
  fc.constantFrom(
    '{"__proto__":{"polluted":true}}',
    '[{"__proto__":null}]',
    '{"constructor":{"prototype":1}}',
  ),
  fc.constantFrom("1e400", "-1e400", "1e-400", "9007199254740993", "-0", "[1e308,1e309]"),
  fc.jsonValue({ maxDepth: 5 }).map((value) => JSON.stringify(value)),
);

type Door = "publish" | "publish-rpc" | "test-send" | "replay" | "endpoint-create" | "endpoint-patch";
const DOORS: Door[] = ["publish", "publish-rpc", "test-send", "replay", "endpoint-create", "endpoint-patch"];

describe("a hostile tenant", () => {
  it("never costs other tenants their events, whatever it sends through whichever door", async () => {
    const hostile = await createOrganization("A");
    const hostileReceiver = receiverChannel();
    const { endpoint } = await createEndpoint(hostile.token, {
      url: hostileReceiver.url,
      eventTypeFilters: ["*"],
    });
    const { event: first, delivery } = await publishSettled(hostile, {
      type: "webhook.test",
      data: { hello: "world" },
    });
    const others = await Promise.all(
      ["B", "C"].map(async (name) => {
        const org = await createOrganization(name);
        const receiver = receiverChannel();
        await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
        return { org, receiver, published: [] as string[] };
      }),
    );

    const accepted: string[] = [first.id];
    const answers = new Map<Door, number[]>();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...DOORS), hostileJson, async (door, value) => {
        runs++;
        // An ordinary event of another organization, published while the hostile one is busy.
        const other = others[runs % others.length] as (typeof others)[number];
        const ordinary = await publish(other.org.id, "matter.created", { matterId: `m_${runs}`, name: "n" });
        other.published.push(ordinary.id);

        const status = await knock(
          door,
          value,
          { hostile, endpointId: endpoint.id, deliveryId: delivery.id, runs },
          accepted,
        );
        answers.set(door, [...(answers.get(door) ?? []), status]);
        expect(status, `${door} ${value.slice(0, 80)}`).toBeLessThan(500);
      }),
      { numRuns: 150, seed: 20261130 },
    );
    expect(runs).toBe(150);
    // Every door was tried, and each refused something and let something through.
    for (const door of DOORS) {
      const statuses = answers.get(door) ?? [];
      expect(
        statuses.some((s) => s >= 400),
        door,
      ).toBe(true);
    }
    expect(accepted.length).toBeGreaterThan(5);

    for (const { receiver, published } of others) {
      await eventually(async () => {
        const seen = new Set((await receiver.received()).map((r) => r.headers["webhook-id"]));
        return published.every((id) => seen.has(id));
      }, 60_000);
    }
    // What the hostile tenant got accepted was fanned out and delivered, like anyone's.
    await eventually(async () => {
      const seen = new Set((await hostileReceiver.received()).map((r) => r.headers["webhook-id"]));
      return accepted.every((id) => seen.has(id));
    }, 60_000);
    for (const id of accepted) {
      const { event } = await callOk("GET", `/webhooks/v1/events/${id}`, 200, { token: hostile.token });
      expect(event.fanOut).toEqual({ status: "done", error: null });
    }
    // 150 requests and the deliveries they start: seconds alone, longer with other files running.
  }, 90_000);
});

type Context = {
  hostile: { id: string; token: string };
  endpointId: string;
  deliveryId: string;
  runs: number;
};

/** Sends `value` through `door` as raw JSON text; returns the status (RPC: its result's). */
async function knock(door: Door, value: string, ctx: Context, accepted: string[]): Promise<number> {
  const { hostile, endpointId, deliveryId, runs } = ctx;
  if (door === "publish-rpc") {
    const request = { organizationId: hostile.id, type: "webhook.test", data: { v: JSON.parse(value) } };
    const result = await publishRpc(request).catch(() => null);
    // The runtime itself may refuse to carry a document this deep: refused before our code, fine.
    if (result === null) return 400;
    if (result.ok) accepted.push(result.event.id);
    return result.ok ? 202 : result.status;
  }
  const [method, path, token, body] = {
    publish: [
      "POST",
      "/webhooks/v1/events",
      ADMIN_TOKEN,
      `{"organizationId":"${hostile.id}","type":"webhook.test","data":{"v":${value}}}`,
    ],
    "test-send": [
      "POST",
      `/webhooks/v1/endpoints/${endpointId}/test`,
      hostile.token,
      `{"payload":{"v":${value}}}`,
    ],
    replay: [
      "POST",
      `/webhooks/v1/deliveries/${deliveryId}/replay`,
      hostile.token,
      `{"payload":{"v":${value}}}`,
    ],
    "endpoint-create": [
      "POST",
      "/webhooks/v1/endpoints",
      hostile.token,
      `{"url":"https://hooks.example.com/${runs}","eventTypeFilters":["matter.*"],"headers":{"x-v":${value}}}`,
    ],
    "endpoint-patch": [
      "PATCH",
      `/webhooks/v1/endpoints/${endpointId}`,
      hostile.token,
      `{"description":${value}}`,
    ],
  }[door] as [string, string, string, string];
  const response = await call(method, path, {
    token,
    rawBody: body,
    headers: { "content-type": "application/json" },
  });
  const text = await response.text();
  if (response.status >= 400) {
    expect(response.headers.get("content-type"), text).toBe("application/problem+json");
  } else if (door === "publish") {
    accepted.push(JSON.parse(text).event.id);
  }
  return response.status;
}
