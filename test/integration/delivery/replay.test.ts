import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { call, callOk, createOrganization, eventually, settledDeliveries } from "../../support/api";
import { givenEndpoint, matter, publishSettled, rotateSecret } from "../../support/fixtures";

describe("replay", () => {
  it("sends the same event again, marked as a replay and signed with the current secret", async () => {
    const { org, receiver, endpoint } = await givenEndpoint();
    const { event, delivery: original } = await publishSettled(org);

    const { signingSecret } = await rotateSecret(org, endpoint.id, 0);
    const { delivery: replay } = await callOk("POST", `/webhooks/v1/deliveries/${original.id}/replay`, 202, {
      token: org.token,
    });
    expect(replay).toMatchObject({ eventId: event.id, replayOf: original.id, status: "pending" });
    expect(replay.id).not.toBe(original.id);

    const [settled] = await settledDeliveries(org.token, `event_id=${event.id}&status=delivered`, 2).then(
      (all) => all.filter((d: { id: string }) => d.id === replay.id),
    );
    expect(settled).toMatchObject({ status: "delivered", replayOf: original.id });

    const [first, again] = await receiver.received();
    expect(again?.headers["webhook-id"]).toBe(event.id);
    expect(again?.headers["webhook-replay-of"]).toBe(original.id);
    expect(first?.headers["webhook-replay-of"]).toBeUndefined();
    expect(JSON.parse(again?.body ?? "")).toEqual(JSON.parse(first?.body ?? ""));
    expect(new Webhook(signingSecret).verify(again?.body ?? "", again?.headers ?? {})).toMatchObject({
      id: event.id,
      occurred_at: event.occurredAt,
    });
  });

  it("can replace the payload, which must still match the type's schema, and marks the replay", async () => {
    const { org, receiver, signingSecret } = await givenEndpoint();
    const { event, delivery: original } = await publishSettled(org);

    const invalid = await call("POST", `/webhooks/v1/deliveries/${original.id}/replay`, {
      token: org.token,
      body: { payload: { matterId: 5 } },
    });
    expect(invalid.status).toBe(422);

    const corrected = { matterId: "matter_1", name: "Corrected name" };
    const { delivery: replay } = await callOk("POST", `/webhooks/v1/deliveries/${original.id}/replay`, 202, {
      token: org.token,
      body: { payload: corrected },
    });
    const received = await eventually(async () => {
      const all = await receiver.received();
      return all.length === 2 ? all : undefined;
    });
    const overridden = received[1];
    // Signed with the real secret, but marked: the data is the caller's, not the event's.
    expect(new Webhook(signingSecret).verify(overridden?.body ?? "", overridden?.headers ?? {})).toEqual({
      id: event.id,
      type: "matter.created",
      occurred_at: event.occurredAt,
      data: corrected,
    });
    expect(overridden?.headers).toMatchObject({
      "webhook-id": event.id,
      "webhook-delivery-id": replay.id,
      "webhook-replay-of": original.id,
      "webhook-payload-override": "true",
    });
    expect(received[0]?.headers["webhook-payload-override"]).toBeUndefined();

    // A replay without an override is not marked as one.
    await callOk("POST", `/webhooks/v1/deliveries/${original.id}/replay`, 202, { token: org.token });
    const plain = await eventually(async () => (await receiver.received())[2]);
    expect(plain.headers["webhook-replay-of"]).toBe(original.id);
    expect(plain.headers["webhook-payload-override"]).toBeUndefined();
    expect(JSON.parse(plain.body).data).toEqual(matter);
  });

  it("is 404 for another organization's delivery", async () => {
    const { org: a } = await givenEndpoint();
    const b = await createOrganization();
    const { delivery } = await publishSettled(a);
    expect(
      (await call("POST", `/webhooks/v1/deliveries/${delivery.id}/replay`, { token: b.token })).status,
    ).toBe(404);
    expect((await call("GET", `/webhooks/v1/deliveries/${delivery.id}`, { token: b.token })).status).toBe(
      404,
    );
  });
});

