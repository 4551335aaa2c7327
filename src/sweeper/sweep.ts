import { listEventsAwaitingFanOut } from "../db/events";
import { type EventMessage, QUEUE_SEND_BATCH_LIMIT } from "../delivery/messages";
import { ID_PREFIX, idAt } from "../lib/ids";

/** An event is presumed lost once it has waited this long for fan-out. */
const FAN_OUT_GRACE_MS = 2 * 60_000;
const SWEEP_LIMIT = QUEUE_SEND_BATCH_LIMIT;

/**
 * The cron trigger's job: re-enqueue events that were stored but whose queue send failed or whose
 * message was lost. Fan-out is idempotent, so a re-sent event that was only slow does no harm.
 */
export async function sweep(env: Env, now: number): Promise<{ eventsRequeued: number }> {
  const lost = await listEventsAwaitingFanOut(
    env.DB,
    idAt(ID_PREFIX.event, now - FAN_OUT_GRACE_MS),
    SWEEP_LIMIT,
  );
  if (lost.length > 0) {
    await env.EVENTS_QUEUE.sendBatch(lost.map((eventId) => ({ body: { eventId } satisfies EventMessage })));
    console.log(JSON.stringify({ message: "sweeper re-enqueued events", count: lost.length }));
  }
  return { eventsRequeued: lost.length };
}
