import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeliveryMessage } from "../../../src/domain/delivery";
import { settledDeliveries } from "../../support/api";
import { consume, publishCaptured } from "../../support/consumers";
import { batchOf, capturingQueue } from "../../support/faults";
import { givenEndpoint } from "../../support/fixtures";

/**
 * The slow lane (src/delivery/lanes.ts): an endpoint whose attempts time out (1.5 s here) is moved
 * there by the main lane, which then sends its deliveries on instead of attempting them; the slow
 * lane's consumer delivers them, and brings the endpoint back once it answers fast.
 */
const slowUntilOf = (endpointId: string) =>
  env.DB.prepare("SELECT slow_until FROM endpoints WHERE id = ?")
    .bind(endpointId)
    .first<string>("slow_until");

describe("the slow lane", () => {
  it("takes a slow endpoint's deliveries out of the main lane, delivers them apart, and lets it back when fast", async () => {
    const a = await givenEndpoint({ fallback: { status: 200, hangMs: 10_000 } });
    const b = await givenEndpoint();
    const slow = [];
    for (let i = 0; i < 10; i++) slow.push((await publishCaptured(a.org.id)).message);
    const fast = (await publishCaptured(b.org.id)).message;

    // Fan-out, in the main lane: A's first attempts time out, the rest of A's are sent to the slow lane.
    const main = capturingQueue<DeliveryMessage>();
    const slowLane = capturingQueue<DeliveryMessage>();
    const lanes = { ...env, DELIVERIES_QUEUE: main.queue, SLOW_DELIVERIES_QUEUE: slowLane.queue };
    await consume(batchOf("webhook-events", [...slow, fast]), lanes);
    expect((await b.receiver.received()).length).toBe(1);
    expect(await slowUntilOf(a.endpoint.id)).not.toBeNull();
    const attempted = (await a.receiver.received()).length;
    // No more than five of its ten first attempts started (the run's attempt connections, once B's was
    // done), none retried inline; the others were declined when the first timed out.
    expect(attempted).toBeLessThanOrEqual(5);
    const firsts = slowLane.sent.filter((m) => m.first !== undefined);
    expect(firsts.length).toBeGreaterThanOrEqual(4);
    expect(main.sent).toEqual([]);
    expect(slowLane.sent.every((m) => m.endpointId === a.endpoint.id)).toBe(true);

    // While it is slow, the main lane sends A's new deliveries on without a request.
    const next = await publishCaptured(a.org.id);
    const again = capturingQueue<DeliveryMessage>();
    await consume(batchOf("webhook-events", [next.message]), { ...env, SLOW_DELIVERIES_QUEUE: again.queue });
    expect(again.sent.map((m) => m.eventId)).toEqual([next.event.id]);
    expect((await a.receiver.received()).length).toBe(attempted);

    // The slow lane's consumer delivers them; A answers at once again, so it leaves the slow lane.
    await a.receiver.script([], { status: 200 });
    await consume(batchOf("webhook-deliveries-slow", [...slowLane.sent, ...again.sent]));
    const deliveries = await settledDeliveries(a.org.token, `endpoint_id=${a.endpoint.id}`, slow.length + 1);
    const byEvent = new Map(
      deliveries.map((d: { eventId: string; status: string }) => [d.eventId, d.status]),
    );
    for (const event of [...slowLane.sent, ...again.sent])
      expect(byEvent.get(event.eventId)).toBe("delivered");
    expect(await slowUntilOf(a.endpoint.id)).toBeNull();
  });
});
