import { describe, expect, it } from "vitest";
import {
  type AttemptOutcome,
  evaluate,
  HEALTHY,
  nextCheckAt,
  recordOutcomes,
  resetStreak,
  summarize,
} from "../../../src/health/policy";

const policy = {
  autoDisableAfterSeconds: 60,
  autoDisableMinFailures: 3,
  disableOnGone: true,
  failingWarningFraction: 0,
};
const fail = (at: number): AttemptOutcome => ({ at, kind: "failure", statusCode: 500, error: "HTTP 500" });
const succeed = (at: number): AttemptOutcome => ({ at, kind: "success", statusCode: 200, error: null });
const patient = (at: number): AttemptOutcome => ({
  at,
  kind: "deferred",
  statusCode: 429,
  error: "HTTP 429",
});

describe("endpoint health policy", () => {
  it("disables once the streak has lasted long enough and counted enough failures, once", () => {
    const state = recordOutcomes(HEALTHY, [fail(0), fail(1_000), fail(2_000)]);
    expect(evaluate(state, 59_999, policy).disable).toBeUndefined(); // enough failures, not long enough
    const decided = evaluate(state, 60_000, policy);
    expect(decided.disable).toEqual({
      at: new Date(60_000).toISOString(),
      failures: 3,
      lastError: "HTTP 500",
      cause: "failing",
    });
    expect(evaluate(decided.state, 70_000, policy).disable).toBeUndefined();
    expect(nextCheckAt(decided.state, policy, 60_000)).toBeNull();
  });

  it("needs the minimum count even when the streak is old", () => {
    const state = recordOutcomes(HEALTHY, [fail(0), fail(120_000)]);
    expect(evaluate(state, 500_000, policy).disable).toBeUndefined();
  });

  it("a success resets the streak, whatever order the batch arrives in", () => {
    const state = recordOutcomes(HEALTHY, [fail(70_000), succeed(50_000), fail(0), fail(10_000)]);
    expect(state.failuresInStreak).toBe(1);
    expect(state.streakStartedAt).toBe(70_000);
    expect(state.lastSuccessAt).toBe(50_000);
    expect(evaluate(state, 200_000, policy).disable).toBeUndefined();
  });

  it("does not count a deferral (Retry-After) as a failure", () => {
    const state = recordOutcomes(HEALTHY, [patient(0), patient(1_000), patient(2_000), patient(3_000)]);
    expect(state.failuresInStreak).toBe(0);
    expect(state.streakStartedAt).toBeNull();
    expect(state.lastStatusCode).toBe(429);
  });

  it("shows the latest attempt's status and error together: none after a recovery", () => {
    const recovered = recordOutcomes(HEALTHY, [fail(0), fail(1_000), succeed(2_000)]);
    expect(summarize(recovered, 3_000)).toMatchObject({
      lastStatusCode: 200,
      lastError: null,
      lastFailureAt: new Date(1_000).toISOString(),
      lastSuccessAt: new Date(2_000).toISOString(),
      failingSince: null,
    });
    // A batch that arrives out of order is read in time order: the failure came last.
    const failedAgain = recordOutcomes(HEALTHY, [fail(5_000), succeed(4_000)]);
    expect(summarize(failedAgain, 6_000)).toMatchObject({ lastStatusCode: 500, lastError: "HTTP 500" });
    // A receiver asking for patience is what was heard last.
    expect(summarize(recordOutcomes(recovered, [patient(7_000)]), 8_000)).toMatchObject({
      lastStatusCode: 429,
      lastError: "HTTP 429",
      failuresInStreak: 0,
    });
  });

  it("schedules the re-check for when the streak will be long enough", () => {
    expect(nextCheckAt(HEALTHY, policy, 0)).toBeNull();
    expect(nextCheckAt(recordOutcomes(HEALTHY, [fail(5_000)]), policy, 5_000)).toBe(65_000);
  });

  it("sets no alarm for a moment already past: only a new failure can complete the streak then", () => {
    // Long enough at 65 s but one failure short: no alarm at (or before) now, which would fire at once
    // and again for ever.
    const short = recordOutcomes(HEALTHY, [fail(5_000), fail(6_000)]);
    expect(evaluate(short, 70_000, policy).disable).toBeUndefined();
    expect(nextCheckAt(short, policy, 70_000)).toBeNull();
  });

  it("re-enabling starts a fresh streak and keeps the history", () => {
    const decided = evaluate(recordOutcomes(HEALTHY, [fail(0), fail(1), fail(2)]), 60_000, policy).state;
    const reset = resetStreak(decided);
    expect(reset).toMatchObject({
      disabled: false,
      failuresInStreak: 0,
      streakStartedAt: null,
      lastFailureAt: 2,
    });
    expect(nextCheckAt(recordOutcomes(reset, [fail(100_000)]), policy, 100_000)).toBe(160_000);
  });

  it("disables at once on a 410 Gone, saying so, unless a success came after it or the rule is off", () => {
    const gone: AttemptOutcome = { at: 1_000, kind: "failure", statusCode: 410, error: "HTTP 410" };
    const state = recordOutcomes(HEALTHY, [gone]);
    expect(evaluate(state, 1_001, policy).disable).toEqual({
      at: new Date(1_001).toISOString(),
      failures: 1,
      lastError: "HTTP 410",
      cause: "gone",
    });
    expect(evaluate(state, 1_001, { ...policy, disableOnGone: false }).disable).toBeUndefined();
    expect(evaluate(recordOutcomes(state, [succeed(2_000)]), 2_001, policy).disable).toBeUndefined();
    // Re-enabled by its owner: a fresh start, until the receiver says gone again.
    const reset = resetStreak(evaluate(state, 1_001, policy).state);
    expect(evaluate(reset, 3_000, policy).disable).toBeUndefined();
    expect(evaluate(recordOutcomes(reset, [{ ...gone, at: 4_000 }]), 4_001, policy).disable?.cause).toBe(
      "gone",
    );
  });

  it("leaves the state it folds into as it was", () => {
    const before = recordOutcomes(HEALTHY, [succeed(1_000)]);
    const copy = structuredClone(before);
    recordOutcomes(before, [succeed(2_000), fail(3_000)]);
    expect(before).toEqual(copy);
  });

  it("summarises the last 24 hours' success rate", () => {
    const hour = 3_600_000;
    const now = 30 * hour;
    const state = recordOutcomes(HEALTHY, [
      fail(2 * hour), // more than 24 h before `now`: not counted
      succeed(10 * hour),
      succeed(20 * hour),
      succeed(29 * hour),
      fail(29 * hour + 1),
    ]);
    expect(summarize(state, now)).toMatchObject({
      attemptsLast24h: 4,
      successRateLast24h: 0.75,
      failuresInStreak: 1,
      lastStatusCode: 500,
      lastError: "HTTP 500",
      failingSince: new Date(29 * hour + 1).toISOString(),
    });
    expect(summarize(HEALTHY, now).successRateLast24h).toBeNull();
  });
});

