import type { DisabledReason } from "../db/endpoints";

/**
 * Endpoint health, kept pure so it is tested without a Durable Object (DESIGN.md §5): a failure
 * streak that any success resets, and the auto-disable rule. Times are epoch milliseconds.
 */
export type HealthState = {
  /** When the current failure streak began; null while the endpoint is healthy. */
  streakStartedAt: number | null;
  failuresInStreak: number;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  /** Set once the policy disabled the endpoint, so it says so only once; cleared by `reset`. */
  disabled: boolean;
};

export type AttemptOutcome = { at: number; ok: boolean; statusCode: number | null; error: string | null };

export type HealthPolicy = { autoDisableAfterSeconds: number; autoDisableMinFailures: number };

export const HEALTHY: HealthState = {
  streakStartedAt: null,
  failuresInStreak: 0,
  lastSuccessAt: null,
  lastFailureAt: null,
  lastStatusCode: null,
  lastError: null,
  disabled: false,
};

/**
 * Folds a batch of outcomes (in time order) into the state. `disable` is returned once, when the
 * streak has both lasted `autoDisableAfterSeconds` and counted `autoDisableMinFailures` failures.
 */
export function recordOutcomes(
  state: HealthState,
  outcomes: readonly AttemptOutcome[],
  policy: HealthPolicy,
): { state: HealthState; disable?: DisabledReason } {
  let next = { ...state };
  for (const outcome of [...outcomes].sort((a, b) => a.at - b.at)) {
    next = outcome.ok
      ? { ...next, streakStartedAt: null, failuresInStreak: 0, lastSuccessAt: outcome.at }
      : {
          ...next,
          streakStartedAt: next.streakStartedAt ?? outcome.at,
          failuresInStreak: next.failuresInStreak + 1,
          lastFailureAt: outcome.at,
        };
    next.lastStatusCode = outcome.statusCode;
    next.lastError = outcome.ok ? next.lastError : outcome.error;
  }
  const streakLastedMs =
    next.streakStartedAt === null || next.lastFailureAt === null
      ? 0
      : next.lastFailureAt - next.streakStartedAt;
  if (
    !next.disabled &&
    next.failuresInStreak >= policy.autoDisableMinFailures &&
    streakLastedMs >= policy.autoDisableAfterSeconds * 1000
  ) {
    next.disabled = true;
    const at = new Date(next.lastFailureAt ?? 0).toISOString();
    return { state: next, disable: { at, failures: next.failuresInStreak, lastError: next.lastError } };
  }
  return { state: next };
}
