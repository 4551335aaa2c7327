import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { EventMessage } from "../../../src/events/message";
import { publishEvent } from "../../../src/events/publish";
import type { OrganizationId } from "../../../src/lib/ids";
import {
  ADMIN_TOKEN,
  call,
  callOk,
  createOrganization,
  publish,
  publishRpc,
  settledDeliveries,
} from "../../support/api";
import { consume } from "../../support/consumers";
import { batchOf, capturingQueue } from "../../support/faults";
import { givenEndpoint } from "../../support/fixtures";
import { countOfOrganization } from "../../support/shards";

const matter = { matterId: "matter_1", name: "Idempotent" };

describe("publishing with an Idempotency-Key", () => {
  it("returns the first event for the same key and body, and 409 for another body", async () => {
    const { org, receiver } = await givenEndpoint();
    const body = { organizationId: org.id, type: "matter.created", data: matter };
    const headers = { "idempotency-key": "order-42" };

    const first = await call("POST", "/webhooks/v1/events", { token: ADMIN_TOKEN, body, headers });
    expect(first.status).toBe(202);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const { event } = await first.json<{ event: { id: string } }>();

    const again = await call("POST", "/webhooks/v1/events", { token: ADMIN_TOKEN, body, headers });
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await again.json<{ event: { id: string } }>()).event.id).toBe(event.id);

    const conflict = await call("POST", "/webhooks/v1/events", {
      token: ADMIN_TOKEN,
      body: { ...body, data: { ...matter, name: "Other" } },
      headers,
    });
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get("content-type")).toBe("application/problem+json");

    // The same key in another organization is another key.
    const other = await createOrganization();
    await callOk("POST", "/webhooks/v1/events", 202, {
      token: ADMIN_TOKEN,
      body: { ...body, organizationId: other.id },
      headers,
    });

    await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    const stored = await countOfOrganization(org.id, "events");
    expect(stored).toBe(1);
    expect(await receiver.received()).toHaveLength(1);
  });
  it("stores and delivers one event when the same key is published concurrently", async () => {
    const { org, receiver } = await givenEndpoint();
    // Each request sends its message before it stores its event; the losers' messages are kept here.
    const events = capturingQueue<EventMessage>();
    const published = await Promise.all(
      Array.from({ length: 5 }, () =>
        publishEvent(
          { ...env, EVENTS_QUEUE: events.queue },
          {
            organizationId: org.id as OrganizationId,
            type: "matter.created",
            data: matter,
            idempotencyKey: "race-1",
          },
        ),
      ),
    );
    const ids = new Set(published.map((p) => p.event.id));
    expect(ids.size).toBe(1);
    expect(events.sent.length).toBeGreaterThan(1);

    // Fan-out takes every message: the losers' events were never stored and are dropped.
    await consume(batchOf("webhook-events", events.sent));
    expect(await receiver.received()).toHaveLength(1);
    const [delivered] = await receiver.received();
    expect(delivered?.headers["webhook-id"]).toBe([...ids][0]);
    const stored = await countOfOrganization(org.id, "events");
    expect(stored).toBe(1);
  });
});

describe("reading events", () => {
  it("lists the organization's events with filters, and reads one with its deliveries", async () => {
    const org = await createOrganization();
    const other = await createOrganization();
    await givenEndpoint({ org });
    const created = await publish(org.id, "matter.created", matter);
    const updated = await publish(org.id, "matter.updated", { matterId: "matter_1", changes: ["name"] });
    await publish(other.id, "matter.created", matter);

    const all = await callOk("GET", "/webhooks/v1/events", 200, { token: org.token });
    expect(all.data.map((e: { id: string }) => e.id)).toEqual([updated.id, created.id]);
    const filtered = await callOk("GET", "/webhooks/v1/events?event_type=matter.created", 200, {
      token: org.token,
    });
    expect(filtered.data.map((e: { id: string }) => e.id)).toEqual([created.id]);

    await settledDeliveries(org.token, `event_id=${created.id}`, 1);
    const one = await callOk("GET", `/webhooks/v1/events/${created.id}`, 200, { token: org.token });
    expect(one.event).toMatchObject({ id: created.id, type: "matter.created", data: matter });
    expect(one.deliveries).toMatchObject([{ eventId: created.id, status: "delivered" }]);

    expect((await call("GET", `/webhooks/v1/events/${created.id}`, { token: other.token })).status).toBe(404);
  });
});

describe("publishing over RPC (service binding)", () => {
  it("publishes through the Publisher entrypoint with the API's validation", async () => {
    const { org, receiver } = await givenEndpoint();

    const published = await publishRpc({
      organizationId: org.id,
      type: "matter.created",
      data: matter,
    });
    if (!published.ok) throw new Error(published.detail);
    expect(published.event).toMatchObject({
      id: expect.stringMatching(/^evt_/),
      type: "matter.created",
      data: matter,
    });
    await settledDeliveries(org.token, `event_id=${published.event.id}`, 1);
    expect((await receiver.received()).map((r) => r.headers["webhook-id"])).toEqual([published.event.id]);

    const invalid = await publishRpc({
      organizationId: org.id,
      type: "matter.created",
      data: { matterId: 1 },
    });
    expect(invalid).toMatchObject({
      ok: false,
      status: 422,
      errors: expect.arrayContaining([{ path: "data.matterId", message: expect.any(String) }]),
    });
    const unknownOrg = await publishRpc({
      organizationId: "org_nope",
      type: "matter.created",
      data: matter,
    });
    expect(unknownOrg).toMatchObject({ ok: false, status: 422 });

    const request = { organizationId: org.id, type: "matter.created", data: matter, idempotencyKey: "rpc-1" };
    const again = await publishRpc(request);
    const repeat = await publishRpc(request);
    expect(again.ok && repeat.ok && repeat.replayed && repeat.event.id === again.event.id).toBe(true);
  });

  it("takes an orderingKey of 1 to 128 characters, as the HTTP route does", async () => {
    const org = await createOrganization();
    const request = { organizationId: org.id, type: "matter.created", data: matter };
    expect(await publishRpc({ ...request, orderingKey: "k".repeat(128) })).toMatchObject({ ok: true });
    expect(await publish(org.id, "matter.created", matter, { orderingKey: "k" })).toMatchObject({
      type: "matter.created",
    });
    for (const orderingKey of ["", "k".repeat(129)]) {
      expect(await publishRpc({ ...request, orderingKey })).toMatchObject({
        ok: false,
        status: 422,
        errors: [{ path: "orderingKey", message: expect.any(String) }],
      });
    }
  });
});
