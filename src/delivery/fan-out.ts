import { endpointReceives } from "../catalog/filters";
import { type Delivery, insertDelivery } from "../db/deliveries";
import { listActiveEndpoints } from "../db/endpoints";
import { getEventById, markEventFannedOut } from "../db/events";
import { type EventId, fanOutDeliveryId } from "../lib/ids";
import { type DeliveryMessage, type EventMessage, enqueueDeliveries } from "./messages";

/**
 * The `webhook-events` consumer: one pending delivery per matching active endpoint, written in one D1
 * batch with the event's fan-out mark, then one delivery message each. Safe to run twice for an event:
 * delivery ids are derived from (event, endpoint), so a second run inserts nothing new.
 */
export async function fanOutBatch(batch: MessageBatch<EventMessage>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        await fanOutEvent(env, message.body.eventId);
        message.ack();
      } catch (error) {
        console.error(
          JSON.stringify({ message: "fan-out failed", eventId: message.body.eventId, error: String(error) }),
        );
        message.retry();
      }
    }),
  );
}

export async function fanOutEvent(env: Env, eventId: EventId): Promise<void> {
  const event = await getEventById(env.DB, eventId);
  if (!event) return; // removed by retention since it was enqueued: nothing left to deliver
  const endpoints = (await listActiveEndpoints(env.DB, event.organizationId)).filter((endpoint) =>
    endpointReceives(endpoint, event),
  );
  const now = new Date().toISOString();
  const deliveries: Delivery[] = await Promise.all(
    endpoints.map(async (endpoint) => ({
      id: await fanOutDeliveryId(event.id, endpoint.id),
      organizationId: event.organizationId,
      eventId: event.id,
      endpointId: endpoint.id,
      eventType: event.type,
      status: "pending" as const,
      attemptCount: 0,
      nextAttemptAt: now,
      lastStatusCode: null,
      lastError: null,
      replayOf: null,
      createdAt: now,
      deliveredAt: null,
    })),
  );
  await env.DB.batch([
    ...deliveries.map((d) => insertDelivery(env.DB, d)),
    markEventFannedOut(env.DB, event.id, now),
  ]);
  await enqueueDeliveries(
    env.DELIVERIES_QUEUE,
    deliveries.map((d): DeliveryMessage => ({ deliveryId: d.id, endpointId: d.endpointId })),
  );
}
