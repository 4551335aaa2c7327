import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeliveryMessage } from "../../../src/domain/delivery";
import { OrderedLanes } from "../../../src/ordering/ordered-lanes";
import { callOk, deliveryDetail, eventually, publish, settledDeliveries } from "../../support/api";
import { consume, publishCaptured } from "../../support/consumers";
import { batchOf, refuseDeliveryRow } from "../../support/faults";
import { givenEndpoint, healthObject, type Receiver } from "../../support/fixtures";
import type { ReceivedRequest } from "../../support/receiver";
import { rowTable } from "../../support/shards";

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

describe("ordered delivery, late and held", () => {
  it("holds a lane's next event while a lower-numbered event of the organization is still pending fan-out", async () => {
    const { org, receiver, endpoint } = await givenEndpoint({ ordering: "endpoint" });
    // Both are accepted (numbered); their fan-out messages are kept back and handed in the wrong order.
    const first = await publishCaptured(org.id);
    const second = await publishCaptured(org.id);
    await consume(batchOf("webhook-events", [second.message]));

    const lane = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}/lanes/queue`, 200, {
      token: org.token,
    });
    expect(lane).toMatchObject({ lane: "", length: 1, held: false });
    // Waiting, not sent: the first event may still be on its way to this lane.
    expect(lane.data).toEqual([expect.objectContaining({ position: 0, state: "waiting", at: null })]);
    const waiting = await deliveryDetail(org.token, lane.data[0].deliveryId);
    expect(waiting).toMatchObject({
      status: "pending",
      eventId: second.event.id,
      lane: { lane: "", position: 0 },
    });

    await consume(batchOf("webhook-events", [first.message]));
    const requests = await receivedAll(receiver, [first.event.id, second.event.id]);
    expect(sentInOrder(requests)).toEqual([first.event.id, second.event.id]);
  });

  it("holds a disabled endpoint's lanes, keeping every delivery pending in order, and resumes them when enabled", async () => {
    const { org, receiver, endpoint } = await givenEndpoint({ ordering: "endpoint", retrySchedule: [5, 5] });
    await receiver.script([], undefined, [{ bodyIncludes: "down-for-now", answer: { status: 500 } }]);
    const events = [await publish(org.id, "matter.created", matterEvent(1, "down-for-now"))];
    for (let n = 2; n <= 3; n++) events.push(await publish(org.id, "matter.created", matterEvent(n)));
    const laneOf = () =>
      callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}/lanes`, 200, { token: org.token });
    await eventually(async () => (await laneOf()).data[0]?.length === 3);

    await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { status: "disabled" },
    });
    const [held] = (await laneOf()).data;
    expect(held).toMatchObject({ lane: "", length: 3, held: true });
    const { data } = await callOk("GET", `/webhooks/v1/deliveries?endpoint_id=${endpoint.id}`, 200, {
      token: org.token,
    });
    expect(data.map((d: { status: string }) => d.status)).toEqual(["pending", "pending", "pending"]);

    await receiver.script([]);
    await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { status: "active" },
    });
    const requests = await receivedAll(
      receiver,
      events.map((e) => e.id),
    );
    expect(sentInOrder(requests)).toEqual(events.map((e) => e.id));
    await settledDeliveries(org.token, `endpoint_id=${endpoint.id}&status=delivered`, 3, 30_000);
  });

  it("sends a replay of a failed delivery at its lane's tail, after what was accepted before it", async () => {
    const { org, receiver } = await givenEndpoint({ ordering: "endpoint", retrySchedule: [1] });
    await receiver.script([], undefined, [{ bodyIncludes: "fails-once-for-good", answer: { status: 500 } }]);
    const failing = await publish(org.id, "matter.created", matterEvent(1, "fails-once-for-good"));
    const next = await publish(org.id, "matter.created", matterEvent(2));
    const [failed] = await settledDeliveries(org.token, `event_id=${failing.id}&status=failed`, 1, 30_000);
    await receivedAll(receiver, [next.id]);

    await receiver.script([]);
    const { delivery: replay } = await callOk("POST", `/webhooks/v1/deliveries/${failed.id}/replay`, 202, {
      token: org.token,
    });
    const later = await publish(org.id, "matter.created", matterEvent(3));
    const requests = await receivedAll(receiver, [later.id]);
    const ids = sentInOrder(requests);
    // The failed event, its next, then the replay (numbered after both), then what came after it.
    expect(ids).toEqual([failing.id, next.id, failing.id, later.id]);
    const replayed = requests.find((r) => r.headers["webhook-delivery-id"] === replay.id);
    expect(replayed?.headers["webhook-replay-of"]).toBe(failed.id);
  });
});

