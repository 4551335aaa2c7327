import { describe, expect, it } from "vitest";
import { newSpanId, newTraceId, traceIdOf, traceparentOf } from "../../../src/lib/trace";

describe("W3C trace context", () => {
  it("reads the trace id of a valid traceparent, a later version's by its first fields", () => {
    expect(traceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toBe(
      "4bf92f3577b34da6a3ce929d0e0e4736",
    );
    expect(traceIdOf(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ")).toBe(
      "4bf92f3577b34da6a3ce929d0e0e4736",
    );
    expect(traceIdOf("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next")).toBe(
      "4bf92f3577b34da6a3ce929d0e0e4736",
    );
  });

  it("refuses what the spec calls invalid, so the event starts a trace of its own", () => {
    for (const invalid of [
      undefined,
      "",
      "garbage",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    ]) {
      expect(traceIdOf(invalid), String(invalid)).toBeNull();
    }
  });

  it("makes new ids in the header's format", () => {
    const header = traceparentOf(newTraceId(), newSpanId());
    expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(traceIdOf(header)).toBe(header.slice(3, 35));
    expect(newTraceId()).not.toBe(newTraceId());
  });
});
