import type { DisableCause, DisabledReason } from "../domain/endpoint";

/**
 * Endpoint health, kept pure so it is tested without a Durable Object (docs/architecture.md#endpoint-health): a failure
 * streak that any success resets, the auto-disable rule, and hourly counts for a 24 h success rate.
 * Times are epoch milliseconds.
 */
export type HourlyCount = { hour: number; successes: number; failures: number };

export type HealthState = {
  /** When the current failure streak began; null while the endpoint is healthy. */
  streakStartedAt: number | null;
  failuresInStreak: number;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  /**
   * The latest attempt's status code and error, together: after a success, its status and no error
   * (as a delivered delivery's `lastError` is null); `lastFailureAt` still says when the last failure was.
   */
  lastStatusCode: number | null;
  lastError: string | null;
  /** Set once the policy disabled the endpoint, so it says so only once; cleared by a reset. */
  disabled: boolean;
  /** Set once the streak was warned of (`webhook.endpoint.failing`), so once per streak. */
  warned?: boolean;
  /**
   * When the receiver last answered 410 Gone, unless a success came after: the endpoint is to be
   * disabled at once (with DISABLE_ON_GONE). Absent in states stored before the rule.
   */
  goneAt?: number | null;
  /** The last 24 hours, one entry per hour that saw attempts. */
  hourly: HourlyCount[];
};

/**
 * `deferred`: a 429/503 with Retry-After that will be retried; it counts for the streak only if the
 * delivery fails in the end, so a receiver asking for patience is not pushed toward auto-disable.
 */
export type AttemptOutcome = {
  at: number;
  kind: "success" | "failure" | "deferred";
  statusCode: number | null;
  error: string | null;
};

export type HealthPolicy = {
  autoDisableAfterSeconds: number;
  autoDisableMinFailures: number;
  disableOnGone: boolean;
  /** The share of both auto-disable thresholds at which a streak is warned of; 0, never. */
  failingWarningFraction: number;
};

/** A streak halfway (by default) to auto-disable, told to the organization once: health/warn.ts. */
export type FailingWarning = {
  failingSince: string;
  failures: number;
  lastError: string | null;
  /** When the endpoint is disabled if every attempt until then fails. */
  disableAt: string;
};

/** The answer by which a receiver asks for no more deliveries (Standard Webhooks). */
const GONE = 410;

export const HEALTHY: HealthState = {
  streakStartedAt: null,
  failuresInStreak: 0,
  lastSuccessAt: null,
  lastFailureAt: null,
  lastStatusCode: null,
  lastError: null,
  disabled: false,
  hourly: [],
};

const HOUR_MS = 3_600_000;
const DAY_HOURS = 24;

/** Folds a batch of outcomes, in time order, into the state. */
export function recordOutcomes(state: HealthState, outcomes: readonly AttemptOutcome[]): HealthState {
  // The hourly entries are copied too: `state` is the caller's and stays as it was.
  let next: HealthState = { ...state, hourly: state.hourly.map((h) => ({ ...h })) };
  for (const outcome of [...outcomes].sort((a, b) => a.at - b.at)) {
    next.lastStatusCode = outcome.statusCode;
    next.lastError = outcome.error;
    if (outcome.kind === "success") {
      next = {
        ...next,
        streakStartedAt: null,
        failuresInStreak: 0,
        lastSuccessAt: outcome.at,
        goneAt: null,
        warned: false,
      };
    } else if (outcome.kind === "failure") {
      next = {
        ...next,
        streakStartedAt: next.streakStartedAt ?? outcome.at,
        failuresInStreak: next.failuresInStreak + 1,
        lastFailureAt: outcome.at,
        goneAt: outcome.statusCode === GONE ? outcome.at : (next.goneAt ?? null),
      };
    }
    if (outcome.kind !== "deferred") countHourly(next.hourly, outcome.at, outcome.kind === "success");
  }
  const newest = next.hourly.reduce((max, h) => Math.max(max, h.hour), 0);
  next.hourly = next.hourly.filter((h) => h.hour > newest - DAY_HOURS);
  return next;
}

function countHourly(hourly: HourlyCount[], at: number, success: boolean): void {
  const hour = Math.floor(at / HOUR_MS);
  let entry = hourly.find((h) => h.hour === hour);
  if (!entry) {
    entry = { hour, successes: 0, failures: 0 };
    hourly.push(entry);
  }
  if (success) entry.successes++;
  else entry.failures++;
}

