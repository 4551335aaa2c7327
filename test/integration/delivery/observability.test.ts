import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { fanOutEvent } from "../../../src/delivery/fan-out";
import type { DeliveryMessage } from "../../../src/delivery/messages";
import { publishEvent } from "../../../src/delivery/publish";
import worker from "../../../src/index";
import type { OrganizationId } from "../../../src/lib/ids";
import { createEndpoint, createOrganization, receiverChannel } from "../../support/api";
import { capturingQueue, failingQueue } from "../../support/faults";

describe("observability", () => {
  it("writes one Analytics Engine data point per attempt", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await receiver.script([{ status: 503 }]);
    const { endpoint } = await createEndpoint(org.token, {
      url: receiver.url,
      eventTypeFilters: ["matter.*"],
    });
    // The event and its delivery are handed to the consumer here, with the dataset swapped for a recorder.
    const { event } = await publishEvent(
      { ...env, EVENTS_QUEUE: failingQueue() },
      {
        organizationId: org.id as OrganizationId,
        type: "matter.created",
        data: { matterId: "m", name: "n" },
      },
    );
    const capture = capturingQueue();
    await fanOutEvent({ ...env, DELIVERIES_QUEUE: capture.queue }, event.id);
    const points: AnalyticsEngineDataPoint[] = [];
    const analytics = { writeDataPoint: (point: AnalyticsEngineDataPoint) => points.push(point) };
    const batch = createMessageBatch<DeliveryMessage>(
      "webhook-deliveries",
      capture.sent.map((body, i) => ({ id: `o${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    await worker.queue(batch, { ...env, DELIVERY_ANALYTICS: analytics as AnalyticsEngineDataset });

    expect(points).toEqual([
      {
        indexes: [endpoint.id],
        blobs: [org.id, endpoint.id, "matter.created", "retryable", "http_5xx"],
        doubles: [expect.any(Number), 503, 1, 0],
      },
      {
        indexes: [endpoint.id],
        blobs: [org.id, endpoint.id, "matter.created", "delivered", ""],
        doubles: [expect.any(Number), 200, 2, 1],
      },
    ]);
  });
});
