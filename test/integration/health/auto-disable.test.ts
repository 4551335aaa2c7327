import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { callOk, eventually, publish, settledDeliveries } from "../../support/api";
import { consume, publishCaptured } from "../../support/consumers";
import { batchOf } from "../../support/faults";
import {
  endpointBecomes,
  givenEndpoint,
  healthObject,
  healthOf,
  matter,
  publishSettled,
} from "../../support/fixtures";

// The health project's vars: auto-disable after a streak of 2 s with at least 4 failed attempts, a
// warning (wrangler.toml's FAILING_WARNING_FRACTION, 0.5) after 1 s and 2 failures.

describe("auto-disable", () => {
  it("disables a failing endpoint after exactly the configured streak, tells the org, and stops calling it", async () => {
    const { org, receiver: failing, endpoint } = await givenEndpoint({ fallback: { status: 500 } });
    const watcher = (await givenEndpoint({ org, filters: ["*"] })).receiver;
    const started = Date.now();
    const event = await publish(org.id, "matter.created", matter);

    const disabled = await endpointBecomes(org, endpoint.id, "auto_disabled", 20_000);
    // Attempts at ~0 s and ~0.1 s (inline), then ~1.1 s and ~2.2 s (queue): the 4th failure is the
    // first moment both conditions hold.
    expect(disabled.disabledReason).toEqual({
      at: expect.any(String),
      failures: 4,
      lastError: "HTTP 500",
      cause: "failing",
    });
    expect(Date.parse(disabled.disabledReason.at) - started).toBeGreaterThanOrEqual(2_000);

    const notice = await eventually(async () => {
      const got = (await watcher.received()).find(
        (r) => JSON.parse(r.body).type === "webhook.endpoint.disabled",
      );
      return got ? JSON.parse(got.body) : undefined;
    });
    expect(notice.data).toEqual({
      endpointId: endpoint.id,
      url: failing.url,
      disabledAt: disabled.disabledReason.at,
      failures: 4,
      lastError: "HTTP 500",
      cause: "failing",
    });

    // Halfway (FAILING_WARNING_FRACTION 0.5: 2 failures, 1 s), the organization was warned, once,
    // before the disable.
    const types = (await watcher.received()).map((r) => JSON.parse(r.body).type);
    expect(types.filter((t) => t === "webhook.endpoint.failing")).toHaveLength(1);
    expect(types.indexOf("webhook.endpoint.failing")).toBeLessThan(
      types.indexOf("webhook.endpoint.disabled"),
    );
    const warning = JSON.parse(
      (await watcher.received()).find((r) => JSON.parse(r.body).type === "webhook.endpoint.failing")?.body ??
        "{}",
    );
    expect(warning.data).toEqual({
      endpointId: endpoint.id,
      url: failing.url,
      failingSince: expect.any(String),
      failures: expect.any(Number),
      lastError: "HTTP 500",
      disableAt: new Date(Date.parse(warning.data.failingSince) + 2_000).toISOString(),
    });
    expect(warning.data.failures).toBeGreaterThanOrEqual(2);
    expect(warning.data.failures).toBeLessThan(4);

    // The retry already queued ends without a request; new events are not fanned out to it.
    const [delivery] = await settledDeliveries(
      org.token,
      `event_id=${event.id}&endpoint_id=${endpoint.id}`,
      1,
      15_000,
    );
    expect(delivery).toMatchObject({ status: "failed", lastError: "endpoint_disabled", attemptCount: 4 });
    const { deliveries: later } = await publishSettled(org);
    expect(later.map((d: { endpointId: string }) => d.endpointId)).not.toContain(endpoint.id);
    expect(await failing.received()).toHaveLength(4);

    expect(await healthOf(org, endpoint.id)).toMatchObject({
      status: "auto_disabled",
      failuresInStreak: 4,
      lastStatusCode: 500,
      lastError: "HTTP 500",
      attemptsLast24h: 4,
      successRateLast24h: 0,
      failingSince: expect.any(String),
      lastFailureAt: expect.any(String),
      lastSuccessAt: null,
    });

    // Re-enabled, it receives new events, and recover replays what failed meanwhile.
    await failing.script([], { status: 200 });
    await callOk("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: org.token,
      body: { status: "active" },
    });
    const afterFix = await publish(org.id, "matter.created", matter);
    await settledDeliveries(org.token, `event_id=${afterFix.id}&endpoint_id=${endpoint.id}`, 1);
    const { replayed } = await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/recover`, 202, {
      token: org.token,
      body: { since: new Date(started).toISOString() },
    });
    expect(replayed).toBe(1);
    await eventually(async () => {
      const ids = (await failing.received()).slice(4).map((r) => r.headers["webhook-id"]);
      return ids.includes(afterFix.id) && ids.includes(event.id) ? ids : undefined;
    });
    expect(await healthOf(org, endpoint.id)).toMatchObject({
      status: "active",
      failuresInStreak: 0,
      disabledReason: null,
      lastStatusCode: 200,
      lastError: null,
    });
  });

  it("disables, through its health object's alarm, an endpoint whose failures stopped before the streak was long enough", async () => {
    const { org, receiver, endpoint } = await givenEndpoint({ fallback: { status: 404 } });
    // Four events in one fan-out run, each delivery failing at once: the streak has its 4 failures
    // but not its 2 s, and no later attempt will come to re-check it.
    const published = [];
    for (let i = 0; i < 4; i++) published.push(await publishCaptured(org.id));
    await consume(
      batchOf(
        "webhook-events",
        published.map((p) => p.message),
      ),
    );
    expect(await receiver.received()).toHaveLength(4);
    const health = await healthOf(org, endpoint.id);
    expect(health).toMatchObject({ status: "active", failuresInStreak: 4 });
    const stub = healthObject(endpoint.id);
    const alarmOf = () => runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    // The first wake-up is the warning's, halfway; the next the disable's.
    expect(await alarmOf()).toBe(Date.parse(health.failingSince) + 1_000);
    await eventually(async () => Date.now() >= Date.parse(health.failingSince) + 1_000, 5_000);
    await runDurableObjectAlarm(stub);
    const alarmAt = await alarmOf();
    expect(alarmAt).toBe(Date.parse(health.failingSince) + 2_000);

    // Once the streak has lasted long enough, the alarm (run here, unless the runtime ran it already)
    // disables the endpoint with nothing else happening.
    await eventually(async () => Date.now() >= (alarmAt ?? 0), 5_000);
    await runDurableObjectAlarm(stub);
    const disabled = await endpointBecomes(org, endpoint.id, "auto_disabled");
    expect(disabled.disabledReason).toEqual({
      at: expect.any(String),
      failures: 4,
      lastError: "HTTP 404",
      cause: "failing",
    });
    expect(Date.parse(disabled.disabledReason.at)).toBeGreaterThanOrEqual(alarmAt ?? 0);
    expect(await receiver.received()).toHaveLength(4);
  });

  it("a single success in the middle resets the streak", async () => {
    // Event 1: three failures, then success. Event 2: three failures, then success. Six failures over
    // more than 2 s would disable the endpoint; the success between them means no streak reaches 4.
    const fails = { status: 500 };
    const { org, endpoint } = await givenEndpoint({
      script: [fails, fails, fails, { status: 200 }, fails, fails, fails],
    });
    await publishSettled(org, { timeout: 15_000 });
    expect(await healthOf(org, endpoint.id)).toMatchObject({
      failuresInStreak: 0,
      lastStatusCode: 200,
      lastError: null,
      successRateLast24h: 0.25,
    });

    const { delivery } = await publishSettled(org, { timeout: 15_000 });
    expect(delivery).toMatchObject({ status: "delivered", attemptCount: 4 });
    expect(await healthOf(org, endpoint.id)).toMatchObject({
      status: "active",
      failuresInStreak: 0,
      attemptsLast24h: 8,
    });
  });
});
