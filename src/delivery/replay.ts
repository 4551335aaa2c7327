import { type Delivery, insertDelivery } from "../db/deliveries";
import { newDeliveryId } from "../lib/ids";
import { type DeliveryMessage, enqueueDeliveries } from "./messages";

/**
 * Replays: each original gets a new pending delivery of the same event (same id, type and
 * occurred_at), signed with the endpoint's secrets of the moment and marked with `replayOf`. A
 * `payloadOverride` replaces the event's data in the replay only.
 */
export async function replayDeliveries(
  env: Env,
  originals: readonly Delivery[],
  payloadOverride?: unknown,
): Promise<Delivery[]> {
  if (originals.length === 0) return [];
  const now = new Date().toISOString();
  const replays = originals.map(
    (original): Delivery => ({
      id: newDeliveryId(),
      organizationId: original.organizationId,
      eventId: original.eventId,
      endpointId: original.endpointId,
      eventType: original.eventType,
      status: "pending",
      attemptCount: 0,
      nextAttemptAt: now,
      lastStatusCode: null,
      lastError: null,
      replayOf: original.id,
      createdAt: now,
      deliveredAt: null,
    }),
  );
  await env.DB.batch(replays.map((replay) => insertDelivery(env.DB, { ...replay, payloadOverride })));
  await enqueueDeliveries(
    env.DELIVERIES_QUEUE,
    replays.map((r): DeliveryMessage => ({ deliveryId: r.id, endpointId: r.endpointId })),
  );
  return replays;
}
