import { describe, expect, it } from "vitest";
import { laneAfter, SLOW_LANE_MS, slowAttempts } from "../../../src/delivery/lanes";
import type { Attempt } from "../../../src/domain/delivery";

const config = { slowAttemptMs: 5_000 };
const now = Date.UTC(2026, 10, 30);
const attempt = (durationMs: number, error: string | null = null): Attempt => ({
  number: 1,
  trigger: "initial",
  startedAt: new Date(now).toISOString(),
  durationMs,
  statusCode: error ? null : 200,
  error,
  responseBody: null,
});
const fast = { slowUntil: null };
const slow = { slowUntil: new Date(now + 60_000).toISOString() };

describe("lanes", () => {
  it("calls a receiver slow when an attempt timed out or took SLOW_ATTEMPT_MS", () => {
    expect(slowAttempts([attempt(120)], config)).toBe(false);
    expect(slowAttempts([attempt(120), attempt(5_000)], config)).toBe(true);
    expect(slowAttempts([attempt(1_500, "timeout")], config)).toBe(true);
    expect(slowAttempts([attempt(30, "network: refused")], config)).toBe(false);
  });

  it("moves an endpoint the main lane measured slow to the slow lane for SLOW_LANE_MS", () => {
    expect(laneAfter("main", fast, [attempt(8_000)], config, now)).toEqual({
      slowUntil: new Date(now + SLOW_LANE_MS).toISOString(),
    });
    expect(laneAfter("main", fast, [attempt(80)], config, now)).toBeUndefined();
    expect(laneAfter("main", fast, [], config, now)).toBeUndefined();
  });

  it("brings it back when the slow lane finds it fast, and keeps it there while slow", () => {
    expect(laneAfter("slow", slow, [attempt(80)], config, now)).toEqual({ slowUntil: null });
    expect(laneAfter("slow", slow, [attempt(9_000)], config, now)).toBeUndefined();
    // Its time in the slow lane over, it is back already: nothing to write.
    expect(
      laneAfter("slow", { slowUntil: new Date(now - 1).toISOString() }, [attempt(80)], config, now),
    ).toBeUndefined();
  });
});
