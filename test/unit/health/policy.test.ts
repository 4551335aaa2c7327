import { describe, expect, it } from "vitest";
import { HEALTHY, recordOutcomes } from "../../../src/health/policy";

const policy = { autoDisableAfterSeconds: 60, autoDisableMinFailures: 3 };
const fail = (at: number) => ({ at, ok: false, statusCode: 500, error: "HTTP 500" });
const succeed = (at: number) => ({ at, ok: true, statusCode: 200, error: null });

describe("endpoint health policy", () => {
  it("disables once the streak has lasted long enough and counted enough failures", () => {
    const early = recordOutcomes(HEALTHY, [fail(0), fail(1_000), fail(2_000)], policy);
    expect(early.disable).toBeUndefined(); // enough failures, not long enough
    const late = recordOutcomes(early.state, [fail(60_000)], policy);
    expect(late.disable).toEqual({ at: new Date(60_000).toISOString(), failures: 4, lastError: "HTTP 500" });
    expect(recordOutcomes(late.state, [fail(70_000)], policy).disable).toBeUndefined(); // said once
  });

  it("needs the minimum count even when the streak is old", () => {
    expect(recordOutcomes(HEALTHY, [fail(0), fail(120_000)], policy).disable).toBeUndefined();
  });

  it("a success resets the streak, whatever order the batch arrives in", () => {
    const { state, disable } = recordOutcomes(
      HEALTHY,
      [fail(70_000), succeed(50_000), fail(0), fail(10_000)],
      policy,
    );
    expect(disable).toBeUndefined();
    expect(state.failuresInStreak).toBe(1);
    expect(state.streakStartedAt).toBe(70_000);
    expect(state.lastSuccessAt).toBe(50_000);
  });
});
