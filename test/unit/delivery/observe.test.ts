import { afterEach, describe, expect, it, vi } from "vitest";
import { type AttemptContext, observeAttempt } from "../../../src/delivery/observe";
import type { FinalStep } from "../../../src/delivery/retry-policy";
import type { AttemptResult } from "../../../src/delivery/send";

const context = {
  endpoint: { id: "evsub_1", organizationId: "org_1" },
  deliveryId: "dlv_1",
  eventId: "evt_1",
  eventType: "matter.created",
  attempt: 4,
} as AttemptContext;
const answered = (statusCode: number): AttemptResult => ({
  startedAt: new Date(0).toISOString(),
  durationMs: 12,
  statusCode,
});

/** Observes one attempt; returns the outcome its data point and its log line (if any) give. */
function observe(result: AttemptResult, final: FinalStep | null) {
  const points: AnalyticsEngineDataPoint[] = [];
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => lines.push(line));
  observeAttempt({ writeDataPoint: (p) => points.push(p ?? {}) }, context, result, final);
  const logged = lines.map((line) => JSON.parse(line));
  return { point: points[0]?.blobs?.[3], logged: logged.map((l) => l.outcome) };
}

describe("observing an attempt", () => {
  afterEach(() => vi.restoreAllMocks());

  it("says `exhausted` of a retryable attempt after which the delivery failed, `retryable` while retries remain", () => {
    const exhausted = { kind: "failed", reason: "retries exhausted: HTTP 503" } as const;
    expect(observe(answered(503), exhausted)).toEqual({ point: "exhausted", logged: ["exhausted"] });
    const timedOut = { startedAt: new Date(0).toISOString(), durationMs: 1_500, error: "timeout" };
    expect(observe(timedOut, exhausted)).toEqual({ point: "exhausted", logged: ["exhausted"] });
    expect(observe(answered(503), { kind: "retry_queue", delaySeconds: 5 })).toEqual({
      point: "retryable",
      logged: ["retryable"],
    });
    // An inline retry followed.
    expect(observe(answered(503), null)).toEqual({
      point: "retryable",
      logged: ["retryable"],
    });
  });

  it("says `permanent` of an answer that fails at once, and logs no line for a success", () => {
    expect(observe(answered(410), { kind: "failed", reason: "HTTP 410" })).toEqual({
      point: "permanent",
      logged: ["permanent"],
    });
    expect(observe(answered(200), { kind: "delivered" })).toEqual({ point: "delivered", logged: [] });
  });
});
