import { listDeliveriesToSweep, postponeDeliverySweep } from "../db/deliveries/maintenance";
import { type EventToSweep, failEventFanOut, listEventsToSweep, postponeEventSweep } from "../db/events";
import { historyOf, type Shard, shards } from "../db/shards";
import { storedDeliveryMessage } from "../delivery/job";
import type { EventMessage } from "../events/message";
import { QUEUE_SEND_BATCH_LIMIT, SWEEP_GRACE_MS, sendAll, sweepAfter } from "../lib/queue";

/** Per cron run and kind; a bigger backlog drains over the following runs. */
const SWEEP_LIMIT = 10 * QUEUE_SEND_BATCH_LIMIT;

/**
 * Re-sends of one event after which its fan-out is given up: `failed`, with the reason, at
 * `GET /webhooks/v1/events/{id}`. Each re-send waits twice as long as the one before (4 minutes,
 * then 8, …), so the last comes about 17 hours after the publish: an outage of D1 or Queues that
 * long is survived, a poison event stops costing anything.
 */
export const MAX_EVENT_SWEEPS = 8;

export type SweepReport = { eventsRequeued: number; eventsGivenUp: number; deliveriesRequeued: number };

/**
 * The outbox sweep (cron trigger): sends again the events not fanned out in time (every event is
 * stored due for it until fan-out marks it done, whatever became of its message: a failed send, a
 * lost, unreadable or dead-lettered message) and the pending deliveries no message picked up. Both
 * are safe to send twice: fan-out skips what has a row, and a delivery's lease keeps a duplicate
 * message from attempting it while another run does.
 */
export async function sweep(env: Env, now: number): Promise<SweepReport> {
  const report: SweepReport = { eventsRequeued: 0, eventsGivenUp: 0, deliveriesRequeued: 0 };
  // Shard by shard, each on its own: one that cannot be read or written waits for the next run alone.
  for (const shard of shards(env)) {
    try {
      const swept = await sweepShard(env, shard, now);
      report.eventsRequeued += swept.eventsRequeued;
      report.eventsGivenUp += swept.eventsGivenUp;
      report.deliveriesRequeued += swept.deliveriesRequeued;
    } catch (error) {
      console.error(JSON.stringify({ message: "sweep failed", shard: shard.index, error: String(error) }));
    }
  }
  if (report.eventsRequeued + report.eventsGivenUp + report.deliveriesRequeued > 0)
    console.log(JSON.stringify({ message: "sweeper re-enqueued", ...report }));
  return report;
}

async function sweepShard(env: Env, shard: Shard, now: number): Promise<SweepReport> {
  const history = await historyOf(env, shard);
  const { db } = history;
  const at = new Date(now).toISOString();
  const events = await listEventsToSweep(history, at, SWEEP_LIMIT);
  const givenUp = events.filter((e) => e.sweeps >= MAX_EVENT_SWEEPS);
  const resent = events.filter((e) => e.sweeps < MAX_EVENT_SWEEPS);
  if (givenUp.length > 0) {
    const reason = `fan-out did not complete after ${MAX_EVENT_SWEEPS} re-sends`;
    await db.batch(givenUp.map((e) => failEventFanOut(history, e, reason)));
    console.error(JSON.stringify({ message: "event fan-out given up", events: givenUp.map((e) => e.id) }));
  }
  if (resent.length > 0) {
    await sendAll(
      env.EVENTS_QUEUE,
      resent.map(({ organizationId, id }) => ({
        body: { organizationId, eventId: id } satisfies EventMessage,
      })),
    );
    await db.batch(resent.map((e) => postponeEventSweep(history, e, nextEventSweep(e, now))));
  }
  const deliveries = await listDeliveriesToSweep(history, at, SWEEP_LIMIT);
  if (deliveries.length > 0) {
    await sendAll(
      env.DELIVERIES_QUEUE,
      deliveries.map((d) => ({ body: storedDeliveryMessage(d) })),
    );
    // Consuming the message clears the mark; if this one is lost too, the next sweep after this one tries again.
    const again = sweepAfter(now);
    await db.batch(deliveries.map((d) => postponeDeliverySweep(history, d, again)));
  }
  return {
    eventsRequeued: resent.length,
    eventsGivenUp: givenUp.length,
    deliveriesRequeued: deliveries.length,
  };
}

/** The re-sent event is due again after twice the wait before this re-send. */
const nextEventSweep = (e: EventToSweep, now: number) =>
  new Date(now + SWEEP_GRACE_MS * 2 ** (e.sweeps + 1)).toISOString();
