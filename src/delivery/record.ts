import { ensureBuckets, type History } from "../db/buckets";
import {
  failDelivery,
  insertDeliveryOutcomes,
  releaseDelivery,
  updateDeliveryProgress,
} from "../db/deliveries/consumer";
import type { Attempt, DeliveryJob, DeliveryOutcome, DeliveryProgress } from "../domain/delivery";
import { sweepAfter } from "../lib/queue";
import type { AttemptsMade } from "./attempt";
import type { Settled } from "./outcome";

/**
 * The one place that turns what a run did into D1 statements, written in one batch per endpoint
 * before anything is acknowledged or sent: a stored delivery's progress is updated (only while it is
 * still pending, so a late duplicate cannot undo it), a first attempt gets its row with its outcome,
 * a delivery that ended without an attempt is closed with its reason, and a lease this run will not
 * use is given back.
 */
export async function recordStatements(
  history: History,
  settled: readonly Settled[],
  now = new Date(),
): Promise<D1PreparedStatement[]> {
  const writes: D1PreparedStatement[] = [];
  const outcomes: DeliveryOutcome[] = [];
  for (const s of settled) {
    const { job } = s;
    if (s.kind === "attempted") {
      const progress = progressAfter(s.made, job, now);
      if (job.stored)
        writes.push(
          updateDeliveryProgress(
            history,
            job,
            progress,
            storedAttempts([...job.attempts, ...s.made.attempts]),
          ),
        );
      else outcomes.push({ job, progress, attempts: storedAttempts(s.made.attempts) });
    } else if (s.kind === "ended") {
      writes.push(...(await failDelivery(history, job, s.reason)));
    } else if (
      (s.kind === "handed-on" || s.kind === "deferred" || s.kind === "crashed" || s.kind === "held") &&
      job.stored
    ) {
      // Its next message must find it free: a deferral by the rate limit comes back within seconds,
      // long before this run's lease would end.
      writes.push(releaseDelivery(history, job));
    }
  }
  await ensureBuckets(
    history,
    outcomes.map(({ job }) => job.id),
  );
  return [...writes, ...insertDeliveryOutcomes(history, outcomes)];
}

/** How many of a delivery's attempts, the latest, keep their response body in its row. */
export const ATTEMPTS_WITH_RESPONSE_BODY = 3;

/**
 * A delivery's attempts as its row keeps them: every attempt's status, timing and error, but the
 * response body of the latest ATTEMPTS_WITH_RESPONSE_BODY only, so that a delivery that retries
 * through its whole schedule keeps a row of a few KiB (docs/scale.md#thin-rows).
 */
export function storedAttempts(attempts: readonly Attempt[]): Attempt[] {
  const firstWithBody = attempts.length - ATTEMPTS_WITH_RESPONSE_BODY;
  return attempts.map((attempt, i) => (i < firstWithBody ? { ...attempt, responseBody: null } : attempt));
}

/**
 * Where a run's attempts leave a delivery. A retry of an ordered delivery is its lane's to send
 * (src/ordering/), not the sweeper's: another copy of it must not overtake the lane.
 */
function progressAfter(
  { attempts, step }: AttemptsMade,
  { queueRetries, ordered }: DeliveryJob,
  now: Date,
): DeliveryProgress {
  const last = attempts[attempts.length - 1] as Attempt;
  const base = {
    attemptCount: last.number,
    queueRetries,
    lastStatusCode: last.statusCode,
    nextAttemptAt: null,
    deliveredAt: null,
    sweepAfter: null,
  };
  switch (step.kind) {
    case "delivered":
      return { ...base, status: "delivered", lastError: null, deliveredAt: now.toISOString() };
    case "failed":
      return { ...base, status: "failed", lastError: step.reason };
    case "retry_queue": {
      const due = now.getTime() + step.delaySeconds * 1000;
      return {
        ...base,
        status: "pending",
        queueRetries: queueRetries + 1,
        lastError: last.error ?? `HTTP ${last.statusCode}`,
        nextAttemptAt: new Date(due).toISOString(),
        sweepAfter: ordered ? null : sweepAfter(due),
      };
    }
  }
}
