import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { EventMessage } from "../../../src/events/message";
import { publishEvent } from "../../../src/events/publish";
import worker from "../../../src/index";
import type { OrganizationId } from "../../../src/lib/ids";
import { createEndpoint, createOrganization, receiverChannel } from "../../support/api";
import { batchOf, capturingQueue } from "../../support/faults";

describe("observability", () => {
  it("writes one Analytics Engine data point per attempt", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await receiver.script([{ status: 503 }]);
    const { endpoint } = await createEndpoint(org.token, {
      url: receiver.url,
      eventTypeFilters: ["matter.*"],
    });
    // The event is handed to the consumer here (fan-out makes its first attempts), with the dataset
    // swapped for a recorder.
    const events = capturingQueue<EventMessage>();
    await publishEvent(
      { ...env, EVENTS_QUEUE: events.queue },
      {
        organizationId: org.id as OrganizationId,
        type: "matter.created",
        data: { matterId: "m", name: "n" },
      },
    );
    const points: AnalyticsEngineDataPoint[] = [];
    const analytics = { writeDataPoint: (point: AnalyticsEngineDataPoint) => points.push(point) };
    await worker.queue(batchOf("webhook-events", events.sent), {
      ...env,
      DELIVERY_ANALYTICS: analytics as AnalyticsEngineDataset,
    });

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
