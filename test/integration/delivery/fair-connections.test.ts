import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeliveryMessage } from "../../../src/domain/delivery";
import { eventually } from "../../support/api";
import { consume, publishCaptured } from "../../support/consumers";
import { batchOf, capturingQueue } from "../../support/faults";
import { givenEndpoint } from "../../support/fixtures";

/**
 * One run, two tenants: A's receiver never answers (each attempt runs into the 1.5 s timeout), B's
 * answers at once. The run's six connections are shared fairly (src/delivery/connections.ts): A holds
 * at most its share, three, while B attempts, so B's request leaves with A's first ones, not behind
 * them.
 */
describe("a run's connections, shared between endpoints", () => {
  it("lets no slow receiver's queue of attempts hold another tenant's delivery back", async () => {
    const a = await givenEndpoint({ fallback: { status: 200, hangMs: 10_000 } });
    const b = await givenEndpoint();
    const slow = [];
    for (let i = 0; i < 8; i++) slow.push((await publishCaptured(a.org.id)).message);
    const fast = (await publishCaptured(b.org.id)).message;

    const later = capturingQueue<DeliveryMessage>();
    const slowLane = capturingQueue<DeliveryMessage>();
    await consume(batchOf("webhook-events", [...slow, fast]), {
      ...env,
      DELIVERIES_QUEUE: later.queue,
      SLOW_DELIVERIES_QUEUE: slowLane.queue,
    });

    const [delivered] = await b.receiver.received();
    expect(delivered).toBeDefined();
    const aRequests = await eventually(async () => {
      const all = await a.receiver.received();
      return all.length >= 3 ? all : undefined;
    });
    const aheadOfB = aRequests.filter((r) => r.receivedAt < (delivered?.receivedAt ?? 0));
    expect(aheadOfB.length).toBeLessThanOrEqual(3);
    // A's deliveries the run did not start went on (to the slow lane: lanes.ts), none lost.
    const sentOn = new Set([...later.sent, ...slowLane.sent].map((m) => m.eventId));
    expect(slow.every((m) => sentOn.has(m.eventId))).toBe(true);
  });
});