describe("recover", () => {
  it("replays exactly the endpoint's failed deliveries inside the window", async () => {
    // Before the window: one failure (404 fails at once).
    const { org, receiver, endpoint } = await givenEndpoint({ script: [{ status: 404 }] });
    const { event: early } = await publishSettled(org);
    await eventually(async () => Date.now() > Date.parse(early.occurredAt) + 5, 1_000);
    const since = new Date().toISOString();

    // Inside the window: two failures and one success.
    await receiver.script([{ status: 404 }, { status: 404 }]);
    const { event: failedA } = await publishSettled(org);
    const { event: failedB } = await publishSettled(org);
    await publishSettled(org);
    expect((await receiver.received()).length).toBe(4);

    const { replayed } = await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/recover`, 202, {
      token: org.token,
      body: { since },
    });
    expect(replayed).toBe(2);
    const received = await eventually(async () => {
      const all = await receiver.received();
      return all.length === 6 ? all : undefined;
    });
    expect(
      received
        .slice(4)
        .map((r) => r.headers["webhook-id"])
        .sort(),
    ).toEqual([failedA.id, failedB.id].sort());
    await settledDeliveries(org.token, `endpoint_id=${endpoint.id}`, 6);
  });

  it("replays each failed delivery once per call, never a replay of a replay", async () => {
    const { org, endpoint, receiver } = await givenEndpoint({ fallback: { status: 404 } });
    const { event, delivery: original } = await publishSettled(org);
    const recover = () =>
      callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/recover`, 202, {
        token: org.token,
        body: { since: "2020-01-01T00:00:00Z", until: "2999-01-01T00:00:00Z" },
      });

    // Each call replays the one failed (event, endpoint) once, whatever the calls before it did.
    for (let call = 1; call <= 4; call++) {
      expect(await recover()).toEqual({ replayed: 1, nextCursor: null, limitedBy: null });
      // While that replay is pending, or once it has failed, a call asks nothing more of it twice.
      const settled = await settledDeliveries(org.token, `event_id=${event.id}`, call + 1);
      expect(settled).toHaveLength(call + 1);
    }
    const all = (
      await callOk("GET", `/webhooks/v1/deliveries?event_id=${event.id}`, 200, { token: org.token })
    ).data;
    expect(all.filter((d: { replayOf: string | null }) => d.replayOf === original.id)).toHaveLength(4);
    expect((await receiver.received()).length).toBe(5);

    // Replaying a replay names the original; once that replay is pending or delivered, recover
    // leaves the original alone.
    await receiver.script([{ status: 200 }], { status: 404 });
    const aReplay = all.find((d: { replayOf: string | null }) => d.replayOf !== null);
    const { delivery } = await callOk("POST", `/webhooks/v1/deliveries/${aReplay.id}/replay`, 202, {
      token: org.token,
    });
    expect(delivery.replayOf).toBe(original.id);
    expect((await recover()).replayed).toBe(0);
    const [delivered] = await settledDeliveries(org.token, `event_id=${event.id}&status=delivered`, 1);
    expect(delivered).toMatchObject({ id: delivery.id, replayOf: original.id });
    expect((await recover()).replayed).toBe(0);
  });

  it("counts an `until` in the future as now", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"] });
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
    const problem = await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/recover`, 422, {
      token: org.token,
      body: { since: inAnHour, until: "2999-01-01T00:00:00Z" },
    });
    expect(problem.errors).toEqual([{ path: "since", message: "must be before until, and before now" }]);
  });

  it("validates the window", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"] });
    const path = `/webhooks/v1/endpoints/${endpoint.id}/recover`;
    expect((await call("POST", path, { token: org.token, body: {} })).status).toBe(422);
    expect((await call("POST", path, { token: org.token, body: { since: "yesterday" } })).status).toBe(422);
    const backwards = { since: "2026-01-02T00:00:00Z", until: "2026-01-01T00:00:00Z" };
    expect((await call("POST", path, { token: org.token, body: backwards })).status).toBe(422);
    const since = "2026-01-01T00:00:00Z";
    for (const cursor of ["garbage", "evt_01JTESTTESTTESTTESTTESTTES"]) {
      expect((await call("POST", path, { token: org.token, body: { since, cursor } })).status).toBe(422);
    }
  });
});

describe("test send", () => {
  it("makes one signed attempt and reports the answer, without history", async () => {
    const { org, receiver, endpoint, signingSecret } = await givenEndpoint({
      filters: ["*"],
      script: [{ status: 202, body: "thanks" }],
    });
    const result = await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/test`, 200, {
      token: org.token,
    });
    expect(result).toEqual({
      ok: true,
      statusCode: 202,
      durationMs: expect.any(Number),
      responseBody: "thanks",
    });

    const [request] = await receiver.received();
    const payload = new Webhook(signingSecret).verify(request?.body ?? "", request?.headers ?? {});
    expect(payload).toMatchObject({ type: "webhook.test", data: { message: expect.any(String) } });
    // Marked as a test, with ids no real event or delivery can have.
    expect(request?.headers["webhook-test"]).toBe("true");
    expect(request?.headers["webhook-id"]).toMatch(/^evt_test_[0-9A-Z]{26}$/);
    expect((payload as { id: string }).id).toBe(request?.headers["webhook-id"]);
    expect(request?.headers["webhook-delivery-id"]).toMatch(/^dlv_test_[0-9A-Z]{26}$/);
    expect(request?.headers["webhook-replay-of"]).toBeUndefined();
    expect(
      (await callOk("GET", `/webhooks/v1/deliveries?endpoint_id=${endpoint.id}`, 200, { token: org.token }))
        .data,
    ).toEqual([]);
  });

  it("reports a failure without retrying, and sends a chosen catalog type", async () => {
    const { org, receiver, endpoint } = await givenEndpoint({
      filters: ["*"],
      fallback: { status: 500, body: "broken" },
    });
    const payload = { caseId: "case_9", name: "Test case" };
    const result = await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/test`, 200, {
      token: org.token,
      body: { eventType: "case.created", payload },
    });
    expect(result).toMatchObject({ ok: false, statusCode: 500, responseBody: "broken", error: "HTTP 500" });
    const received = await receiver.received();
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]?.body ?? "")).toMatchObject({ type: "case.created", data: payload });
    expect(received[0]?.headers["webhook-test"]).toBe("true");

    const bad = await call("POST", `/webhooks/v1/endpoints/${endpoint.id}/test`, {
      token: org.token,
      body: { eventType: "case.created", payload: { caseId: 1 } },
    });
    expect(bad.status).toBe(422);
    const unknown = await call("POST", `/webhooks/v1/endpoints/${endpoint.id}/test`, {
      token: org.token,
      body: { eventType: "nope.nope" },
    });
    expect(unknown.status).toBe(422);
  });
});