describe("ordered delivery under the endpoint's rules", () => {
  it("keeps the order through the endpoint's rate limit", async () => {
    const { org, receiver } = await givenEndpoint({ ordering: "endpoint", rateLimitPerSecond: 1 });
    const events = [];
    for (let n = 1; n <= 3; n++) events.push(await publish(org.id, "matter.created", matterEvent(n)));
    const requests = await receivedAll(
      receiver,
      events.map((e) => e.id),
    );
    expect(requests.map((r) => r.headers["webhook-id"])).toEqual(events.map((e) => e.id));
  });

  it("holds the lane of an endpoint a 410 Gone disabled, the next delivery pending, until it is enabled", async () => {
    const { org, receiver, endpoint } = await givenEndpoint({ ordering: "endpoint" });
    await receiver.script([{ status: 410 }]);
    const gone = await publish(org.id, "matter.created", matterEvent(1));
    const next = await publish(org.id, "matter.created", matterEvent(2));
    await settledDeliveries(org.token, `event_id=${gone.id}&status=failed`, 1);
    const lanes = await eventually(async () => {
      const page = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}/lanes`, 200, {
        token: org.token,
      });
      return page.data[0]?.held ? page : undefined;
    });
    expect(lanes.data).toEqual([expect.objectContaining({ lane: "", length: 1, held: true })]);
    const { endpoint: disabled } = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
    });
    expect(disabled).toMatchObject({ status: "auto_disabled", disabledReason: { cause: "gone" } });
    expect(sentInOrder(await receiver.received())).toEqual([gone.id]);

    await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { status: "active" },
    });
    await receivedAll(receiver, [next.id]);
    await settledDeliveries(org.token, `event_id=${next.id}&status=delivered`, 1);
  });
});

/**
 * An ordered endpoint with two accepted events in its lane, whose deliveries the test takes by hand:
 * the lanes hold (the endpoint stays active) until `takeAt(now)`, which looks at them at `now` with
 * their deliveries collected in `sent` instead of sent.
 */
async function laneTakenByHand() {
  const { org, receiver, endpoint } = await givenEndpoint({ ordering: "endpoint" });
  const lanesObject = healthObject(endpoint.id);
  await lanesObject.holdOrdered();
  const first = await publishCaptured(org.id);
  const second = await publishCaptured(org.id);
  await consume(batchOf("webhook-events", [first.message, second.message]));
  const sent: DeliveryMessage[] = [];
  const takeAt = (now: number) =>
    runInDurableObject(lanesObject, async (_, state) => {
      const lanes = new OrderedLanes(state.storage.sql, env, (messages) => sent.push(...messages));
      lanes.release(now);
      await lanes.flush();
    });
  return { org, receiver, first, second, sent, takeAt };
}

describe("ordered delivery after a crash", () => {
  it("sends the same delivery again after a crash between its attempt and its record, never the next", async () => {
    const { org, receiver, first, second, sent, takeAt } = await laneTakenByHand();
    await takeAt(Date.now());
    expect(sent.map((m) => m.eventId)).toEqual([first.event.id]);

    // The attempt reaches the receiver; writing its outcome fails, as a crash there would leave it.
    const { db, table } = await rowTable(org.id, "deliveries", sent[0]?.deliveryId ?? "");
    const lift = await refuseDeliveryRow(db, table, sent[0]?.deliveryId ?? "", "UPDATE");
    await consume(batchOf("webhook-deliveries", [sent[0]]));
    await lift();
    expect(sentInOrder(await receiver.received())).toEqual([first.event.id]);
    expect(await deliveryDetail(org.token, sent[0]?.deliveryId ?? "")).toMatchObject({
      status: "pending",
      attemptCount: 0,
    });
    // Its lease passes (the run that held it is gone).
    await db.prepare(`UPDATE ${table} SET lease_until = NULL WHERE id = ?`).bind(sent[0]?.deliveryId).run();

    // Before its lease ends the lane sends nothing; after, the same delivery again, not the next one.
    await takeAt(Date.now());
    expect(sent).toHaveLength(1);
    await takeAt(Date.now() + 10 * 60_000);
    expect(sent.map((m) => m.eventId)).toEqual([first.event.id, first.event.id]);
    expect(sent[1]?.ordered?.token).toBeGreaterThan(sent[0]?.ordered?.token ?? 0);

    // Delivered this time, reported to the real object: the next one goes, through OrderedDelivery.
    await consume(batchOf("webhook-deliveries", [sent[1]]));
    const requests = await receivedAll(receiver, [second.event.id]);
    expect(requests.map((r) => r.headers["webhook-id"])).toEqual([
      first.event.id,
      first.event.id,
      second.event.id,
    ]);
  });

  it("lets the lane go on at once when a delivery is dead-lettered, failing it", async () => {
    const { org, receiver, first, second, sent, takeAt } = await laneTakenByHand();
    await takeAt(Date.now());
    const [dead] = sent;
    expect(dead?.eventId).toBe(first.event.id);

    // Its consumer kept crashing: the message reaches the dead-letter queue, whose consumer fails the
    // delivery and tells the lane, which sends the next one now rather than when the lease ends.
    await consume(batchOf("webhook-deliveries-dlq", [dead]));
    expect(await deliveryDetail(org.token, dead?.deliveryId ?? "")).toMatchObject({
      status: "failed",
      lastError: expect.stringContaining("dead_lettered"),
    });
    const requests = await receivedAll(receiver, [second.event.id]);
    expect(requests.map((r) => r.headers["webhook-id"])).toEqual([second.event.id]);
  });
});
