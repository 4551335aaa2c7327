import type { LaneTurn } from "../domain/delivery";
import { endpointHealth } from "../health/endpoint-health";
import type { EndpointId } from "../lib/ids";
import type { LaneReport } from "../ordering/ordered-lanes";
import type { Settled } from "./outcome";

/**
 * A report to an ordered lane and what to do with the delivery's message once it is told (`ack`), or
 * once it could not be (`retry` after `retrySeconds`: the message comes back and tells it then).
 */
export type PendingReport = {
  endpointId: EndpointId;
  report: LaneReport;
  message: Message;
  retrySeconds: number;
};

/**
 * Tells the lanes, one object call per endpoint, then answers each report's message. Before the
 * acknowledgment, so a report that is lost with its invocation comes back with the message; a lane
 * that hears nothing at all sends the delivery again when its lease ends, and its run finds it settled.
 */
export async function reportToLanes(env: Env, pending: readonly PendingReport[]): Promise<void> {
  await Promise.all(
    [...Map.groupBy(pending, (p) => p.endpointId)].map(async ([endpointId, reports]) => {
      try {
        await endpointHealth(env, endpointId).reportOrdered(reports.map((r) => r.report));
        for (const { message } of reports) message.ack();
      } catch (error) {
        console.error(JSON.stringify({ message: "ordered lane not told", endpointId, error: String(error) }));
        for (const { message, retrySeconds } of reports) message.retry({ delaySeconds: retrySeconds });
      }
    }),
  );
}

/**
 * What a run's settled ordered delivery tells its lane, if it is told now: delivered or finally
 * failed (the next may go), a retry at its time (the lane sends it then, not the queue), or held
 * (the endpoint is disabled). Put off or handed on, it travels on in its own message, still in its
 * turn; crashed, its message comes back.
 */
export function laneReportOf(
  s: Settled & { source: "queue" },
  turn: LaneTurn,
  now: number,
): PendingReport | null {
  const base = { endpointId: s.job.endpointId, message: s.message };
  switch (s.kind) {
    case "attempted": {
      const step = s.made.step;
      if (step.kind === "retry_queue") {
        const outcome = { kind: "retry" as const, at: now + step.delaySeconds * 1000 };
        return { ...base, report: { turn, outcome }, retrySeconds: step.delaySeconds };
      }
      return { ...base, report: { turn, outcome: { kind: step.kind } }, retrySeconds: 1 };
    }
    case "ended":
      return { ...base, report: { turn, outcome: { kind: "failed" } }, retrySeconds: 1 };
    case "held":
      return { ...base, report: { turn, outcome: { kind: "held" } }, retrySeconds: 1 };
    default:
      return null;
  }
}
