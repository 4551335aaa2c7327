import { randomBytes } from "./base64";

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): an event's trace id, taken from its
 * publisher's `traceparent` or made new, and a new span id for each delivery attempt, sent as the
 * attempt's own `traceparent`, so an operator follows one event from the publisher's request to
 * every receiver's (docs/architecture.md#trace-context).
 */
export type TraceId = string;

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const VERSION_INVALID = "ff";

/**
 * The trace id of a `traceparent` header, or null when there is none or it is malformed: the
 * all-zero ids and version `ff` are invalid; a later version's value is read by its first four
 * fields, as the spec asks.
 */
export function traceIdOf(traceparent: string | null | undefined): TraceId | null {
  if (!traceparent) return null;
  const value = traceparent.trim();
  const match = TRACEPARENT.exec(value.length > 55 && value[55] === "-" ? value.slice(0, 55) : value);
  if (!match) return null;
  const [, version, traceId, spanId] = match as unknown as [string, string, string, string];
  if (version === VERSION_INVALID || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  if (version === "00" && value.length !== 55) return null;
  return traceId;
}

export const newTraceId = (): TraceId => hex(randomBytes(16));
export const newSpanId = (): string => hex(randomBytes(8));

/** The `traceparent` of one attempt: the event's trace, the attempt's span, sampled. */
export const traceparentOf = (traceId: TraceId, spanId: string) => `00-${traceId}-${spanId}-01`;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
