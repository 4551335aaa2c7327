import { type Config, QUEUE_MAX_DELAY_SECONDS } from "../config";
import type { AttemptResult } from "./send";

/**
 * The delivery decision, kept pure: from what an attempt came to and how many retries were spent,
 * what happens next. The delivery run carries the decision out (docs/architecture.md).
 */
export type AttemptVerdict = "delivered" | "retryable" | "permanent";

export type NextStep =
  | { kind: "delivered" }
  | { kind: "retry_inline"; delayMs: number }
  | { kind: "retry_queue"; delaySeconds: number }
  | { kind: "failed"; reason: string };

export type RetryPosition = {
  /** Attempts made so far in this consumer run, the one just classified included. */
  attemptsThisRun: number;
  /** Queue retries already spent on this delivery (the message's `attempts - 1`). */
  queueRetriesSpent: number;
  /** False where the run may not retry inline: a receiver the main lane found slow (lanes.ts). */
  inlineRetries?: boolean;
};

/**
 * 2xx delivered; 408, 429, 5xx and no response at all retried; any other status (3xx, 4xx) final, and
 * so is a request that could not be made (it would fail the same way every time).
 */
export function classifyAttempt(result: AttemptResult): AttemptVerdict {
  if (result.invalidRequest) return "permanent";
  const status = result.statusCode;
  if (status === undefined) return "retryable";
  if (status >= 200 && status < 300) return "delivered";
  if (status === 408 || status === 429 || status >= 500) return "retryable";
  return "permanent";
}

/**
 * The wait a receiver asked for: a `Retry-After` on a 429 or a 503, the answers that mean "later".
 * It sets the next retry's delay, and such an answer counts toward auto-disable only if the delivery
 * fails in the end (health/policy.ts).
 */
export function retryAfterOf(result: AttemptResult): number | undefined {
  return result.statusCode === 429 || result.statusCode === 503 ? result.retryAfterSeconds : undefined;
}

/**
 * The most queue retries an endpoint's own `retrySchedule` may have: the queues' `max_retries` is 10
 * (wrangler.toml), and a message deferred by a rate limit or a busy run spends some of them too.
 */
export const MAX_RETRY_STEPS = 8;

/**
 * Each scheduled retry waits its step ±10%, in whole seconds (the queue's unit), so receivers that
 * failed together are not retried together when they come back. A `Retry-After` is the receiver's
 * own choice and is kept as asked.
 */
export const RETRY_JITTER = 0.1;

/** The step a delivery's attempts in one run end on: anything but another inline retry. */
export type FinalStep = Exclude<NextStep, { kind: "retry_inline" }>;

/** How an attempt is described in history and in `lastError`. */
export function describeAttempt(result: AttemptResult): string {
  return result.statusCode === undefined ? (result.error ?? "no response") : `HTTP ${result.statusCode}`;
}

/**
 * Inline retries come first, and only in a message's first run; then the retry schedule (the
 * endpoint's own, else RETRY_SCHEDULE_SECONDS), with jitter. A `Retry-After` (429/503) longer than the
 * next inline delay moves the retry to the queue, and sets the queue delay, bounded by the schedule's
 * largest step so a receiver cannot park a delivery forever.
 */
export function nextStep(
  result: AttemptResult,
  position: RetryPosition,
  config: Pick<Config, "inlineRetryDelaysMs" | "retryScheduleSeconds">,
  random: () => number = Math.random,
): NextStep {
  const verdict = classifyAttempt(result);
  if (verdict === "delivered") return { kind: "delivered" };
  if (verdict === "permanent") return { kind: "failed", reason: describeAttempt(result) };

  const retryAfter = retryAfterOf(result);
  const inlineDelay =
    position.queueRetriesSpent === 0 && position.inlineRetries !== false
      ? config.inlineRetryDelaysMs[position.attemptsThisRun - 1]
      : undefined;
  if (inlineDelay !== undefined && (retryAfter === undefined || retryAfter * 1000 <= inlineDelay)) {
    return { kind: "retry_inline", delayMs: inlineDelay };
  }

  const scheduled = config.retryScheduleSeconds[position.queueRetriesSpent];
  if (scheduled === undefined)
    return { kind: "failed", reason: `retries exhausted: ${describeAttempt(result)}` };
  const longest = Math.max(...config.retryScheduleSeconds);
  return {
    kind: "retry_queue",
    delaySeconds: retryAfter === undefined ? jittered(scheduled, random) : Math.min(retryAfter, longest),
  };
}

/** `seconds` ±RETRY_JITTER, rounded, at least 1 s and never past the queue's largest delay. */
export function jittered(seconds: number, random: () => number): number {
  const factor = 1 + RETRY_JITTER * (2 * random() - 1);
  return Math.min(Math.max(1, Math.round(seconds * factor)), QUEUE_MAX_DELAY_SECONDS);
}
