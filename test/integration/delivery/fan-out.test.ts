import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { fanOut } from "../../../src/delivery/fan-out";
import type { DeliveryMessage, EventMessage } from "../../../src/delivery/messages";
import { publishEvent } from "../../../src/delivery/publish";
import worker from "../../../src/index";
import type { OrganizationId } from "../../../src/lib/ids";
import { createEndpoint, createOrganization, receiverChannel, settledDeliveries } from "../../support/api";
import { batchOf, capturingQueue } from "../../support/faults";

/** Publishes through publishEvent, keeping the event's queue message for the test to consume. */
async function publishCaptured(organizationId: string, type: string, data: unknown) {
  const events = capturingQueue<EventMessage>();
  const { event } = await publishEvent(
    { ...env, EVENTS_QUEUE: events.queue },
    { organizationId: organizationId as OrganizationId, type, data },
  );
  return { event, message: events.sent[0] as EventMessage };
}

describe("fan-out", () => {
  it("makes first attempts itself up to its limit and hands the rest to the deliveries queue", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    for (let i = 0; i < 3; i++) {
      await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
    }
    const { event, message } = await publishCaptured(org.id, "matter.created", { matterId: "m", name: "n" });
    const deliveries = capturingQueue<DeliveryMessage>();
    await fanOut({ ...env, DELIVERIES_QUEUE: deliveries.queue }, [message], 1);
    expect(await receiver.received()).toHaveLength(1);
    expect(deliveries.sent).toHaveLength(2);
    expect(deliveries.sent.every((m) => m.first?.event?.occurredAt === event.occurredAt)).toBe(true);

    await worker.queue(batchOf("webhook-deliveries", deliveries.sent) as MessageBatch, env);
    const settled = await settledDeliveries(org.token, `event_id=${event.id}`, 3);
    expect(settled.map((d: { status: string }) => d.status)).toEqual(["delivered", "delivered", "delivered"]);
    expect(await receiver.received()).toHaveLength(3);
  });

  it("reads an event too large to ride in its queue message from D1", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    const { signingSecret } = await createEndpoint(org.token, {
      url: receiver.url,
      eventTypeFilters: ["webhook.test"],
    });
    const data = { blob: "x".repeat(130_000) };
    const { event, message } = await publishCaptured(org.id, "webhook.test", data);
    expect(message).toEqual({ organizationId: org.id, eventId: event.id });

    await worker.queue(batchOf("webhook-events", [message]) as MessageBatch, env);
    const [delivery] = await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    expect(delivery.status).toBe("delivered");
    const [request] = await receiver.received();
    const body = new Webhook(signingSecret).verify(request?.body ?? "", request?.headers ?? {});
    expect(body).toMatchObject({ id: event.id, data });
  });
});
