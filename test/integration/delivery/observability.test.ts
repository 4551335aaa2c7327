import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { callOk, settledDeliveries } from "../../support/api";
import { consume, publishCaptured } from "../../support/consumers";
import { batchOf } from "../../support/faults";
import { givenEndpoint } from "../../support/fixtures";

describe("observability", () => {
  afterEach(() => vi.restoreAllMocks());

  it("writes one Analytics Engine data point per attempt", async () => {
    const { org, endpoint } = await givenEndpoint({ script: [{ status: 503 }] });
    // The event is handed to the consumer here (fan-out makes its first attempts), with the dataset
    // swapped for a recorder.
    const { message } = await publishCaptured(org.id);
    const points: AnalyticsEngineDataPoint[] = [];
    const analytics = { writeDataPoint: (point: AnalyticsEngineDataPoint) => points.push(point) };
    await consume(batchOf("webhook-events", [message]), {
      ...env,
      DELIVERY_ANALYTICS: analytics as AnalyticsEngineDataset,
    });

    // The last blob is the delivery's trace id, the same on both attempts and in its record.
    const [delivery] = await settledDeliveries(org.token, `endpoint_id=${endpoint.id}`, 1);
    const { traceId } = (
      await callOk("GET", `/webhooks/v1/deliveries/${delivery.id}`, 200, { token: org.token })
    ).delivery;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(points).toEqual([
      {
        indexes: [endpoint.id],
        blobs: [org.id, endpoint.id, "matter.created", "retryable", "http_5xx", traceId],
        doubles: [expect.any(Number), 503, 1, 0],
      },
      {
        indexes: [endpoint.id],
        blobs: [org.id, endpoint.id, "matter.created", "delivered", "", traceId],
        doubles: [expect.any(Number), 200, 2, 1],
      },
    ]);
  });

  it("logs the attempt after which a delivery failed as `exhausted`, not `retryable`", async () => {
    const { org } = await givenEndpoint({ fallback: { status: 503 } });
    const { event, message } = await publishCaptured(org.id);
    const lines: {
      message?: string;
      outcome?: string;
      eventId?: string;
      traceId?: string;
      spanId?: string;
    }[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      if (typeof line === "string" && line.startsWith("{")) lines.push(JSON.parse(line));
    });
    // No queue retries in this schedule: the inline retry is the last attempt.
    await consume(batchOf("webhook-events", [message]), { ...env, RETRY_SCHEDULE_SECONDS: "" });

    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery).toMatchObject({ status: "failed", lastError: "retries exhausted: HTTP 503" });
    const attempts = lines.filter((l) => l.message === "delivery attempt" && l.eventId === event.id);
    expect(attempts.map((l) => l.outcome)).toEqual(["retryable", "exhausted"]);
    // Each line names the attempt's trace (the delivery's) and its own span.
    const { traceId } = (
      await callOk("GET", `/webhooks/v1/deliveries/${delivery.id}`, 200, { token: org.token })
    ).delivery;
    expect(attempts.map((l) => l.traceId)).toEqual([traceId, traceId]);
    expect(new Set(attempts.map((l) => l.spanId)).size).toBe(2);
  });
});