/**
 * The auto-disable rules: the receiver answered 410 Gone (with `disableOnGone`), or the streak has
 * lasted `autoDisableAfterSeconds` (until `now`: no success since it began) and counted
 * `autoDisableMinFailures` failed attempts. Says so once. Short of that, a streak that reached
 * `failingWarningFraction` of both thresholds is warned of, once per streak.
 */
export function evaluate(
  state: HealthState,
  now: number,
  policy: HealthPolicy,
): { state: HealthState; disable?: DisabledReason; warn?: FailingWarning } {
  if (!state.disabled && policy.disableOnGone && state.goneAt) return disabledNow(state, now, "gone");
  if (
    state.disabled ||
    state.streakStartedAt === null ||
    state.failuresInStreak < policy.autoDisableMinFailures ||
    now - state.streakStartedAt < policy.autoDisableAfterSeconds * 1000
  ) {
    return warningDue(state, now, policy)
      ? { state: { ...state, warned: true }, warn: warningOf(state, policy) }
      : { state };
  }
  return disabledNow(state, now, "failing");
}

/** The state disabled at `now`, and the reason to carry out, said once. */
function disabledNow(
  state: HealthState,
  now: number,
  cause: DisableCause,
): { state: HealthState; disable: DisabledReason } {
  return {
    state: { ...state, disabled: true },
    disable: {
      at: new Date(now).toISOString(),
      failures: state.failuresInStreak,
      lastError: state.lastError,
      cause,
    },
  };
}

function warningDue(state: HealthState, now: number, policy: HealthPolicy): boolean {
  const fraction = policy.failingWarningFraction;
  return (
    fraction > 0 &&
    !state.disabled &&
    !state.warned &&
    state.streakStartedAt !== null &&
    state.failuresInStreak >= Math.ceil(policy.autoDisableMinFailures * fraction) &&
    now - state.streakStartedAt >= policy.autoDisableAfterSeconds * 1000 * fraction
  );
}

function warningOf(state: HealthState, policy: HealthPolicy): FailingWarning {
  const since = state.streakStartedAt ?? 0;
  return {
    failingSince: new Date(since).toISOString(),
    failures: state.failuresInStreak,
    lastError: state.lastError,
    disableAt: new Date(since + policy.autoDisableAfterSeconds * 1000).toISOString(),
  };
}

/**
 * The next moment a rule may come due with no attempt in between (the warning's time, then the
 * disable's), so an alarm re-checks without any polling. A moment already past needs no alarm: what
 * is missing then is failures, and only a new attempt's report brings one.
 */
export function nextCheckAt(state: HealthState, policy: HealthPolicy, now: number): number | null {
  if (state.disabled || state.streakStartedAt === null) return null;
  const afterMs = policy.autoDisableAfterSeconds * 1000;
  const warnAt =
    policy.failingWarningFraction > 0 && !state.warned
      ? state.streakStartedAt + afterMs * policy.failingWarningFraction
      : Number.POSITIVE_INFINITY;
  const due = [warnAt, state.streakStartedAt + afterMs].filter((at) => at > now && Number.isFinite(at));
  return due.length > 0 ? Math.min(...due) : null;
}

/** Starts a fresh streak (an endpoint re-enabled by its owner); the history of results stays. */
export function resetStreak(state: HealthState): HealthState {
  return {
    ...state,
    streakStartedAt: null,
    failuresInStreak: 0,
    disabled: false,
    goneAt: null,
    warned: false,
  };
}

export type HealthSummary = {
  failingSince: string | null;
  failuresInStreak: number;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  attemptsLast24h: number;
  /** Successful share of the attempts of the last 24 hours; null without attempts. */
  successRateLast24h: number | null;
};

export function summarize(state: HealthState, now: number): HealthSummary {
  const recent = state.hourly.filter((h) => h.hour > Math.floor(now / HOUR_MS) - DAY_HOURS);
  const successes = recent.reduce((n, h) => n + h.successes, 0);
  const attempts = recent.reduce((n, h) => n + h.successes + h.failures, 0);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    failingSince: iso(state.streakStartedAt),
    failuresInStreak: state.failuresInStreak,
    lastSuccessAt: iso(state.lastSuccessAt),
    lastFailureAt: iso(state.lastFailureAt),
    lastStatusCode: state.lastStatusCode,
    lastError: state.lastError,
    attemptsLast24h: attempts,
    successRateLast24h: attempts === 0 ? null : successes / attempts,
  };
}
