import { describe, expect, it } from "vitest";
import { ATTEMPTS_WITH_RESPONSE_BODY, storedAttempts } from "../../../src/delivery/record";
import type { Attempt } from "../../../src/domain/delivery";

const attempt = (number: number): Attempt => ({
  number,
  trigger: number === 1 ? "initial" : "inline_retry",
  startedAt: new Date(Date.UTC(2026, 10, 30, 0, 0, number)).toISOString(),
  durationMs: 10,
  statusCode: 500,
  error: null,
  responseBody: `answer ${number} `.repeat(60),
});

describe("the attempts a delivery row keeps", () => {
  it("keeps every attempt, and the response body of the latest three only", () => {
    const all = Array.from({ length: 24 }, (_, i) => attempt(i + 1));
    const stored = storedAttempts(all);
    expect(stored.map((a) => a.number)).toEqual(all.map((a) => a.number));
    expect(stored.map((a) => a.statusCode)).toEqual(all.map((a) => a.statusCode));
    expect(stored.filter((a) => a.responseBody !== null).map((a) => a.number)).toEqual([22, 23, 24]);
    expect(stored.at(-1)?.responseBody).toBe(all.at(-1)?.responseBody);
    expect(ATTEMPTS_WITH_RESPONSE_BODY).toBe(3);
  });

  it("stays a few KiB whatever the receiver answered, where keeping every body would not", () => {
    const all = Array.from({ length: 24 }, (_, i) => ({ ...attempt(i + 1), responseBody: "x".repeat(1024) }));
    expect(JSON.stringify(storedAttempts(all)).length).toBeLessThan(8 * 1024);
    expect(JSON.stringify(all).length).toBeGreaterThan(24 * 1024);
  });

  it("leaves a short list as it is", () => {
    const two = [attempt(1), attempt(2)];
    expect(storedAttempts(two)).toEqual(two);
  });
});
