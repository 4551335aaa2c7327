import { describe, expect, it } from "vitest";
import { callOk, eventually, publish } from "../../support/api";
import { givenEndpoint, type Receiver } from "../../support/fixtures";
import type { ReceivedRequest } from "../../support/receiver";

/** The event ids a receiver got, in arrival order, each run of one event's attempts told once. */
function sentInOrder(requests: readonly ReceivedRequest[]): string[] {
  const ids = requests.map((r) => r.headers["webhook-id"] ?? "");
  return ids.filter((id, i) => id !== ids[i - 1]);
}

async function receivedAll(receiver: Receiver, eventIds: readonly string[]): Promise<ReceivedRequest[]> {
  return eventually(async () => {
    const got = await receiver.received();
    const ids = new Set(got.map((r) => r.headers["webhook-id"]));
    return eventIds.every((id) => ids.has(id)) ? got : undefined;
  }, 30_000);
}

const matterEvent = (n: number, name = `Matter ${n}`) => ({ matterId: `matter_${n}`, name });

describe("ordered delivery", () => {
  it("sends an ordered endpoint's events one at a time in publish order, through failures", async () => {
    // The first event fails its first attempts (inline and queue retries) before it is delivered.
    const { org, receiver, endpoint } = await givenEndpoint({
      ordering: "endpoint",
      script: [{ status: 500 }, { status: 500 }, { status: 503 }],
    });
    // An unordered endpoint of the same organization, on its own receiver.
    const unordered = await givenEndpoint({ org });
    const events = [];
    for (let n = 1; n <= 5; n++) events.push(await publish(org.id, "matter.created", matterEvent(n)));
    const ids = events.map((e) => e.id);

    const requests = await receivedAll(receiver, ids);
    // Every attempt of event k came before any of event k+1: the next waits for the one before to succeed.
    expect(sentInOrder(requests)).toEqual(ids);
    expect(requests.filter((r) => r.headers["webhook-id"] === ids[0]).length).toBeGreaterThanOrEqual(4);
    const firstSuccess = requests.findLastIndex((r) => r.headers["webhook-id"] === ids[0]);
    expect(requests.slice(0, firstSuccess).every((r) => r.headers["webhook-id"] === ids[0])).toBe(true);

    // The unordered endpoint had them all while the ordered one was still retrying its first.
    const other = await receivedAll(unordered.receiver, ids);
    const lastUnordered = Math.max(...other.map((r) => r.receivedAt));
    expect(lastUnordered).toBeLessThan(requests[firstSuccess]?.receivedAt ?? 0);

    const { data } = await callOk("GET", `/webhooks/v1/deliveries?endpoint_id=${endpoint.id}`, 200, {
      token: org.token,
    });
    expect(data.map((d: { status: string }) => d.status)).toEqual(Array(5).fill("delivered"));
  });

  it("keeps each ordering key's lane apart: one key failing holds back only its own events", async () => {
    const { org, receiver } = await givenEndpoint({ ordering: "key" });
    // Key A's receiver path fails for good; key B's answers at once.
    await receiver.script([], undefined, [{ bodyIncludes: "fails-for-good", answer: { status: 500 } }]);
    const a1 = await publish(org.id, "matter.created", matterEvent(1, "fails-for-good"), {
      orderingKey: "A",
    });
    const b = [];
    for (let n = 2; n <= 4; n++)
      b.push(await publish(org.id, "matter.created", matterEvent(n), { orderingKey: "B" }));
    const a2 = await publish(org.id, "matter.created", matterEvent(5, "fails-for-good 2"), {
      orderingKey: "A",
    });

    const requests = await receivedAll(
      receiver,
      b.map((e) => e.id),
    );
    // Key B's events went in order while key A's first was still being retried.
    expect(sentInOrder(requests.filter((r) => r.headers["webhook-id"] !== a1.id))).toEqual(
      b.map((e) => e.id),
    );
    expect(requests.some((r) => r.headers["webhook-id"] === a2.id)).toBe(false);

    // A's second is sent only once its first has finally failed, and then after all of its attempts.
    const all = await receivedAll(receiver, [a1.id, a2.id]);
    const lastA1 = all.findLastIndex((r) => r.headers["webhook-id"] === a1.id);
    const firstA2 = all.findIndex((r) => r.headers["webhook-id"] === a2.id);
    expect(firstA2).toBeGreaterThan(lastA1);
    const failed = await eventually(async () => {
      const { data } = await callOk("GET", `/webhooks/v1/deliveries?event_id=${a1.id}`, 200, {
        token: org.token,
      });
      return data[0]?.status === "failed" ? data[0] : undefined;
    }, 30_000);
    expect(failed.attemptCount).toBeGreaterThan(1);
  });
});
