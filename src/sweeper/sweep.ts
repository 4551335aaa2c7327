import { type DeliveryToSweep, listDeliveriesToSweep, postponeDeliverySweep } from "../db/deliveries";
import { clearEventSweep, listEventsToSweep } from "../db/events";
import {
  type DeliveryMessage,
  type EventMessage,
  QUEUE_SEND_BATCH_LIMIT,
  sendAll,
  sweepAfter,
} from "../delivery/messages";

/** Per cron run and kind; a bigger backlog drains over the following runs. */
const SWEEP_LIMIT = 10 * QUEUE_SEND_BATCH_LIMIT;

export type SweepReport = { eventsRequeued: number; deliveriesRequeued: number };

/**
 * The outbox sweep (cron trigger): sends the events and pending deliveries whose `sweep_after` has
 * passed — stored, but no queue message is known to carry them (a failed send, a lost message). Both
 * are safe to send twice: fan-out skips what has a row, and a delivery's lease keeps a duplicate
 * message from attempting it while another run does.
 */
export async function sweep(env: Env, now: number): Promise<SweepReport> {
  const at = new Date(now).toISOString();
  const events = await listEventsToSweep(env.DB, at, SWEEP_LIMIT);
  if (events.length > 0) {
    await sendAll(
      env.EVENTS_QUEUE,
      events.map(({ organizationId, id }) => ({
        body: { organizationId, eventId: id } satisfies EventMessage,
      })),
    );
    await env.DB.batch(events.map((e) => clearEventSweep(env.DB, e.organizationId, e.id)));
  }
  const deliveries = await listDeliveriesToSweep(env.DB, at, SWEEP_LIMIT);
  if (deliveries.length > 0) {
    await sendAll(
      env.DELIVERIES_QUEUE,
      deliveries.map((d) => ({ body: retryMessage(d) })),
    );
    // Consuming the message clears the mark; if this one is lost too, the next sweep after this one tries again.
    const again = sweepAfter(now);
    await env.DB.batch(deliveries.map((d) => postponeDeliverySweep(env.DB, d, again)));
  }
  const report = { eventsRequeued: events.length, deliveriesRequeued: deliveries.length };
  if (events.length + deliveries.length > 0)
    console.log(JSON.stringify({ message: "sweeper re-enqueued", ...report }));
  return report;
}

const retryMessage = (d: DeliveryToSweep): DeliveryMessage => ({
  organizationId: d.organizationId,
  deliveryId: d.id,
  endpointId: d.endpointId,
  eventId: d.eventId,
});
