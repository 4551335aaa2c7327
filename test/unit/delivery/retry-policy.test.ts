import { describe, expect, it } from "vitest";
import { classifyAttempt, jittered, nextStep, RETRY_JITTER } from "../../../src/delivery/retry-policy";
import type { AttemptResult } from "../../../src/delivery/send";

const config = { inlineRetryDelaysMs: [200, 1000], retryScheduleSeconds: [5, 300, 1800] };
/** The middle of the jitter range: the schedule's step as written. */
const noJitter = () => 0.5;
const response = (statusCode: number, retryAfterSeconds?: number): AttemptResult => ({
  startedAt: "2026-01-01T00:00:00.000Z",
  durationMs: 10,
  statusCode,
  ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
});
const noResponse = (error: string): AttemptResult => ({
  startedAt: "2026-01-01T00:00:00.000Z",
  durationMs: 10,
  error,
});

describe("classifyAttempt", () => {
  it.each([
    [200, "delivered"],
    [204, "delivered"],
    [299, "delivered"],
    [408, "retryable"],
    [429, "retryable"],
    [500, "retryable"],
    [503, "retryable"],
    [301, "permanent"],
    [400, "permanent"],
    [404, "permanent"],
    [410, "permanent"],
  ])("HTTP %i is %s", (status, verdict) => {
    expect(classifyAttempt(response(status))).toBe(verdict);
  });

  it("retries when no response arrived (timeout, network)", () => {
    expect(classifyAttempt(noResponse("timeout"))).toBe("retryable");
    expect(classifyAttempt(noResponse("network: connection refused"))).toBe("retryable");
  });
});

describe("nextStep", () => {
  it("goes straight to the queue's schedule where the run may not retry inline (a slow receiver)", () => {
    const noInline = { attemptsThisRun: 1, queueRetriesSpent: 0, inlineRetries: false };
    expect(nextStep(noResponse("timeout"), noInline, config, noJitter)).toEqual({
      kind: "retry_queue",
      delaySeconds: 5,
    });
  });

  it("retries inline first, one delay per inline step, then hands over to the queue", () => {
    const first = { attemptsThisRun: 1, queueRetriesSpent: 0 };
    expect(nextStep(response(500), first, config, noJitter)).toEqual({ kind: "retry_inline", delayMs: 200 });
    expect(nextStep(response(500), { ...first, attemptsThisRun: 2 }, config, noJitter)).toEqual({
      kind: "retry_inline",
      delayMs: 1000,
    });
    expect(nextStep(response(500), { ...first, attemptsThisRun: 3 }, config, noJitter)).toEqual({
      kind: "retry_queue",
      delaySeconds: 5,
    });
  });

  it("follows the queue schedule and fails once it is spent", () => {
    expect(
      nextStep(noResponse("timeout"), { attemptsThisRun: 1, queueRetriesSpent: 1 }, config, noJitter),
    ).toEqual({
      kind: "retry_queue",
      delaySeconds: 300,
    });
    expect(nextStep(response(502), { attemptsThisRun: 1, queueRetriesSpent: 3 }, config, noJitter)).toEqual({
      kind: "failed",
      reason: "retries exhausted: HTTP 502",
    });
  });

  it("fails at once, with its reason, when the request could not be made", () => {
    const refused: AttemptResult = {
      startedAt: "2026-01-01T00:00:00.000Z",
      durationMs: 0,
      invalidRequest: true,
      error: 'invalid_request: header "X-Bad" has a value the runtime refuses',
    };
    expect(classifyAttempt(refused)).toBe("permanent");
    expect(nextStep(refused, { attemptsThisRun: 1, queueRetriesSpent: 0 }, config, noJitter)).toEqual({
      kind: "failed",
      reason: 'invalid_request: header "X-Bad" has a value the runtime refuses',
    });
  });

  it("fails at once on a non-retryable status", () => {
    expect(nextStep(response(410), { attemptsThisRun: 1, queueRetriesSpent: 0 }, config, noJitter)).toEqual({
      kind: "failed",
      reason: "HTTP 410",
    });
  });

  it("honours Retry-After on 429/503, bounded by the schedule's longest step", () => {
    const first = { attemptsThisRun: 1, queueRetriesSpent: 0 };
    expect(nextStep(response(429, 60), first, config, noJitter)).toEqual({
      kind: "retry_queue",
      delaySeconds: 60,
    });
    expect(nextStep(response(503, 999_999), first, config, noJitter)).toEqual({
      kind: "retry_queue",
      delaySeconds: 1800,
    });
    // Short enough to wait for inline.
    expect(nextStep(response(429, 0), first, config, noJitter)).toEqual({
      kind: "retry_inline",
      delayMs: 200,
    });
    // Only 429 and 503 carry a meaningful Retry-After.
    expect(nextStep(response(500, 60), first, config, noJitter)).toEqual({
      kind: "retry_inline",
      delayMs: 200,
    });
  });
});

describe("jitter", () => {
  it("moves every scheduled retry by at most ±10%, in whole seconds, but never a Retry-After", () => {
    const queued = { attemptsThisRun: 1, queueRetriesSpent: 1 };
    const at = (random: number) => nextStep(noResponse("timeout"), queued, config, () => random);
    expect(at(0)).toEqual({ kind: "retry_queue", delaySeconds: 270 });
    expect(at(0.999_999)).toEqual({ kind: "retry_queue", delaySeconds: 330 });
    const asked = nextStep(response(429, 60), { attemptsThisRun: 1, queueRetriesSpent: 0 }, config, () => 0);
    expect(asked).toEqual({ kind: "retry_queue", delaySeconds: 60 });
  });

  it("spreads retries that fell due together over the whole window", () => {
    const delays = Array.from({ length: 500 }, () => jittered(3600, Math.random));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(3600 * (1 - RETRY_JITTER));
    expect(Math.max(...delays)).toBeLessThanOrEqual(3600 * (1 + RETRY_JITTER));
    // 500 draws over 721 possible seconds: far more than a handful of distinct delays.
    expect(new Set(delays).size).toBeGreaterThan(200);
  });

  it("keeps a delay at least 1 s and within the queue's largest delay", () => {
    expect(jittered(1, () => 0)).toBe(1);
    expect(jittered(86_400, () => 0.999_999)).toBe(86_400);
  });
});
