import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, callOk, deliveryDetail, settledDeliveries } from "../../support/api";
import { givenEndpoint, matter } from "../../support/fixtures";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

/** Publishes through the HTTP API with the publisher's own `traceparent`, if any. */
async function publishTraced(orgId: string, traceparent?: string) {
  const { event } = await callOk("POST", "/webhooks/v1/events", 202, {
    token: ADMIN_TOKEN,
    body: { organizationId: orgId, type: "matter.created", data: matter },
    headers: traceparent ? { traceparent } : {},
  });
  return event;
}

describe("trace context", () => {
  it("continues the publisher's trace on every attempt, each attempt a span of its own", async () => {
    const { org, receiver } = await givenEndpoint({ script: [{ status: 500 }, { status: 500 }] });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const event = await publishTraced(org.id, `00-${traceId}-00f067aa0ba902b7-01`);
    // Initial, inline retry, then a queue retry in a later run: one trace throughout.
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1, 20_000);
    const sent = (await receiver.received()).map((r) => TRACEPARENT.exec(r.headers.traceparent ?? ""));
    expect(sent).toHaveLength(3);
    expect(sent.map((m) => m?.[1])).toEqual([traceId, traceId, traceId]);
    const spans = sent.map((m) => m?.[2]);
    expect(new Set([...spans, "00f067aa0ba902b7"]).size).toBe(4);

    // The record says so too: the delivery's trace, and each attempt's span as it was sent.
    const detail = await deliveryDetail(org.token, delivery.id);
    expect(detail.traceId).toBe(traceId);
    expect(detail.attempts.map((a: { traceId: string }) => a.traceId)).toEqual([traceId, traceId, traceId]);
    expect(detail.attempts.map((a: { spanId: string }) => a.spanId)).toEqual(spans);
  });

  it("starts a new trace for an event published without one, or with a malformed one", async () => {
    const { org, receiver } = await givenEndpoint();
    await publishTraced(org.id);
    await publishTraced(org.id, "00-00000000000000000000000000000000-00f067aa0ba902b7-01");
    await settledDeliveries(org.token, "", 2);
    const traces = (await receiver.received()).map((r) => TRACEPARENT.exec(r.headers.traceparent ?? "")?.[1]);
    expect(traces).toHaveLength(2);
    for (const trace of traces) expect(trace).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    expect(traces[0]).not.toBe(traces[1]);
  });
});
