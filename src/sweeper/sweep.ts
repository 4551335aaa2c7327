import { listOverdueDeliveries } from "../db/deliveries";
import { listEventsAwaitingFanOut } from "../db/events";
import {
  type DeliveryMessage,
  type EventMessage,
  enqueueDeliveries,
  QUEUE_SEND_BATCH_LIMIT,
} from "../delivery/messages";
import { ID_PREFIX, idAt } from "../lib/ids";

/** Work is presumed lost once it has waited this long past its time. */
export const SWEEP_GRACE_MS = 2 * 60_000;
/** Per cron run and kind; a bigger backlog drains over the following runs. */
const SWEEP_LIMIT = 10 * QUEUE_SEND_BATCH_LIMIT;

export type SweepReport = { eventsRequeued: number; deliveriesRequeued: number };

/**
 * The outbox sweep (cron trigger): re-enqueues events that were stored but never fanned out (their
 * queue send failed or the message was lost) and pending deliveries that are overdue with no consumer
 * run holding them. Both are safe to send twice: fan-out is idempotent, and a delivery's lease keeps
 * a duplicate message from attempting it while another run does.
 */
export async function sweep(env: Env, now: number): Promise<SweepReport> {
  const cutoff = now - SWEEP_GRACE_MS;
  const events = await listEventsAwaitingFanOut(env.DB, idAt(ID_PREFIX.event, cutoff), SWEEP_LIMIT);
  for (let i = 0; i < events.length; i += QUEUE_SEND_BATCH_LIMIT) {
    await env.EVENTS_QUEUE.sendBatch(
      events
        .slice(i, i + QUEUE_SEND_BATCH_LIMIT)
        .map((eventId) => ({ body: { eventId } satisfies EventMessage })),
    );
  }
  const deliveries = await listOverdueDeliveries(env.DB, new Date(cutoff).toISOString(), SWEEP_LIMIT);
  await enqueueDeliveries(
    env.DELIVERIES_QUEUE,
    deliveries.map((d): DeliveryMessage => ({ deliveryId: d.id, endpointId: d.endpointId })),
  );
  const report = { eventsRequeued: events.length, deliveriesRequeued: deliveries.length };
  if (events.length + deliveries.length > 0)
    console.log(JSON.stringify({ message: "sweeper re-enqueued", ...report }));
  return report;
}