describe("the failing warning", () => {
  const warning = { ...policy, failingWarningFraction: 0.5 };

  it("warns once a streak reaches half of both thresholds, once per streak", () => {
    // Half of 3 failures is 2, half of 60 s is 30 s.
    const two = recordOutcomes(HEALTHY, [fail(0), fail(10_000)]);
    expect(evaluate(two, 29_999, warning).warn).toBeUndefined(); // enough failures, not long enough
    expect(evaluate(recordOutcomes(HEALTHY, [fail(0)]), 40_000, warning).warn).toBeUndefined(); // too few
    const warned = evaluate(two, 30_000, warning);
    expect(warned.warn).toEqual({
      failingSince: new Date(0).toISOString(),
      failures: 2,
      lastError: "HTTP 500",
      disableAt: new Date(60_000).toISOString(),
    });
    expect(warned.disable).toBeUndefined();
    expect(evaluate(recordOutcomes(warned.state, [fail(35_000)]), 35_001, warning).warn).toBeUndefined();
    // A success ends the streak: the next one is warned of again.
    const next = recordOutcomes(warned.state, [succeed(40_000), fail(50_000), fail(51_000)]);
    expect(evaluate(next, 80_000, warning).warn?.failingSince).toBe(new Date(50_000).toISOString());
    expect(evaluate(two, 30_000, policy).warn).toBeUndefined(); // 0: never
  });

  it("wakes for the warning first, then for the disable", () => {
    const one = recordOutcomes(HEALTHY, [fail(0)]);
    expect(nextCheckAt(one, warning, 0)).toBe(30_000);
    const warned = evaluate(recordOutcomes(one, [fail(1_000)]), 30_000, warning).state;
    expect(nextCheckAt(warned, warning, 30_000)).toBe(60_000);
  });

  it("says nothing more of a streak that is disabled", () => {
    const three = recordOutcomes(HEALTHY, [fail(0), fail(1), fail(2)]);
    const decided = evaluate(three, 60_000, warning);
    expect(decided.disable).toBeDefined();
    expect(decided.warn).toBeUndefined();
  });
});
