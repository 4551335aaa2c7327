import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import type { DeliveryMessage } from "../../../src/domain/delivery";
import { callOk, deliveryDetail, publish, receiverChannel, settledDeliveries } from "../../support/api";
import { consume, publishCaptured } from "../../support/consumers";
import { batchOf, capturingQueue } from "../../support/faults";
import { givenEndpoint, matter, publishSettled, type Receiver } from "../../support/fixtures";

describe("delivery, end to end", () => {
  it("delivers a published event once per matching endpoint, signed so standardwebhooks verifies it", async () => {
    const a = await givenEndpoint({ filters: ["matter.created"] });
    const b = await givenEndpoint({ org: a.org, filters: ["matter.*"] });

    const { event, deliveries } = await publishSettled(a.org, { count: 2 });
    expect(deliveries.map((d: { status: string }) => d.status)).toEqual(["delivered", "delivered"]);

    for (const endpoint of [a, b]) {
      const received = await endpoint.receiver.received();
      expect(received).toHaveLength(1);
      const request = received[0];
      const payload = new Webhook(endpoint.signingSecret).verify(request?.body ?? "", request?.headers ?? {});
      expect(payload).toEqual({
        id: event.id,
        type: "matter.created",
        occurred_at: event.occurredAt,
        data: matter,
      });
      expect(request?.headers["webhook-id"]).toBe(event.id);
      expect(request?.headers["content-type"]).toBe("application/json");
      expect(request?.headers["user-agent"]).toMatch(/^edge-webhooks\//);
      expect(request?.headers["webhook-attempt"]).toBe("1");
      expect(request?.headers["webhook-delivery-id"]).toMatch(/^dlv_/);
      // Another endpoint's secret does not verify it.
      const other = endpoint === a ? b : a;
      expect(() =>
        new Webhook(other.signingSecret).verify(request?.body ?? "", request?.headers ?? {}),
      ).toThrow();
    }
  });

  it("delivers exactly the types each filter selects, and nothing to non-matching endpoints", async () => {
    const { org, receiver: exact } = await givenEndpoint({ filters: ["vault.ingest.completed"] });
    const prefix = (await givenEndpoint({ org, filters: ["vault.ingest.*"] })).receiver;
    const all = (await givenEndpoint({ org, filters: ["*"] })).receiver;
    const none = (await givenEndpoint({ org, filters: ["case.*"] })).receiver;

    const vault = { vaultId: "vault_1", objectId: "obj_1", filename: "a.pdf" };
    const completed = await publish(org.id, "vault.ingest.completed", vault);
    const failed = await publish(org.id, "vault.ingest.failed", {
      ...vault,
      error: { code: "x", message: "y" },
    });
    const created = await publish(org.id, "matter.created", matter);
    await settledDeliveries(org.token, "", 6);

    const typesAt = async (receiver: Receiver) =>
      (await receiver.received()).map((r) => JSON.parse(r.body).id).sort();
    expect(await typesAt(exact)).toEqual([completed.id]);
    expect(await typesAt(prefix)).toEqual([completed.id, failed.id].sort());
    expect(await typesAt(all)).toEqual([completed.id, failed.id, created.id].sort());
    expect(await typesAt(none)).toEqual([]);
  });

  it("retries a 500 and ends delivered on the 200 that follows, recording both attempts", async () => {
    const { org, receiver } = await givenEndpoint({ script: [{ status: 500, body: "try again" }] });
    const { event, delivery } = await publishSettled(org);
    const detail = await deliveryDetail(org.token, delivery.id);
    expect(detail).toMatchObject({
      status: "delivered",
      attemptCount: 2,
      lastStatusCode: 200,
      lastError: null,
    });
    expect(detail.attempts).toMatchObject([
      { number: 1, trigger: "initial", statusCode: 500, responseBody: "try again", error: null },
      { number: 2, trigger: "inline_retry", statusCode: 200 },
    ]);
    const received = await receiver.received();
    expect(received.map((r) => r.headers["webhook-attempt"])).toEqual(["1", "2"]);
    expect(new Set(received.map((r) => r.headers["webhook-id"]))).toEqual(new Set([event.id]));
  });

  it("fails a 404 after one attempt, without retrying", async () => {
    const { org, receiver } = await givenEndpoint({ fallback: { status: 404, body: "not here" } });
    const { delivery } = await publishSettled(org);
    const detail = await deliveryDetail(org.token, delivery.id);
    expect(detail).toMatchObject({
      status: "failed",
      attemptCount: 1,
      lastStatusCode: 404,
      lastError: "HTTP 404",
    });
    expect(detail.attempts).toHaveLength(1);
    expect(await receiver.received()).toHaveLength(1);
  });

  it("keeps at most 1 KiB of an answer, whether its length is declared or it is streamed", async () => {
    const long = "x".repeat(10_000);
    const { org } = await givenEndpoint({ fallback: { status: 404, body: long } });
    const chunked = { "transfer-encoding": "chunked" };
    await givenEndpoint({ org, fallback: { status: 404, body: long, headers: chunked } });

    const { deliveries } = await publishSettled(org, { count: 2 });
    for (const delivery of deliveries) {
      const detail = await deliveryDetail(org.token, delivery.id);
      expect(detail.attempts).toMatchObject([{ statusCode: 404, responseBody: long.slice(0, 1024) }]);
    }
  });

  it("settles an answer whose body stops halfway by its status, within the attempt timeout", async () => {
    const { org, receiver } = await givenEndpoint({
      script: [{ status: 200, body: "y".repeat(200), stallBody: true }],
    });
    const { delivery } = await publishSettled(org);
    const detail = await deliveryDetail(org.token, delivery.id);
    expect(detail).toMatchObject({ status: "delivered", attemptCount: 1, lastStatusCode: 200 });
    // Waited for the rest of the body until the timeout (1.5 s in tests), not longer.
    expect(detail.attempts[0].durationMs).toBeLessThan(3_000);
    expect(await receiver.received()).toHaveLength(1);
  });

  it("times out on a receiver that never answers, then retries through the slow lane's queue", async () => {
    // The attempt timeout is 1.5 s (vitest.config.ts): two hanging answers, then success. A timeout in
    // the main lane is not retried inline there: the endpoint goes to the slow lane (lanes.ts), whose
    // runs make the queue retries on the schedule.
    const { org, receiver, endpoint } = await givenEndpoint({
      script: [{ hangMs: 5_000 }, { hangMs: 5_000 }],
    });
    const { delivery } = await publishSettled(org, { timeout: 25_000 });
    const detail = await deliveryDetail(org.token, delivery.id);
    expect(detail).toMatchObject({ status: "delivered", attemptCount: 3 });
    expect(detail.attempts).toMatchObject([
      { number: 1, trigger: "initial", statusCode: null, error: "timeout" },
      { number: 2, trigger: "queue_retry", statusCode: null, error: "timeout" },
      { number: 3, trigger: "queue_retry", statusCode: 200, error: null },
    ]);
    expect(detail.attempts[0].durationMs).toBeGreaterThanOrEqual(1_400);
    const received = await receiver.received();
    // The queue retry waited for the schedule's first step (1 s) after the first attempt.
    expect((received[1]?.receivedAt ?? 0) - (received[0]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(
      1_000 + 1_400,
    );
    // Answering at once again, in the slow lane, it is back in the main lane.
    const lane = await env.DB.prepare("SELECT slow_until FROM endpoints WHERE id = ?")
      .bind(endpoint.id)
      .first<string>("slow_until");
    expect(lane).toBeNull();
  });

  it("fails once the retry schedule is spent, with every attempt recorded", async () => {
    const { org, receiver } = await givenEndpoint({ fallback: { status: 503 } });
    const { delivery } = await publishSettled(org, { timeout: 25_000 });
    const detail = await deliveryDetail(org.token, delivery.id);
    // initial + 1 inline retry + 2 queue retries (RETRY_SCHEDULE_SECONDS=1,1 in tests).
    expect(detail).toMatchObject({
      status: "failed",
      attemptCount: 4,
      lastError: "retries exhausted: HTTP 503",
    });
    expect(detail.attempts.map((a: { trigger: string }) => a.trigger)).toEqual([
      "initial",
      "inline_retry",
      "queue_retry",
      "queue_retry",
    ]);
    expect(await receiver.received()).toHaveLength(4);
  });

  it("follows the endpoint's own retrySchedule instead of the service's", async () => {
    // One step instead of RETRY_SCHEDULE_SECONDS' two: initial + 1 inline retry + 1 queue retry.
    const { org, receiver } = await givenEndpoint({ fallback: { status: 503 }, retrySchedule: [1] });
    const { delivery } = await publishSettled(org, { timeout: 25_000 });
    expect(await deliveryDetail(org.token, delivery.id)).toMatchObject({
      status: "failed",
      attemptCount: 3,
      lastError: "retries exhausted: HTTP 503",
    });
    expect(await receiver.received()).toHaveLength(3);

    // A long step is waited, ±10% jitter, where the service's schedule would retry within seconds.
    const { org: patient } = await givenEndpoint({ fallback: { status: 503 }, retrySchedule: [3600] });
    const { event, message } = await publishCaptured(patient.id);
    const before = Date.now();
    await consume(batchOf("webhook-events", [message]));
    const after = Date.now();
    const [pending] = (
      await callOk("GET", `/webhooks/v1/deliveries?event_id=${event.id}`, 200, { token: patient.token })
    ).data;
    expect(pending).toMatchObject({ status: "pending", attemptCount: 2 });
    const due = Date.parse(pending.nextAttemptAt);
    expect(due).toBeGreaterThanOrEqual(before + 3240_000);
    expect(due).toBeLessThanOrEqual(after + 3960_000);
  });

  it("does not follow redirects: a 3xx fails the delivery", async () => {
    const target = receiverChannel();
    const { org } = await givenEndpoint({ fallback: { status: 302, headers: { location: target.url } } });
    const { delivery } = await publishSettled(org);
    expect(delivery).toMatchObject({ status: "failed", lastStatusCode: 302 });
    expect(await target.received()).toHaveLength(0);
  });

  it("ends a queued retry whose endpoint was deleted meanwhile as endpoint_deleted, without a request", async () => {
    const { org, receiver, endpoint } = await givenEndpoint({ script: [{ status: 500 }, { status: 500 }] });
    const { event, message } = await publishCaptured(org.id);
    const retries = capturingQueue<DeliveryMessage>();
    await consume(batchOf("webhook-events", [message]), { ...env, DELIVERIES_QUEUE: retries.queue });
    expect(retries.sent).toHaveLength(1);

    await callOk("DELETE", `/webhooks/v1/endpoints/${endpoint.id}`, 204, { token: org.token });
    expect(await consume(batchOf("webhook-deliveries", retries.sent))).toEqual({ acked: 1, retried: 0 });
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery).toMatchObject({ status: "failed", lastError: "endpoint_deleted", attemptCount: 2 });
    expect(await receiver.received()).toHaveLength(2);
  });

  it("waits at most a day (86,400 s, the longest delay Queues accepts) for a retry, whatever the schedule", async () => {
    const { org } = await givenEndpoint({ fallback: { status: 503 } });
    const { event, message } = await publishCaptured(org.id);
    const before = Date.now();
    await consume(batchOf("webhook-events", [message]), { ...env, RETRY_SCHEDULE_SECONDS: "200000" });
    const after = Date.now();
    const [delivery] = (
      await callOk("GET", `/webhooks/v1/deliveries?event_id=${event.id}`, 200, { token: org.token })
    ).data;
    expect(delivery).toMatchObject({ status: "pending", attemptCount: 2 });
    // The day, less at most the 10% jitter (delivery/retry-policy.ts), never more.
    const due = Date.parse(delivery.nextAttemptAt);
    expect(due).toBeGreaterThanOrEqual(before + 77_760_000);
    expect(due).toBeLessThanOrEqual(after + 86_400_000);
  });

  it("stops delivering to a deleted endpoint but keeps its history", async () => {
    const { org, receiver: deleted, endpoint } = await givenEndpoint();
    const { event: first } = await publishSettled(org);

    await callOk("DELETE", `/webhooks/v1/endpoints/${endpoint.id}`, 204, { token: org.token });
    await givenEndpoint({ org });
    // Once the live endpoint has the second event, fan-out is done: the deleted one got nothing.
    const { delivery: secondDelivery } = await publishSettled(org);
    expect(secondDelivery.endpointId).not.toBe(endpoint.id);
    expect((await deleted.received()).map((r) => JSON.parse(r.body).id)).toEqual([first.id]);

    const history = await callOk("GET", `/webhooks/v1/deliveries?endpoint_id=${endpoint.id}`, 200, {
      token: org.token,
    });
    expect(history.data).toMatchObject([{ eventId: first.id, status: "delivered" }]);
    await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}`, 404, { token: org.token });
  });
});
