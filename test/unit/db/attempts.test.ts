import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeAttempts, encodeAttempts } from "../../../src/db/deliveries/attempts";
import { ATTEMPT_TRIGGERS, type Attempt } from "../../../src/domain/delivery";

const delivered: Attempt = {
  number: 1,
  trigger: "initial",
  startedAt: "2026-12-01T04:56:34.512Z",
  durationMs: 40,
  statusCode: 200,
  error: null,
  responseBody: "",
  traceId: "6ac74387b109c918ec8c3e1530b7739f",
  spanId: "e0d7a0765e56babd",
};

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length });

const anAttempt: fc.Arbitrary<Attempt> = fc.record(
  {
    number: fc.integer({ min: 1, max: 40 }),
    trigger: fc.constantFrom(...ATTEMPT_TRIGGERS),
    startedAt: fc.oneof(
      fc
        .date({ min: new Date(0), max: new Date(Date.UTC(2200, 0)), noInvalidDate: true })
        .map((d) => d.toISOString()),
      fc.string(),
    ),
    durationMs: fc.nat(),
    statusCode: fc.option(fc.integer({ min: 100, max: 599 })),
    error: fc.option(fc.string()),
    responseBody: fc.option(fc.string()),
    traceId: hex(32),
    spanId: hex(16),
  },
  { requiredKeys: ["number", "trigger", "startedAt", "durationMs", "statusCode", "error", "responseBody"] },
);

describe("a delivery row's attempts", () => {
  it("come back as they were written, whatever they hold", () => {
    fc.assert(
      fc.property(fc.array(anAttempt, { maxLength: 5 }), (attempts) => {
        expect(decodeAttempts(encodeAttempts(attempts))).toEqual(attempts);
      }),
    );
  });

  it("take under 100 bytes for a delivered first attempt, half what the object form took", () => {
    const stored = encodeAttempts([delivered]);
    expect(stored.length).toBeLessThan(100);
    expect(JSON.stringify([delivered]).length).toBeGreaterThan(2 * stored.length);
  });

  it("are read from rows written as objects before", () => {
    const legacy = { ...delivered, traceId: undefined, spanId: undefined, responseBody: "ok" };
    const written = JSON.stringify([legacy, { ...delivered, number: 2, trigger: "inline_retry" }]);
    expect(decodeAttempts(written)).toEqual([
      { ...delivered, responseBody: "ok", traceId: undefined, spanId: undefined },
      { ...delivered, number: 2, trigger: "inline_retry" },
    ]);
    expect(decodeAttempts("[]")).toEqual([]);
  });
});
