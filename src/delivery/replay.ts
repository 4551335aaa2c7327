import { type Delivery, insertReplay } from "../db/deliveries";
import { replayDeliveryId } from "../lib/ids";
import { type DeliveryMessage, sendAll, sweepAfter } from "./messages";

/**
 * Replays: each original gets a new pending delivery of the same event (same id, type and
 * occurred_at), signed with the endpoint's secrets of the moment and marked with `replayOf`. A
 * `payloadOverride` replaces the event's data in the replay only. The rows are written before their
 * messages are sent, marked for the sweeper, so a failed send only delays them.
 */
export async function replayDeliveries(
  env: Env,
  originals: readonly Delivery[],
  payloadOverride?: unknown,
): Promise<Delivery[]> {
  if (originals.length === 0) return [];
  const now = new Date();
  const replays = originals.map(
    (original): Delivery => ({
      id: replayDeliveryId(original.eventId),
      organizationId: original.organizationId,
      eventId: original.eventId,
      endpointId: original.endpointId,
      eventType: original.eventType,
      status: "pending",
      attemptCount: 0,
      nextAttemptAt: now.toISOString(),
      lastStatusCode: null,
      lastError: null,
      replayOf: original.id,
      createdAt: now.toISOString(),
      deliveredAt: null,
    }),
  );
  const sweep = sweepAfter(now.getTime());
  await env.DB.batch(
    replays.map((replay) => insertReplay(env.DB, replay, { payloadOverride, sweepAfter: sweep })),
  );
  try {
    await sendAll(
      env.DELIVERIES_QUEUE,
      replays.map((r) => ({
        body: {
          organizationId: r.organizationId,
          deliveryId: r.id,
          endpointId: r.endpointId,
          eventId: r.eventId,
        } satisfies DeliveryMessage,
      })),
    );
  } catch (error) {
    console.error(
      JSON.stringify({ message: "replay enqueue failed; the sweeper will retry", error: String(error) }),
    );
  }
  return replays;
}
